"""The guard: a Keras that no longer does what the in-step schedules rely on fails on the first step.

Each test simulates one such Keras by patching the internal it would change, and checks that the fit
raises `KerasCompatibilityError` naming the Keras version and what differed, instead of returning a
wrong result.
"""

import warnings

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr import hyperparams
from keras_one_cycle_clr._in_step_callback import Guard

X = np.random.default_rng(0).random((32, 4)).astype("float32")  # 8 batches of 4 an epoch
Y = X.sum(axis=1, keepdims=True)


def small_model(optimizer=None, steps_per_execution=1):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    optimizer = optimizer or keras.optimizers.SGD(0.05, momentum=0.9)
    model.compile(optimizer, "mse", steps_per_execution=steps_per_execution)
    return model


def fit(model, callback, epochs=1):
    return model.fit(X, Y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=[callback])


def raises_incompatible(what):
    return pytest.raises(kclr.KerasCompatibilityError, match=rf"Keras \({keras.__version__}, .*{what}")


@pytest.fixture
def learning_rate_not_applied(monkeypatch):
    """A Keras whose step no longer goes through the optimizer's instance `apply` for the learning rate:
    the step computes everything else but leaves the learning-rate variable alone."""
    own = hyperparams.ScheduleInjection._current_values

    def without_learning_rate(self):
        values = own(self)
        values.pop("learning_rate", None)
        return values

    monkeypatch.setattr(hyperparams.ScheduleInjection, "_current_values", without_learning_rate)


def test_the_guard_passes_on_this_keras():
    model = small_model()
    ocp = kclr.OneCycle(lr_range=(0.01, 0.1), momentum_range=(0.95, 0.85))
    fit(model, ocp)
    lrrt = kclr.lr_find(model, X, Y, batch_size=4, steps=4, batches_per_step=1, validation_data=(X, Y))
    assert np.isfinite(lrrt.val_loss).all()


@pytest.mark.usefixtures("learning_rate_not_applied")
@pytest.mark.parametrize("callback", ["OneCycle", "CLR"])
def test_a_learning_rate_the_step_did_not_apply_stops_the_fit(callback):
    model = small_model()
    policy = (
        kclr.OneCycle(lr_range=(0.01, 0.1)) if callback == "OneCycle" else kclr.CLR(2, lr_range=(0.01, 0.1))
    )
    with raises_incompatible("learning rate the optimizer applied at step 0 was 0.05"):
        fit(model, policy, epochs=2)
    # Keras skips on_train_end when fit raises; the next fit removes what was left. (Recorded, not
    # `pytest.warns`: that re-raises a NumPy deprecation PyTorch's tensors give on Keras 3.15.)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, batch_size=4, verbose=0)
    assert any("did not finish" in str(warning.message) for warning in caught)
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.05)


@pytest.mark.usefixtures("learning_rate_not_applied")
def test_a_learning_rate_the_step_did_not_apply_stops_a_range_test_and_restores_the_model():
    model = small_model()
    model.optimizer.build(model.trainable_variables)
    before = [w.copy() for w in model.get_weights()]
    with raises_incompatible("learning rate the optimizer applied"):
        kclr.lr_find(model, X, Y, batch_size=4, steps=4, batches_per_step=2)
    for restored, original in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(restored, original)


@pytest.mark.skipif(compat.TORCH, reason="PyTorch's fused optimizers take plain floats: no probe")
def test_a_momentum_the_update_does_not_read_stops_the_fit(monkeypatch):
    # A Keras that reads `momentum` from somewhere other than the attribute during `apply`.
    own = keras.optimizers.SGD.update_step

    def update_step(self, gradient, variable, learning_rate):
        stand_in, self.momentum = self.momentum, 0.9
        try:
            return own(self, gradient, variable, learning_rate)
        finally:
            self.momentum = stand_in

    monkeypatch.setattr(keras.optimizers.SGD, "update_step", update_step)
    with raises_incompatible("never read the scheduled `momentum`"):
        fit(small_model(), kclr.OneCycle(lr_range=(0.01, 0.1), momentum_range=(0.95, 0.85)))


