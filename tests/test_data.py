"""Every input Keras 3 takes: the callbacks find the cycle length, or say what is missing."""

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from fit_inputs import fit_inputs
from keras_one_cycle_clr._data import steps_per_epoch

N, BATCH = 40, 8  # 5 batches per epoch
X = np.random.default_rng(0).normal(size=(N, 3)).astype("float32")
Y = X.sum(axis=1, keepdims=True)


INPUTS = fit_inputs(X, Y, BATCH)


def generator():  # endless, without a length
    return INPUTS["generator-with-steps"]()[0][0]


def py_dataset():
    return INPUTS["pydataset"]()[0][0]


def small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "mse")
    return model


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_callbacks_resolve_the_cycle_for_every_input(name):
    args, kwargs = INPUTS[name]()
    policy = kclr.OneCycle((0.001, 0.01), (0.95, 0.85), record_frq=1)
    model = small_model()
    model.fit(*args, epochs=2, verbose=0, callbacks=[policy], **kwargs)
    assert policy.log["iter"] == list(range(2 * N // BATCH))
    assert int(model.optimizer.iterations.numpy()) == 2 * N // BATCH
    np.testing.assert_allclose(policy.log_ep["lr"][-1], 0.0, atol=1e-8)


@pytest.mark.parametrize("name", ["numpy", "pydataset", "tf-data", "torch-dataloader"])
def test_steps_per_epoch_counts_batches(name):
    args, kwargs = INPUTS[name]()
    assert steps_per_epoch(args[0], kwargs.get("batch_size")) == N // BATCH


def test_steps_per_epoch_of_arrays_uses_keras_default_batch_size_and_counts_the_last_partial_batch():
    assert steps_per_epoch(np.zeros((65, 2))) == 3
    assert steps_per_epoch([np.zeros((10, 2)), np.zeros((10, 4))], batch_size=4) == 3


def test_a_generator_without_steps_per_epoch_fails_before_training():
    model = small_model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(generator(), epochs=1, verbose=0, callbacks=[kclr.CLR(2, (0.001, 0.01))])
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        steps_per_epoch(generator())


def test_clr_find_n_epoch_gives_whole_cycles():
    clr = kclr.CLR(3, (0.001, 0.01))
    assert clr.find_n_epoch(X, batch_size=BATCH) == 3
    assert clr.find_n_epoch(py_dataset()) == 3
    with pytest.raises(ValueError, match="steps_per_epoch"):
        clr.find_n_epoch(generator())
