"""`fit_one_cycle`: the range test, its choice of peak and weight decay, and one cycle, in one call.

fastai's `learn.fit_one_cycle` for Keras: with `lr_max=None` (and/or `weight_decay=None`) it runs
`lr_find` on the same data, lets the range test choose (`RangeTestResult.choose_one_cycle`), sets the
optimizer's weight decay and trains one cycle with `OneCycle`.
"""

from __future__ import annotations

import inspect

import keras

from keras_one_cycle_clr import _checks, hyperparams
from keras_one_cycle_clr.callbacks import OneCycle
from keras_one_cycle_clr.range_test import lr_find

# The weight decays a range test tries when `weight_decay=None`.
DEFAULT_WD_LIST = (0.0, 1e-4, 1e-3, 1e-2)
# What the range test shares with the training run it configures: the data as `fit` reads it.
_SHARED_FIT_ARGUMENTS = ("batch_size", "sample_weight", "class_weight", "shuffle", "steps_per_epoch")


def fit_one_cycle(
    model,
    x,
    y=None,
    *,
    epochs,
    lr_max=None,
    weight_decay=None,
    momentum_range=(0.95, 0.85),
    div_factor=25.0,
    range_test=None,
    **fit_kwargs,
):
    """Trains `model` for one cycle of `epochs` epochs, choosing what is not given by a range test.

    With `lr_max` and `weight_decay` given, this is `model.fit(..., callbacks=[OneCycle(...)])` with
    the optimizer's weight decay set. With either left None, a range test (`lr_find`) runs first on
    the same data and the same `fit` arguments, over `DEFAULT_WD_LIST` when `weight_decay` is None,
    with the validation data of the fit when it has some (`validation_data` as arrays or
    `validation_split`); the model is restored bit for bit after it. Its result chooses the peak
    and the weight decay (`RangeTestResult.choose_one_cycle`, the peak for the cycle's length in
    optimizer steps) and stays reachable as `history.range_test` (for `history.range_test.plot()`);
    the choice is `history.one_cycle_choice`.

    Example:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    >>> x, y = np.random.rand(256, 4), np.random.rand(256, 1)
    >>> history = kclr.fit_one_cycle(model, x, y, epochs=2, verbose=0, range_test={"steps": 20})
    >>> sorted(history.history)
    ['learning_rate', 'loss', 'momentum']
    >>> history.one_cycle_choice.peak == history.params["lr_max"]
    True

    Args:
        model: A compiled Keras model.
        x, y: The training data, as for `model.fit`.
        epochs: A Python int >= 1: the length of the cycle.
        lr_max: A Python float > 0: the peak learning rate, or None to let a range test choose it.
            Defaults to None.
        weight_decay: A Python float >= 0: the optimizer's decoupled weight decay for the cycle, or
            None to let a range test choose among `DEFAULT_WD_LIST`. Defaults to None.
        momentum_range: As for `OneCycle`. Defaults to (0.95, 0.85).
        div_factor: A Python float > 1: the cycle starts at `lr_max / div_factor`. Defaults to 25.
        range_test: A dict of `LrRangeTest` arguments for the range test, or None. Defaults to None.
        **fit_kwargs: Every other argument of `model.fit` (`batch_size`, `callbacks`,
            `validation_data`, `class_weight`, ...).

    Returns:
        The `History` of the cycle's fit, with `range_test` (a `RangeTestResult`, or None when
        nothing was chosen) and `one_cycle_choice` (or None) added, and `params["lr_max"]`,
        `params["weight_decay"]`.

    Raises:
        ValueError, TypeError: for an argument outside the ranges above or one `model.fit` does not
            take, before any training.
    """
    if not isinstance(model, keras.Model) or getattr(model, "optimizer", None) is None:
        _checks.fail("model", "a compiled keras.Model", model, TypeError)
    epochs = _checks.check_count("epochs", epochs)
    if lr_max is not None:
        lr_max = _checks.check_positive("lr_max", lr_max)
    if weight_decay is not None:
        weight_decay = _checks.check_number("weight_decay", weight_decay, low=0.0)
    div_factor = _checks.check_number("div_factor", div_factor, low=1.0, low_inclusive=False)
    if range_test is not None and not isinstance(range_test, dict):
        _checks.fail("range_test", "a dict of LrRangeTest arguments, or None", range_test, TypeError)
    unknown = sorted(set(fit_kwargs) - set(inspect.signature(keras.Model.fit).parameters))
    if unknown or "epochs" in fit_kwargs:
        msg = (
            f"fit_one_cycle() got an unexpected keyword argument `{unknown[0]}`: it takes those of model.fit."
        )
        raise TypeError(msg)
    momentum_range = _checks.check_momentum_range("momentum_range", momentum_range)

    result = choice = None
    if lr_max is None or weight_decay is None:
        kwargs = dict(range_test or {})
        kwargs.setdefault("wd_list", DEFAULT_WD_LIST if weight_decay is None else (weight_decay,))
        validation = fit_kwargs.get("validation_data")
        if _are_arrays(validation) and "validation_data" not in kwargs:
            kwargs["validation_data"] = tuple(validation[:2])
        elif fit_kwargs.get("validation_split") and "validation_data" not in kwargs:
            kwargs["validation_split"] = fit_kwargs["validation_split"]
        shared = {k: fit_kwargs[k] for k in _SHARED_FIT_ARGUMENTS if k in fit_kwargs}
        result = lr_find(model, x, y, **shared, **kwargs)
        choice = result.choose_one_cycle()  # its weight decay; the peak waits for the cycle's length
        weight_decay = choice.weight_decay if weight_decay is None else weight_decay

    optimizer = hyperparams.innermost_optimizer(model.optimizer)
    if weight_decay or optimizer.weight_decay is not None:  # None removes decay from the step
        optimizer.weight_decay = weight_decay
    if lr_max is None:  # the peak follows the cycle's length, which fit decides
        one_cycle = OneCycle.from_range_test(result, div_factor=div_factor, momentum_range=momentum_range)
    else:
        one_cycle = OneCycle(lr_range=(lr_max / div_factor, lr_max), momentum_range=momentum_range)
    callbacks = [one_cycle, *(fit_kwargs.pop("callbacks", None) or [])]
    history = model.fit(x, y, epochs=epochs, callbacks=callbacks, **fit_kwargs)
    history.range_test = result
    history.one_cycle_choice = one_cycle.one_cycle_choice or choice
    history.params["lr_max"] = one_cycle.lr_range[1]
    history.params["weight_decay"] = weight_decay
    return history


def _are_arrays(validation):
    return isinstance(validation, (tuple, list)) and len(validation) >= 2 and hasattr(validation[0], "shape")
