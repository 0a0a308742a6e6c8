"""InStepCallback: the lifecycle OneCycle, CLR and LrRangeTest share, seen through a minimal subclass."""

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import hyperparams, schedules
from keras_one_cycle_clr._in_step_callback import Guard, InStepCallback

X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
Y = X.sum(axis=1, keepdims=True)


class ConstantRate(InStepCallback):
    """The smallest in-step callback: a constant learning rate, installed at the first epoch."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate
        self.guard_seen = []  # the guard's state at each epoch's end

    def on_train_begin(self, logs=None):
        self._begin_fit()

    def on_epoch_begin(self, epoch, logs=None):
        if self._guard is Guard.OFF:
            start = hyperparams.raw_step(self.model.optimizer)
            self._install_schedules({"learning_rate": schedules.Piecewise((0.0,), (self.rate,), ())}, start)

    def on_train_batch_begin(self, batch, logs=None):
        self._guard_batch_begin(batch)

    def on_train_batch_end(self, batch, logs=None):
        self._guard_batch_end(batch)

    def on_epoch_end(self, epoch, logs=None):
        self._guard_epoch_end()
        self.guard_seen.append(self._guard)

    def on_train_end(self, logs=None):
        self._remove_schedules()


def small_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    return model


def test_the_schedules_reach_the_step_the_guard_checks_once_and_removal_restores_the_rate():
    model = small_model()
    before = [w.copy() for w in model.get_weights()]
    callback = ConstantRate(0.01)
    model.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[callback])
    assert callback.guard_seen == [Guard.CHECKED, Guard.CHECKED]
    assert callback._guard is Guard.OFF
    assert float(model.optimizer.learning_rate) == pytest.approx(0.5)  # the optimizer's own, back
    # What the step did: 8 SGD steps at 0.01 (not 0.5), simulated in NumPy.
    w = before[0].astype(np.float64)
    for _ in range(2):
        for rows in np.split(np.arange(32), 4):
            x, y = X[rows].astype(np.float64), Y[rows].astype(np.float64)
            w -= 0.01 * 2 * x.T @ (x @ w - y) / len(rows)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-4)


def test_another_learning_rate_callback_is_refused_before_any_step():
    model = small_model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="only one callback that sets the learning rate"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[ConstantRate(0.01), kclr.OneCycle((0.01, 0.1))])
    np.testing.assert_array_equal(model.get_weights()[0], before[0])
