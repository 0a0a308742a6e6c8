"""`fit_one_cycle`: the range test, its choice of peak and weight decay, and one cycle, in one call.

fastai's `learn.fit_one_cycle` for Keras: with `lr_max=None` it runs `lr_find` on the same data,
lets the range test choose the peak (and the weight decay, with `weight_decay=None`,
`RangeTestResult.choose_one_cycle`), sets the optimizer's weight decay and trains one cycle with
`OneCycle`.
"""

from __future__ import annotations

import inspect
import warnings

import keras

from keras_one_cycle_clr import _checks, _data, _fit_callbacks, hyperparams
from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr.callbacks import OneCycle
from keras_one_cycle_clr.range_test import LrRangeTest, lr_find

# The weight decays a range test tries when `weight_decay=None`.
DEFAULT_WD_LIST = (0.0, 1e-4, 1e-3, 1e-2)
# fit_one_cycle's range test sweeps the weight-decay grid only when it reads at most this fraction of
# the cycle's batches, else one sweep (fixed by issue 23's cost target before any run; one sweep of
# 500 batches still makes short cycles' whole call 1.45-1.73x a plain fit: BENCHMARKS.md section 9).
RANGE_TEST_BUDGET = 0.25
_DEFAULTS = inspect.signature(LrRangeTest).parameters
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

    With `lr_max` given, this is `model.fit(..., callbacks=[OneCycle(...)])`, with the optimizer's
    weight decay set to `weight_decay`, or left as the optimizer has it when that is None: no range
    test runs (as in fastai's `fit_one_cycle(lr_max=...)`). With `lr_max` None, a range test
    (`lr_find`) runs first on the same data and the same `fit` arguments, over `DEFAULT_WD_LIST`
    when `weight_decay` is None (else that weight decay alone), with the validation data of the fit
    when it has some (`validation_data` as arrays or `validation_split`); the model is restored bit
    for bit after it. A cycle too short for the weight-decay grid (the grid's sweeps would read more
    than a quarter of the cycle's batches: under 8,000, or 9,600 with validation data) gets one
    sweep at the optimizer's own weight decay, which the cycle keeps (`range_test_for_cycle`); a
    `wd_list` in `range_test` is used as given. Its result chooses the peak and the weight decay
    (`RangeTestResult.choose_one_cycle`, the peak for the cycle's length in optimizer steps) and
    stays reachable as `history.range_test`, which knows the choice the cycle trained with
    (`history.range_test.plot()` marks that peak); the choice is `history.one_cycle_choice`.

    Every check that does not need the range test's result runs before it (the arguments, the
    other callbacks, an optimizer without momentum given a `momentum_range`); a call that raises
    leaves the optimizer's weight decay as it was. With `verbose` on (`fit`'s default), the range
    test shows its progress per sweep and a line says which cycle trains and why before it starts.

    Example:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> keras.utils.set_random_seed(0)  # the same example on every run
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
            None: chosen by the range test among `DEFAULT_WD_LIST` when `lr_max` is None, the
            optimizer's own when `lr_max` is given. Defaults to None.
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
            take, another callback that sets the learning rate, or an optimizer without momentum
            given a `momentum_range`, before any training.
        CannotChooseError: when the range test's curves cannot show a peak (a loss that was not
            finite from its first learning rates, a sweep that only rose), before the cycle.
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
    # Every check the cycle's fit would make that can run now runs before the range test.
    others = fit_kwargs.pop("callbacks", None) or []
    if not isinstance(others, (list, tuple)) or not all(
        isinstance(c, keras.callbacks.Callback) for c in others
    ):
        _checks.fail("callbacks", "a list of keras.callbacks.Callback, or None", others, TypeError)
    _fit_callbacks.check_sole_learning_rate_callback(OneCycle, list(others))
    if momentum_range is not None:
        with warnings.catch_warnings():  # an optimizer without a momentum is OneCycle's to warn about
            warnings.simplefilter("ignore")
            hyperparams.momentum_attribute(model.optimizer)  # refuses SGD(momentum=0.0) now
    verbose = fit_kwargs.get("verbose", "auto") not in (0, False)

    result = choice = None
    optimizer = hyperparams.innermost_optimizer(model.optimizer)
    if lr_max is None:
        result = range_test_for_fit(
            model, x, y, epochs=epochs, weight_decay=weight_decay, range_test=range_test, **fit_kwargs
        )
        choice = result.choose_one_cycle()  # its weight decay; the peak waits for the cycle's length
        weight_decay = choice.weight_decay if weight_decay is None else weight_decay
        one_cycle = OneCycle.from_range_test(result, div_factor=div_factor, momentum_range=momentum_range)
    else:  # the peak is given: no range test (as fastai's fit_one_cycle(lr_max=...))
        one_cycle = OneCycle(lr_range=(lr_max / div_factor, lr_max), momentum_range=momentum_range)

    callbacks = [one_cycle, *others]
    if verbose:
        callbacks.insert(1, _AnnounceCycle(one_cycle))
    weight_decay_before = optimizer.weight_decay
    if weight_decay is None:
        weight_decay = weight_decay_before  # the optimizer's own
    elif weight_decay or weight_decay_before is not None:  # None removes decay from the step
        optimizer.weight_decay = weight_decay
    try:
        history = model.fit(x, y, epochs=epochs, callbacks=callbacks, **fit_kwargs)
    except BaseException:
        optimizer.weight_decay = weight_decay_before  # a refused or interrupted call changes nothing of it
        raise
    history.one_cycle_choice = one_cycle.one_cycle_choice or choice
    history.range_test = None if result is None else result.with_one_cycle_choice(history.one_cycle_choice)
    history.params["lr_max"] = one_cycle.lr_range[1]
    history.params["weight_decay"] = weight_decay
    return history


