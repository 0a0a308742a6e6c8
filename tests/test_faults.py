"""Faults during training: the error the user sees is the original one, and nothing is left half-set."""

import warnings

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import _keras_compat as compat

X = np.ones((24, 1), dtype="float32")  # 6 batches of 4 an epoch
Y = np.zeros_like(X)


def one_weight_model():
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    model.optimizer.build(model.trainable_variables)
    return model


def state(model):
    return [w.copy() for w in model.get_weights()] + [np.array(v.numpy()) for v in model.optimizer.variables]


def twin_of(model):
    """A model with `model`'s weights and optimizer state, at the configured learning rate."""
    twin = one_weight_model()
    twin.set_weights(model.get_weights())
    # An interrupted fit leaves a schedule's tables after the optimizer's own variables.
    for mine, theirs in zip(twin.optimizer.variables, model.optimizer.variables, strict=False):
        mine.assign(np.array(theirs.numpy()))
    twin.optimizer.learning_rate.assign(0.05)
    return twin


def plain_fit(model, epochs=1):
    model.fit(X, Y, batch_size=4, epochs=epochs, shuffle=False, verbose=0)


class RaiseAt(keras.callbacks.Callback):
    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            msg = "boom from another callback"
            raise RuntimeError(msg)


def assert_optimizer_as_configured(model):
    optimizer = model.optimizer
    assert "apply" not in vars(optimizer)
    assert len(optimizer.variables) == 3  # iterations, learning rate, one momentum: nothing of ours
    assert optimizer.momentum == 0.9
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.05)


def fit_raising(model, callbacks, epochs, match):
    """`model.fit`, which one of `callbacks` makes raise; the model's variables then hold its state."""
    with pytest.raises(RuntimeError, match=match):
        model.fit(X, Y, batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks)
    # Keras 3.8 and 3.9 on JAX leave the model's variables purged when `fit` raises (3.10 syncs them
    # in a `finally`): reading one fails until the state is synced, with or without this package.
    compat.sync_jax_state(model)


def fit_expecting_a_leftover_warning(model):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain_fit(model)
    return [w for w in caught if "did not finish" in str(w.message)]


@pytest.mark.parametrize(
    "policy",
    [lambda: kclr.OneCycle((0.01, 0.5), (0.95, 0.85)), lambda: kclr.CLR(2, (0.01, 0.5), (0.95, 0.85))],
    ids=["OneCycle", "CLR"],
)
def test_an_exception_in_another_callback_surfaces_and_the_next_fit_trains_without_the_schedule(policy):
    model = one_weight_model()
    fit_raising(model, [policy(), RaiseAt(batch=2)], epochs=3, match="boom from another callback")
    twin = twin_of(model)  # the state the aborted fit left, trained from here without any schedule
    leftover = fit_expecting_a_leftover_warning(model)
    plain_fit(twin)
    assert len(leftover) == 1
    np.testing.assert_allclose(model.get_weights()[0], twin.get_weights()[0], rtol=1e-6)
    assert_optimizer_as_configured(model)


def interrupted_range_test():
    """A model whose range test, inside the user's own fit, was cut short by another callback."""
    model = one_weight_model()
    before = state(model)
    test = kclr.LrRangeTest((1e-3, 1.0), steps=10, batches_per_step=1)
    fit_raising(model, [test, RaiseAt(batch=3)], epochs=2, match="boom")
    return model, before, test


def test_a_range_test_interrupted_inside_a_users_fit_is_undone_before_the_next_fit():
    model, before, _ = interrupted_range_test()
    assert not all(np.array_equal(a, b) for a, b in zip(before, state(model), strict=True))
    reference = one_weight_model()  # the same start, never range-tested
    assert len(fit_expecting_a_leftover_warning(model)) == 1
    plain_fit(reference)
    np.testing.assert_array_equal(model.get_weights()[0], reference.get_weights()[0])
    assert_optimizer_as_configured(model)


def test_restore_right_after_an_interrupted_range_test_gives_the_model_back_at_once():
    model, before, test = interrupted_range_test()
    test.restore()
    for a, b in zip(before, state(model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert_optimizer_as_configured(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left over: no warning at the next fit
        plain_fit(model)


@pytest.mark.parametrize("terminate", [True, False], ids=["TerminateOnNaN", "no-terminate"])
def test_a_nan_loss_during_one_cycle_leaves_the_optimizer_as_configured(terminate):
    model = one_weight_model()
    y = Y.copy()
    y[9] = np.nan  # the third batch's loss is NaN
    callbacks = [kclr.OneCycle((0.01, 0.1), (0.95, 0.85))]
    if terminate:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    history = model.fit(X, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=callbacks)
    assert np.isnan(history.history["loss"][0])
    assert len(history.history["loss"]) == (1 if terminate else 3)
    assert_optimizer_as_configured(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fit finished: nothing was left to clean up
        plain_fit(model)
