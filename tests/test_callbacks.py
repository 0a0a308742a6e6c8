"""OneCycle and CLR: what the optimizer really did, step by step, on every backend."""

import csv
import warnings

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import _keras_compat as compat
from simulate import adam, sgd

BACKEND = keras.backend.backend()
W0 = 1.0
BATCH = 4
STEPS_PER_EPOCH = 6
EPOCHS = 3
TOTAL = STEPS_PER_EPOCH * EPOCHS
X = np.ones((BATCH * STEPS_PER_EPOCH, 1), dtype="float32")
Y = np.zeros_like(X)

POLICIES = {
    "onecycle-cos": lambda: kclr.OneCycle((0.01, 0.1), (0.95, 0.85)),
    "onecycle-linear-3phase": lambda: kclr.OneCycle(
        (0.01, 0.1), (0.95, 0.85), 0.25, final_lr=1e-4, anneal="linear", three_phase=True
    ),
    "clr-cosine-amplitude": lambda: kclr.CLR(
        3, (0.01, 0.1), (0.95, 0.85), amplitude_fn=lambda c: np.power(1.0 / 3, c)
    ),
    "clr-triangular": lambda: kclr.CLR(2, (0.01, 0.1), (0.95, 0.85), 0.5, mode="triangular"),
    "clr-triangular2": lambda: kclr.CLR(3, (0.01, 0.1), (0.95, 0.85), 0.5, mode="triangular2"),
    "clr-exp_range": lambda: kclr.CLR(2, (0.01, 0.1), (0.95, 0.85), 0.5, mode="exp_range", gamma=0.97),
}
OPTIMIZERS = {
    "sgd": (lambda: keras.optimizers.SGD(0.05, momentum=0.9), sgd),
    "adam": (lambda: keras.optimizers.Adam(0.05), adam),
}
EXECUTIONS = [1] if BACKEND == "torch" else [1, 4]  # Keras refuses steps_per_execution > 1 on torch


def one_weight_model(optimizer, steps_per_execution=1, jit_compile=False, w0=W0):
    kernel = keras.initializers.Constant(w0)
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer=kernel)]
    )
    model.compile(optimizer, "mse", steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    return model


class WeightRecorder(keras.callbacks.Callback):
    """The weight after each batch-end call (every `steps_per_execution` steps)."""

    def __init__(self):
        super().__init__()
        self.weights, self.batches = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        batch = compat.batch_end_step(batch, self.model.steps_per_execution)  # Keras < 3.11: the first
        self.batches.append(self.epoch * STEPS_PER_EPOCH + min(batch, STEPS_PER_EPOCH - 1))
        self.weights.append(float(self.model.get_weights()[0].ravel()[0]))


def fit(model, callbacks, epochs=EPOCHS, **kwargs):
    recorder = WeightRecorder()
    history = model.fit(
        X,
        Y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[*callbacks, recorder],
        **kwargs,
    )
    return recorder, history


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager-graph", "jit"])
@pytest.mark.parametrize("steps_per_execution", EXECUTIONS, ids=lambda k: f"spe{k}")
@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("policy_name", sorted(POLICIES))
def test_trajectory_matches_numpy_simulation(policy_name, optimizer_name, steps_per_execution, jit_compile):
    if jit_compile and BACKEND == "torch":
        pytest.skip("jit_compile on torch means torch.compile; not part of this check")
    make_optimizer, simulate = OPTIMIZERS[optimizer_name]
    policy = POLICIES[policy_name]()
    model = one_weight_model(make_optimizer(), steps_per_execution, jit_compile)

    recorder, _ = fit(model, [policy])

    values = policy.schedule_values(TOTAL)
    assert np.ptp(values["lr"]) > 0.01
    assert np.ptp(values["momentum"]) > 0.01
    expected = simulate(W0, values["lr"], values["momentum"])
    np.testing.assert_allclose(recorder.weights, expected[recorder.batches], rtol=2e-4, atol=1e-6)
    # The check can fail: the constant momentum the optimizer was created with gives another path.
    nominal = np.full(TOTAL, 0.9)
    assert not np.allclose(simulate(W0, values["lr"], nominal)[recorder.batches], recorder.weights, rtol=1e-3)


def test_momentum_is_restored_and_a_later_fit_uses_the_constant_rate():
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    model = one_weight_model(optimizer)
    fit(model, [policy])
    assert optimizer.momentum == 0.9
    assert isinstance(optimizer.momentum, float)
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.05, rtol=1e-6)
    assert "apply" not in vars(optimizer)

    w_start = float(model.get_weights()[0].ravel()[0])
    # The momentum buffer carries over; simulate from the state the optimizer really has.
    m_start = float(keras.ops.convert_to_numpy(optimizer.momentums[0]).ravel()[0])
    recorder, _ = fit(model, [], epochs=1)
    w, m, expected = w_start, m_start, []
    for _ in range(STEPS_PER_EPOCH):
        m = 0.9 * m - 0.05 * 2 * w
        w += m
        expected.append(w)
    np.testing.assert_allclose(recorder.weights, expected, rtol=2e-4, atol=1e-6)