def range_test_for_fit(model, x, y=None, *, epochs, weight_decay=None, range_test=None, **fit_kwargs):
    """The range test `fit_one_cycle` runs before a cycle of `epochs` epochs, and its result.

    `lr_find` on the data and `fit` arguments of the cycle, with its validation data when it has
    some, over `DEFAULT_WD_LIST` when `weight_decay` is None (else that weight decay alone), or one
    sweep at the optimizer's own weight decay when the cycle is too short for that grid
    (`range_test_for_cycle`; a `wd_list` in `range_test` is used as given). The model is restored
    bit for bit after it.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    >>> x, y = np.random.rand(256, 4), np.random.rand(256, 1)
    >>> result = range_test_for_fit(model, x, y, epochs=2, verbose=0, range_test={"steps": 20})
    >>> result.wd_list  # a cycle of 16 batches: one sweep at the optimizer's weight decay
    ()

    Args:
        model: A compiled Keras model.
        x, y: The training data, as for `model.fit`.
        epochs: A Python int >= 1: the cycle's epochs.
        weight_decay: As for `fit_one_cycle`. Defaults to None.
        range_test: As for `fit_one_cycle`. Defaults to None.
        **fit_kwargs: The cycle's `model.fit` arguments; `verbose` shows the range test's progress.

    Returns:
        A `RangeTestResult`.
    """
    kwargs = dict(range_test or {})
    validation = fit_kwargs.get("validation_data")
    if _are_arrays(validation) and "validation_data" not in kwargs:
        kwargs["validation_data"] = tuple(validation[:2])
    elif fit_kwargs.get("validation_split") and "validation_data" not in kwargs:
        kwargs["validation_split"] = fit_kwargs["validation_split"]
    wanted = DEFAULT_WD_LIST if weight_decay is None else (weight_decay,)
    if "wd_list" not in kwargs:
        kwargs["wd_list"] = wanted
        cycle_batches = _cycle_batches(x, epochs, fit_kwargs)
        if cycle_batches is not None:  # unknown: the grid, as before the budget
            kwargs["wd_list"] = range_test_for_cycle(
                cycle_batches,
                wanted,
                steps=kwargs.get("steps"),
                batches_per_step=kwargs.get("batches_per_step"),
                validation=kwargs.get("validation_data") is not None or bool(kwargs.get("validation_split")),
            )
    shared = {k: fit_kwargs[k] for k in _SHARED_FIT_ARGUMENTS if k in fit_kwargs}
    verbose = fit_kwargs.get("verbose", "auto") not in (0, False)
    if verbose:
        compat.print_msg(_range_test_line(kwargs, weight_decay is None, len(kwargs["wd_list"]) < len(wanted)))
    return lr_find(model, x, y, verbose=verbose, **shared, **kwargs)