@pytest.mark.skipif(compat.TORCH, reason="PyTorch's fused optimizers take plain floats: no probe")
def test_a_weight_decay_the_update_does_not_read_stops_a_range_test(monkeypatch):
    def no_weight_decay(self, variables):
        return None

    monkeypatch.setattr(type(small_model().optimizer), "_apply_weight_decay", no_weight_decay)
    with raises_incompatible("never read the scheduled `weight_decay`"):
        kclr.lr_find(small_model(), X, Y, batch_size=4, steps=4, batches_per_step=1, wd_list=[1e-3])


@pytest.mark.skipif(compat.TORCH, reason="no probe on PyTorch (whose Keras 3.8 optimizer fails on it)")
def test_a_weight_decay_excluded_from_every_variable_is_not_a_mismatch():
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    optimizer.exclude_from_weight_decay(var_names=["kernel", "bias"])
    model = small_model(optimizer)
    result = kclr.lr_find(model, X, Y, batch_size=4, steps=4, batches_per_step=1, wd_list=[1e-3])
    assert np.isfinite(result.loss).all()


def test_a_validation_loss_that_is_a_running_mean_stops_a_range_test(monkeypatch):
    # What `test_on_batch` gave before Keras 3.15: the mean over every evaluation so far.
    own = compat.validation_loss_function

    def running_mean(model, x, y):
        loss, seen = own(model, x, y) or (lambda: compat.test_on_batch_loss(model, x, y)), []

        def mean_so_far():
            seen.append(loss())
            return float(np.mean(seen))

        return mean_so_far

    monkeypatch.setattr(compat, "validation_loss_function", running_mean)
    with raises_incompatible("validation loss is not the loss at the current weights alone"):
        kclr.lr_find(small_model(), X, Y, batch_size=4, steps=4, batches_per_step=1, validation_data=(X, Y))


@pytest.mark.skipif(not compat.TENSORFLOW, reason="the test_on_batch path is taken under tf.distribute only")
def test_the_validation_loss_by_test_on_batch_is_the_batch_loss(monkeypatch):
    # The path under tf.distribute, here on one device: the metrics are reset before every call.
    model, arguments = small_model(), {"steps": 4, "batches_per_step": 1, "validation_data": (X[:8], Y[:8])}
    plain = kclr.lr_find(model, X, Y, batch_size=4, **arguments)
    monkeypatch.setattr(compat, "validation_loss_function", lambda model, x, y: None)
    by_test_on_batch = kclr.lr_find(model, X, Y, batch_size=4, **arguments)
    np.testing.assert_allclose(by_test_on_batch.val_loss, plain.val_loss, rtol=1e-5)


@pytest.mark.skipif(compat.TORCH, reason="the PyTorch backend refuses steps_per_execution > 1")
def test_batch_numbers_of_another_keras_stop_a_range_test(monkeypatch):
    # The switch set for the other Keras releases (3.8 and 3.10 report an execution's first step).
    monkeypatch.setattr(compat, "BATCH_END_IS_FIRST_STEP", not compat.BATCH_END_IS_FIRST_STEP)
    with raises_incompatible("on_train_batch_end was given batch"):
        kclr.lr_find(small_model(steps_per_execution=2), X, Y, batch_size=4, steps=4, batches_per_step=2)


@pytest.mark.parametrize(("first_step", "expected"), [(True, 3), (False, 0)])
def test_batch_end_step(monkeypatch, first_step, expected):
    monkeypatch.setattr(compat, "BATCH_END_IS_FIRST_STEP", first_step)
    assert compat.batch_end_step(0, 4) == expected


# -- the callbacks' batch numbering under steps_per_execution > 1 ----------------------------------