def test_loss_scale_optimizer_drives_the_inner_optimizer():
    inner = keras.optimizers.SGD(0.05, momentum=0.9)
    optimizer = keras.optimizers.LossScaleOptimizer(inner, initial_scale=2.0)
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    model = one_weight_model(optimizer)
    recorder, _ = fit(model, [policy])
    values = policy.schedule_values(TOTAL)
    np.testing.assert_allclose(
        recorder.weights, sgd(W0, values["lr"], values["momentum"]), rtol=2e-4, atol=1e-6
    )


def test_mixed_float16_policy_trains_with_the_schedules():
    keras.config.set_dtype_policy("mixed_float16")
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    # A small weight keeps the first scaled gradient (2 * w * 32768) finite in float16: no skipped step.
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9), w0=0.25)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    recorder, history = fit(model, [policy])
    values = policy.schedule_values(TOTAL)
    # float16 forward pass: a looser tolerance, still far from the constant-momentum path.
    expected = sgd(0.25, values["lr"], values["momentum"])
    np.testing.assert_allclose(recorder.weights, expected, rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(history.history["learning_rate"][-1], 0.0, atol=1e-7)


def test_second_fit_with_a_new_callback_runs_a_new_cycle():
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    fit(model, [kclr.OneCycle((0.01, 0.1), (0.95, 0.85))])
    w_start = float(model.get_weights()[0].ravel()[0])
    momentum_buffer = float(keras.ops.convert_to_numpy(model.optimizer.momentums[0]).ravel()[0])
    second = kclr.OneCycle((0.001, 0.01), (0.95, 0.85))
    recorder, history = fit(model, [second], epochs=2)
    values = second.schedule_values(2 * STEPS_PER_EPOCH)
    w, m, expected = w_start, momentum_buffer, []
    for lr, mu in zip(values["lr"], values["momentum"], strict=True):
        m = mu * m - lr * 2 * w
        w += m
        expected.append(w)
    np.testing.assert_allclose(recorder.weights, expected, rtol=2e-4, atol=1e-7)
    assert history.history["learning_rate"][-1] == pytest.approx(0.0, abs=1e-8)


def test_epoch_logs_reach_history_and_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    model = one_weight_model(keras.optimizers.Adam(0.05))
    _, history = fit(model, [policy, keras.callbacks.CSVLogger(str(path))])
    values = policy.schedule_values(TOTAL)
    ends = [STEPS_PER_EPOCH * (e + 1) - 1 for e in range(EPOCHS)]
    np.testing.assert_allclose(history.history["learning_rate"], values["lr"][ends], rtol=1e-6)
    np.testing.assert_allclose(history.history["momentum"], values["momentum"][ends], rtol=1e-6)
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    np.testing.assert_allclose([float(r["momentum"]) for r in rows], values["momentum"][ends], rtol=1e-6)
    assert policy.log_ep["epoch"] == list(range(EPOCHS))
    np.testing.assert_allclose(policy.log_ep["lr"], values["lr"][ends], rtol=1e-6)


@pytest.mark.parametrize("steps_per_execution", EXECUTIONS, ids=lambda k: f"spe{k}")
def test_log_records_every_record_frq_iterations(steps_per_execution):
    policy = kclr.CLR(2, (0.01, 0.1), (0.95, 0.85), record_frq=4)
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9), steps_per_execution)
    fit(model, [policy])
    log = policy.log
    assert log["iter"] == list(range(0, TOTAL, 4))
    values = policy.schedule_values(TOTAL)
    np.testing.assert_allclose(log["lr"], values["lr"][log["iter"]], rtol=1e-6)
    np.testing.assert_allclose(log["momentum"], values["momentum"][log["iter"]], rtol=1e-6)
    assert len(log["loss"]) == len(log["iter"])
    assert np.all(np.isfinite(log["loss"]))


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def test_reset_on_train_begin_false_continues_the_cycle_and_stops_at_its_end():
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85), reset_on_train_begin=False)
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    first, _ = fit(model, [policy, StopAfterFirstEpoch()])  # a cycle of 3 epochs, interrupted after 1
    second, history = fit(model, [policy], epochs=5)  # continues, and stops when the cycle ends
    assert int(model.optimizer.iterations.numpy()) == TOTAL
    assert len(history.history["loss"]) == EPOCHS - 1
    values = policy.schedule_values(TOTAL)
    expected = sgd(W0, values["lr"], values["momentum"])
    np.testing.assert_allclose(first.weights + second.weights, expected, rtol=2e-4, atol=1e-6)
    assert policy.log["iter"] == list(range(0, TOTAL, 10))
    with pytest.raises(ValueError, match="cycle of 18 steps has ended"):
        fit(model, [policy])
    assert int(model.optimizer.iterations.numpy()) == TOTAL