def range_test_for_cycle(cycle_batches, wd_list, *, steps=None, batches_per_step=None, validation=False):
    """The weight decays a range test sized to a cycle's budget sweeps.

    The range test reads at most `RANGE_TEST_BUDGET` of the cycle's batches, a validation pass
    counted as one batch per learning rate: `wd_list` when a sweep for each of its weight decays
    fits, else one sweep at the optimizer's own weight decay (`wd_list=()`), which the cycle then
    keeps, whatever the budget. The learning rates and the batches per learning rate stay as given:
    a range test of fewer of either chose worse peaks on the task suite (BENCHMARKS.md, sections 5
    and 9), while dropping the weight-decay grid cost little.

        wd_list if len(wd_list) * steps * (batches_per_step + validation) <= budget else ()
        budget = RANGE_TEST_BUDGET * cycle_batches

    Example:

    >>> range_test_for_cycle(8_000, (0.0, 1e-4, 1e-3, 1e-2))
    (0.0, 0.0001, 0.001, 0.01)
    >>> range_test_for_cycle(7_999, (0.0, 1e-4, 1e-3, 1e-2))
    ()
    >>> range_test_for_cycle(8_000, (0.0, 1e-4, 1e-3, 1e-2), validation=True)
    ()

    Args:
        cycle_batches: A Python int >= 1: the batches of the cycle's fit (epochs x steps per epoch).
        wd_list: A sequence of weight decays >= 0: the sweeps wanted (`LrRangeTest`'s `wd_list`).
        steps: A Python int >= 2: the learning rates per sweep, or None for `LrRangeTest`'s default
            (100). Defaults to None.
        batches_per_step: A Python int >= 1: the batches per learning rate, or None for
            `LrRangeTest`'s default (5). Defaults to None.
        validation: A Python bool: whether the range test reads a validation loss per learning
            rate. Defaults to False.

    Returns:
        A tuple: `wd_list`, or () for one sweep at the optimizer's own weight decay.
    """
    cycle_batches = _checks.check_count("cycle_batches", cycle_batches)
    steps = _DEFAULTS["steps"].default if steps is None else _checks.check_count("steps", steps, minimum=2)
    if batches_per_step is None:
        batches_per_step = _DEFAULTS["batches_per_step"].default
    batches_per_step = _checks.check_count("batches_per_step", batches_per_step)
    wd_list = tuple(wd_list)
    per_sweep = steps * (batches_per_step + int(bool(validation)))  # a validation pass counts as a batch
    if len(wd_list) > 1 and len(wd_list) * per_sweep > RANGE_TEST_BUDGET * cycle_batches:
        return ()
    return wd_list


def _cycle_batches(x, epochs, fit_kwargs):
    """The batches the cycle's `fit` runs, or None when its input's length is unknown."""
    try:
        per_epoch = fit_kwargs.get("steps_per_epoch")
        per_epoch = per_epoch or _data.steps_per_epoch(x, fit_kwargs.get("batch_size"))
    except (ValueError, TypeError):  # the fit will say what is wrong with x
        return None
    split = fit_kwargs.get("validation_split") or 0.0  # fit trains on the rest
    return max(1, int(epochs * per_epoch * (1.0 - split)))


def _range_test_line(kwargs, choose_weight_decay, grid_dropped):
    """The verbose line saying what the range test runs and chooses, before it runs."""
    sweeps = len(kwargs["wd_list"])
    rates = kwargs.get("steps", _DEFAULTS["steps"].default)
    batches = kwargs.get("batches_per_step", _DEFAULTS["batches_per_step"].default)
    size = f"{max(sweeps, 1)} sweep{'s' if sweeps > 1 else ''} x {rates} learning rates x {batches} batch"
    size += "es" if batches > 1 else ""
    what = "the peak"
    if choose_weight_decay and sweeps > 1:
        what += " and the weight decay"
    elif grid_dropped:
        size += ", at the optimizer's own weight decay: the cycle is too short for the weight-decay grid"
    return f"fit_one_cycle: a range test ({size}) chooses {what} first (the model is restored after it)"


class _AnnounceCycle(keras.callbacks.Callback):
    """Prints, before the cycle's first epoch, the cycle fit_one_cycle trains and why (verbose)."""

    def __init__(self, one_cycle):
        super().__init__()
        self.one_cycle = one_cycle
        self._announced = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._announced:
            return
        self._announced = True
        low, peak = self.one_cycle.lr_range
        steps = self.one_cycle.cycle_updates
        line = f"fit_one_cycle: one cycle of {steps} steps, learning rate {low:.3g} to {peak:.3g}"
        choice = self.one_cycle.one_cycle_choice
        if choice is not None:
            line += f" ({choice.reason})"
        compat.print_msg(line)


def _are_arrays(validation):
    return isinstance(validation, (tuple, list)) and len(validation) >= 2 and hasattr(validation[0], "shape")
