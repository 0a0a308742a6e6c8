"""ScheduleInjection: hyper-parameters that follow tables inside each optimizer's real update code."""

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr.hyperparams import ScheduleInjection, momentum_attribute

X = np.random.default_rng(1).normal(size=(32, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]])).astype("float32")

# Every optimizer whose momentum-like hyper-parameter the callbacks drive, on every backend. On torch,
# these are Keras's fused torch implementations, which bypass the generic update_step.
OPTIMIZERS = {
    "SGD": (lambda m: keras.optimizers.SGD(0.05, momentum=m), "momentum"),
    "SGD-nesterov": (lambda m: keras.optimizers.SGD(0.05, momentum=m, nesterov=True), "momentum"),
    "RMSprop": (lambda m: keras.optimizers.RMSprop(0.01, momentum=m), "momentum"),
    "Adam": (lambda m: keras.optimizers.Adam(0.05, beta_1=m), "beta_1"),
    "AdamW": (lambda m: keras.optimizers.AdamW(0.05, beta_1=m, weight_decay=0.01), "beta_1"),
    "Adamax": (lambda m: keras.optimizers.Adamax(0.05, beta_1=m), "beta_1"),
    "Nadam": (lambda m: keras.optimizers.Nadam(0.05, beta_1=m), "beta_1"),
    "Lion": (lambda m: keras.optimizers.Lion(0.01, beta_1=m), "beta_1"),
}


def train(optimizer, callbacks):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer, "mse")
    model.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=callbacks)
    return model.get_weights()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_momentum_schedule_reaches_each_optimizers_update(name):
    make, attribute = OPTIMIZERS[name]
    # Lion follows the sign of its interpolation: far-apart values make the difference visible.
    nominal, value = (0.99, 0.1) if name == "Lion" else (0.9, 0.5)
    scheduled = train(make(nominal), [kclr.OneCycle((0.001, 0.01), momentum_range=(value, value))])
    configured = train(make(value), [kclr.OneCycle((0.001, 0.01))])
    untouched = train(make(nominal), [kclr.OneCycle((0.001, 0.01))])
    assert momentum_attribute(make(nominal)) == attribute
    for a, b in zip(scheduled, configured, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(a, c, rtol=1e-4) for a, c in zip(scheduled, untouched, strict=True))


def test_weight_decay_table_reaches_the_step():
    # weight_decay=None removes decay from the traced step; a table puts a value there instead.
    def run(tables):
        keras.utils.set_random_seed(3)
        optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer, "mse")
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)  # builds the optimizer and the step
        injection = ScheduleInjection(optimizer, tables, start_step=int(optimizer.iterations.numpy()))
        injection.install()
        model.make_train_function(force=True)
        model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        injection.remove()
        return model.get_weights()[0]

    plain = run({"learning_rate": np.full(4, 0.05)})
    decayed = run({"learning_rate": np.full(4, 0.05), "weight_decay": np.full(4, 0.5)})
    assert not np.allclose(plain, decayed, rtol=1e-3)
    assert np.linalg.norm(decayed) < np.linalg.norm(plain)


def test_install_replaces_an_earlier_injection_and_remove_restores_the_optimizer():
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    first = ScheduleInjection(optimizer, {"learning_rate": [0.1, 0.2]})
    second = ScheduleInjection(optimizer, {"learning_rate": [0.3, 0.4], "momentum": [0.8, 0.7]})
    first.install()
    second.install()
    assert second.installed
    assert not first.installed
    first.remove()  # no longer installed: leaves the newer one alone
    assert second.installed
    second.remove()
    assert "apply" not in vars(optimizer)
    assert optimizer.momentum == 0.9
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.05)


def test_values_at_clamps_to_the_table():
    injection = ScheduleInjection(keras.optimizers.Adam(0.1), {"beta_1": [0.9, 0.8, 0.7]}, start_step=10)
    assert injection.values_at(0)["beta_1"] == pytest.approx(0.9)
    assert injection.values_at(11)["beta_1"] == pytest.approx(0.8)
    assert injection.values_at(99)["beta_1"] == pytest.approx(0.7)


def test_tables_must_share_one_length():
    with pytest.raises(ValueError, match="one non-zero length"):
        ScheduleInjection(
            keras.optimizers.SGD(0.1, momentum=0.9), {"learning_rate": [0.1], "momentum": [0.9, 0.8]}
        )