def test_optimizer_without_momentum_warns_and_cycles_only_the_learning_rate():
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    model = one_weight_model(keras.optimizers.Adagrad(0.05))
    with warnings.catch_warnings(record=True) as caught:  # pytest.warns would re-raise Keras's own
        warnings.simplefilter("always", UserWarning)
        _, history = fit(model, [policy])
    assert any("neither `momentum` nor `beta_1`" in str(w.message) for w in caught)
    assert "momentum" not in history.history
    assert history.history["learning_rate"][-1] == pytest.approx(0.0, abs=1e-8)


def test_sgd_without_momentum_and_a_momentum_range_fails_before_training():
    model = one_weight_model(keras.optimizers.SGD(0.05))
    with pytest.raises(ValueError, match=r"`momentum_range`.*momentum=0.0"):
        fit(model, [kclr.OneCycle((0.01, 0.1), (0.95, 0.85))])
    assert float(model.get_weights()[0].ravel()[0]) == W0


def test_optimizer_with_a_schedule_as_learning_rate_is_refused_before_training():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model = one_weight_model(keras.optimizers.SGD(schedule, momentum=0.9))
    with pytest.raises(ValueError, match="float `learning_rate`"):
        fit(model, [kclr.OneCycle((0.01, 0.1), (0.95, 0.85))])
    assert float(model.get_weights()[0].ravel()[0]) == W0


@pytest.mark.parametrize("name", ["onecycle-cos", "clr-triangular"])
def test_with_gradient_accumulation_the_schedule_advances_once_per_applied_update(name):
    # Every batch is the same here, so accumulating two batches' gradients before an update is one
    # update on one batch: 2N batches with accumulation must train as N batches without.
    accumulated = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9, gradient_accumulation_steps=2))
    plain = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    fit(accumulated, [POLICIES[name]()], epochs=2 * EPOCHS)
    fit(plain, [POLICIES[name]()])
    np.testing.assert_allclose(accumulated.get_weights()[0], plain.get_weights()[0], rtol=1e-5)
    # Control: a cycle laid over all 2N batches ends elsewhere.
    stretched = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    fit(stretched, [POLICIES[name]()], epochs=2 * EPOCHS)
    assert not np.allclose(stretched.get_weights()[0], plain.get_weights()[0], rtol=1e-3)
