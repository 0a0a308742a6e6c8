"""OneCycle and CLR: what the optimizer really did, step by step, on every backend."""

import csv
import re
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


@pytest.mark.skipif(BACKEND == "torch", reason="the PyTorch backend refuses steps_per_execution > 1")
@pytest.mark.parametrize("policy_name", ["onecycle-cos", "clr-triangular"])
def test_executions_longer_than_an_epoch_train_every_epoch(policy_name):
    # 12 steps per execution, 6 batches an epoch: each epoch is one short execution, which Keras ends
    # at the epoch's end. The cycle ends with the last epoch, not at the second, whose execution's
    # nominal 12 steps would reach it.
    policy = POLICIES[policy_name]()
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9), steps_per_execution=12)
    recorder, history = fit(model, [policy])
    assert len(history.history["loss"]) == EPOCHS
    assert int(model.optimizer.iterations.numpy()) == TOTAL
    values = policy.schedule_values(TOTAL)
    expected = sgd(W0, values["lr"], values["momentum"])
    np.testing.assert_allclose(recorder.weights, expected[recorder.batches], rtol=2e-4, atol=1e-6)


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


# -- with other callbacks --------------------------------------------------------------------------

OTHER_LEARNING_RATE_CALLBACKS = {
    "LearningRateScheduler": lambda: keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-6),
    "ReduceLROnPlateau": lambda: keras.callbacks.ReduceLROnPlateau("loss", patience=0),
    "CLR": lambda: kclr.CLR(2, (0.01, 0.1)),
    "LrRangeTest": lambda: kclr.LrRangeTest(steps=4, batches_per_step=1),
}


@pytest.mark.parametrize("first", [True, False], ids=["ours-first", "ours-second"])
@pytest.mark.parametrize("other_name", sorted(OTHER_LEARNING_RATE_CALLBACKS))
def test_another_learning_rate_callback_in_the_fit_is_refused_before_any_step(other_name, first):
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    policy, other = kclr.OneCycle((0.01, 0.1), (0.95, 0.85)), OTHER_LEARNING_RATE_CALLBACKS[other_name]()
    callbacks = [policy, other] if first else [other, policy]
    with pytest.raises(ValueError, match="only one callback that sets the learning rate") as raised:
        fit(model, callbacks)
    message = str(raised.value)
    assert message.startswith("Argument `callbacks`"), message
    assert f"holds OneCycle and {other_name}" in message or f"holds {other_name} and OneCycle" in message
    assert "Received" in message
    assert float(model.get_weights()[0].ravel()[0]) == W0
    assert int(model.optimizer.iterations.numpy()) == 0
    assert "apply" not in vars(model.optimizer)


def test_the_same_callback_twice_is_refused():
    policy = kclr.CLR(2, (0.01, 0.1))
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    with pytest.raises(ValueError, match="The same CLR is passed twice"):
        fit(model, [policy, policy])
    assert float(model.get_weights()[0].ravel()[0]) == W0


def test_a_callback_list_of_ones_own_is_checked_too():
    # The callbacks are found through the CallbackList calling the hook, also outside `fit`.
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr)
    callbacks = keras.callbacks.CallbackList(
        [kclr.OneCycle((0.01, 0.1)), scheduler], model=model, epochs=1, steps=STEPS_PER_EPOCH, verbose=0
    )
    with pytest.raises(ValueError, match="holds OneCycle and LearningRateScheduler"):
        callbacks.on_train_begin()


def test_callbacks_that_leave_the_learning_rate_alone_are_accepted(tmp_path):
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    others = [
        keras.callbacks.ModelCheckpoint(str(tmp_path / "model.keras")),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        keras.callbacks.TerminateOnNaN(),
    ]
    recorder, _ = fit(model, [policy, *others])
    values = policy.schedule_values(TOTAL)
    np.testing.assert_allclose(
        recorder.weights, sgd(W0, values["lr"], values["momentum"]), rtol=2e-4, atol=1e-6
    )