@pytest.fixture
def other_batch_numbering(monkeypatch):
    """The switch set for the other Keras releases: a Keras that numbers batch ends the other way."""
    monkeypatch.setattr(compat, "BATCH_END_IS_FIRST_STEP", not compat.BATCH_END_IS_FIRST_STEP)


@pytest.mark.skipif(compat.TORCH, reason="the PyTorch backend refuses steps_per_execution > 1")
@pytest.mark.usefixtures("other_batch_numbering")
@pytest.mark.parametrize("callback", ["OneCycle", "CLR"])
def test_batch_numbers_of_another_keras_stop_a_fit(callback):
    policy = (
        kclr.OneCycle(lr_range=(0.01, 0.1)) if callback == "OneCycle" else kclr.CLR(2, lr_range=(0.01, 0.1))
    )
    with raises_incompatible("on_train_batch_end was given batch"):
        fit(small_model(steps_per_execution=2), policy, epochs=2)


@pytest.mark.skipif(compat.TORCH, reason="the PyTorch backend refuses steps_per_execution > 1")
@pytest.mark.parametrize("steps_per_execution", [2, 3])  # 3: a short last chunk
def test_the_batch_numbering_check_passes_on_this_keras(steps_per_execution):
    policy = kclr.OneCycle(lr_range=(0.01, 0.1), record_frq=1)
    guard_states = []  # at every epoch's end, after the policy's own hook
    watch = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, _: guard_states.append(policy._guard))
    model = small_model(steps_per_execution=steps_per_execution)
    model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[policy, watch])
    assert guard_states == [Guard.CHECKED, Guard.CHECKED]
    assert policy._guard is Guard.OFF  # cleared at on_train_end
    assert policy.log["iter"][-1] == 15


def by_hand(model, policy, end_batch):
    """What `fit` does with steps_per_execution=2 over one epoch of 8 batches, the hooks called by
    hand (also on PyTorch, whose `fit` refuses it): `end_batch(begin)` is the batch given to
    on_train_batch_end after the execution that began at `begin`."""
    policy.set_model(model)
    policy.set_params({"epochs": 1, "steps": 8, "verbose": 0})
    policy.on_train_begin()
    model.steps_per_execution = 2  # read when the first epoch begins; train_on_batch runs one step
    policy.on_epoch_begin(0)
    model.steps_per_execution = 1
    for begin in range(0, 8, 2):
        policy.on_train_batch_begin(begin)
        for batch in (begin, begin + 1):
            rows = slice(4 * batch, 4 * batch + 4)
            logs = model.train_on_batch(X[rows], Y[rows], return_dict=True)
        policy.on_train_batch_end(end_batch(begin), logs)
    policy.on_epoch_end(0, {})
    policy.on_train_end()


THIS_KERAS_NUMBERS_FIRST_STEP = compat.BATCH_END_IS_FIRST_STEP  # before any test flips the switch


def this_keras_numbering(begin):
    return begin if THIS_KERAS_NUMBERS_FIRST_STEP else begin + 1


def test_the_batch_numbering_check_passes_by_hand():
    policy = kclr.OneCycle(lr_range=(0.01, 0.1), record_frq=1)
    by_hand(small_model(), policy, this_keras_numbering)
    assert policy.log["iter"] == [1, 3, 5, 7]


@pytest.mark.usefixtures("other_batch_numbering")
def test_batch_numbers_of_another_keras_stop_hooks_called_by_hand():
    with raises_incompatible(r"given batch \d after an execution that began at batch 0 and ran 2 steps"):
        by_hand(small_model(), kclr.OneCycle(lr_range=(0.01, 0.1)), this_keras_numbering)


def test_batch_numbers_outside_the_first_execution_stop_the_fit_at_the_epoch_end():
    # A Keras that numbered batch ends past the execution (one more than the last step).
    with raises_incompatible("given batch 2 but no batch of the first execution"):
        by_hand(small_model(), kclr.OneCycle(lr_range=(0.01, 0.1)), lambda begin: begin + 2)