def test_a_mid_cycle_checkpoint_stores_the_scheduled_learning_rate_as_the_optimizers_own(tmp_path):
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "epoch{epoch}.keras"))
    _, history = fit(model, [policy, checkpoint])
    loaded = keras.models.load_model(tmp_path / "epoch1.keras")
    scheduled = history.history["learning_rate"][0]  # the last step of the first epoch
    assert abs(scheduled - 0.05) > 0.01
    np.testing.assert_allclose(float(loaded.optimizer.learning_rate), scheduled, rtol=1e-6)
    np.testing.assert_allclose(loaded.optimizer.get_config()["learning_rate"], scheduled, rtol=1e-6)
    assert loaded.optimizer.momentum == 0.9  # the scheduled momentum replaces it inside steps only
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.05, rtol=1e-6)  # after fit


class Constant(keras.callbacks.Callback):
    """Reports a monitored value that never improves."""

    def on_epoch_end(self, epoch, logs=None):
        logs["constant"] = 1.0


@pytest.mark.parametrize(
    ("patience", "start_from_epoch", "baseline"),
    [(0, 0, None), (1, 0, None), (3, 2, None), (0, 4, None), (1, 0, 0.5), (3, 1, 0.5), (0, 0, 0.5)],
)
def test_the_earliest_early_stop_is_where_keras_stops(patience, start_from_epoch, baseline):
    # What the OneCycle warning assumes of Keras's EarlyStopping: checked against the real thing,
    # with a monitored value that never improves (the earliest stop possible).
    from keras_one_cycle_clr import _keras_compat as compat

    stopper = keras.callbacks.EarlyStopping(
        "constant", mode="min", patience=patience, start_from_epoch=start_from_epoch, baseline=baseline
    )
    model = one_weight_model(keras.optimizers.SGD(0.0))
    _, history = fit(model, [Constant(), stopper], epochs=12)
    assert history.epoch[-1] == compat.earliest_early_stop(stopper, 0) < 11


def early_stopping_warnings(callbacks, epochs):
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        fit(model, callbacks, epochs=epochs)
    return [str(w.message) for w in caught if "EarlyStopping" in str(w.message)]


def test_early_stopping_that_can_end_the_warm_up_is_warned_about():
    # 10 epochs of 6 steps, rising for 18 steps: until the end of epoch 3 (index 2).
    stopper = keras.callbacks.EarlyStopping("loss", patience=1)
    (message,) = early_stopping_warnings([kclr.OneCycle((0.01, 0.1)), stopper], epochs=10)
    assert "can stop this fit after epoch 2" in message
    assert "until epoch 3 of 10" in message
    assert "EarlyStopping(start_from_epoch=2)" in message
    # The advice silences it; a CLR, which has no warm-up to protect, never warns.
    advised = keras.callbacks.EarlyStopping("loss", patience=1, start_from_epoch=2)
    assert early_stopping_warnings([kclr.OneCycle((0.01, 0.1)), advised], epochs=10) == []
    assert early_stopping_warnings([kclr.CLR(2, (0.01, 0.1)), stopper], epochs=10) == []


# -- hooks called by hand --------------------------------------------------------------------------


def test_hooks_called_by_hand_in_fits_order_train_as_fit_does():
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    policy.set_model(model)
    policy.set_params({"epochs": EPOCHS, "steps": STEPS_PER_EPOCH, "verbose": 0})
    policy.on_train_begin()
    weights = []
    for epoch in range(EPOCHS):
        policy.on_epoch_begin(epoch)
        for batch in range(STEPS_PER_EPOCH):
            policy.on_train_batch_begin(batch)
            logs = model.train_on_batch(X[:BATCH], Y[:BATCH], return_dict=True)
            policy.on_train_batch_end(batch, logs)
            weights.append(float(model.get_weights()[0].ravel()[0]))
        policy.on_epoch_end(epoch, {})
    policy.on_train_end()
    values = policy.schedule_values(TOTAL)
    np.testing.assert_allclose(weights, sgd(W0, values["lr"], values["momentum"]), rtol=2e-4, atol=1e-6)
    assert not np.allclose(weights, sgd(W0, values["lr"], np.full(TOTAL, 0.9)), rtol=1e-3)
    assert model.optimizer.momentum == 0.9
    assert "apply" not in vars(model.optimizer)


@pytest.mark.parametrize(
    ("calls", "hook", "needs"),
    [
        ([], "on_train_begin", "set_model(model)"),
        (["set"], "on_train_batch_begin", "on_train_begin and on_epoch_begin"),
        (["set", "train_begin"], "on_train_batch_begin", "on_train_begin and on_epoch_begin"),
        (["set", "train_begin"], "on_train_batch_end", "on_train_begin and on_epoch_begin"),
        (["set", "train_begin"], "on_epoch_end", "on_train_begin and on_epoch_begin"),
        (["set"], "on_epoch_begin", "on_train_begin must run before"),
    ],
)
def test_hooks_called_out_of_order_say_what_they_need(calls, hook, needs):
    policy = kclr.CLR(2, (0.01, 0.1))
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    if "set" in calls:
        policy.set_model(model)
        policy.set_params({"epochs": EPOCHS, "steps": STEPS_PER_EPOCH, "verbose": 0})
    if "train_begin" in calls:
        policy.on_train_begin()
    arguments = {"on_train_begin": (), "on_epoch_begin": (0,), "on_epoch_end": (0, {})}.get(hook, (0, {}))
    with pytest.raises(RuntimeError, match=re.escape(needs)) as raised:
        getattr(policy, hook)(*arguments)
    assert raised.value.args[0].startswith("CLR")
    assert float(model.get_weights()[0].ravel()[0]) == W0


# -- printing, defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fit_verbose", "lead"), [(0, ""), (2, ""), (1, "\n")])
def test_verbose_prints_each_epoch_as_keras_callbacks_do(capsys, fit_verbose, lead):
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85), verbose=True)
    model = one_weight_model(keras.optimizers.SGD(0.05, momentum=0.9))
    model.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, verbose=fit_verbose, callbacks=[policy])
    values = policy.schedule_values(TOTAL)
    out = capsys.readouterr().out
    lines = [
        f"Epoch {epoch + 1}/{EPOCHS}: OneCycle learning rate {values['lr'][last]:.4g}, "
        f"momentum {values['momentum'][last]:.4g}"
        for epoch, last in enumerate(range(STEPS_PER_EPOCH - 1, TOTAL, STEPS_PER_EPOCH))
    ]
    if fit_verbose == 0:
        assert out == "".join(f"{line}\n" for line in lines)
    for line in lines:  # epochs counted from 1; a line of its own, after the progress bar's
        assert f"{lead}{line}\n" in out, out
        assert f"\n\n{line}" not in out, out


def test_clr_triangular_modes_are_symmetric_by_default_and_cosine_keeps_0_3():
    assert kclr.CLR(2, (0.01, 0.1)).phase_one_fraction == 0.3
    for mode in ("triangular", "triangular2", "exp_range"):
        assert kclr.CLR(2, (0.01, 0.1), mode=mode).phase_one_fraction == 0.5
    assert kclr.CLR(2, (0.01, 0.1), None, 0.2, mode="triangular").phase_one_fraction == 0.2
    lrs = kclr.CLR(1, (0.01, 0.1), mode="triangular").schedule_values(100)["lr"]
    assert int(np.argmax(lrs)) == 50
    np.testing.assert_allclose(lrs[1:50], lrs[99:50:-1], rtol=1e-5)  # lr[k] == lr[100 - k]
    cosine = kclr.CLR(1, (0.01, 0.1)).schedule_values(100)["lr"]
    assert int(np.argmax(cosine)) == 30
