"""ScheduleInjection: hyper-parameters that follow schedules inside each optimizer's real update code."""

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import _compiled_steps, hyperparams, schedules
from keras_one_cycle_clr.hyperparams import ScheduleInjection, momentum_attribute
from keras_one_cycle_clr.schedules import AMPLITUDE_SLOTS
from simulate import sgd

BACKEND = keras.backend.backend()
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


@pytest.mark.parametrize("start", [3, 2**24 + 3])  # the second is not a float32: 2**24 + 4 is
def test_the_step_finds_its_entry_also_far_from_step_zero(start):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(start + 1)
    table = [0.1, 0.2, 0.3, 0.4]
    injection = ScheduleInjection(model.optimizer, {"learning_rate": table}, start)
    injection.install()
    model.make_train_function(force=True)
    model.train_on_batch(X[:4], Y[:4])
    learning_rate = float(model.optimizer.learning_rate.numpy())  # assigned in the step: entry 1
    injection.remove()
    assert learning_rate == pytest.approx(0.2)


def test_tables_of_any_length_hold_their_last_value_and_an_empty_one_is_refused():
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    injection = ScheduleInjection(optimizer, {"learning_rate": [0.1], "momentum": [0.9, 0.8]})
    assert injection.values_at(5) == pytest.approx({"learning_rate": 0.1, "momentum": 0.8})
    with pytest.raises(ValueError, match="non-empty 1-D sequence"):
        ScheduleInjection(optimizer, {"learning_rate": []})


@pytest.fixture
def traces(monkeypatch):
    """Python calls of `Sequential.train_step`: one per trace on TensorFlow and JAX."""
    calls = []
    train_step = keras.Sequential.train_step

    def counted(self, *args, **kwargs):
        calls.append(1)
        return train_step(self, *args, **kwargs)

    monkeypatch.setattr(keras.Sequential, "train_step", counted)
    return calls


def one_weight_model():
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    return model


ONES = np.ones((24, 1), dtype="float32")


def fit(model, *callbacks):
    model.fit(ONES, ONES * 0, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=list(callbacks))


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="PyTorch runs the step eagerly")
def test_later_fits_reuse_the_compiled_step_and_their_own_schedules_drive_it(traces):
    def run(reuse, second_range):
        model = one_weight_model()
        fit(model)
        counts = [len(traces)]
        fit(model, kclr.OneCycle((0.01, 0.1), (0.95, 0.85)))
        counts.append(len(traces))
        if not reuse:
            _compiled_steps.forget_compiled_steps(model)
        fit(model, kclr.OneCycle(second_range, (0.9, 0.8)))
        counts.append(len(traces))
        fit(model)  # the model's own step again: constant lr 0.05, momentum 0.9
        counts.append(len(traces))
        return model.get_weights()[0], np.diff(counts).tolist()

    reused, new_traces = run(reuse=True, second_range=(0.02, 0.3))
    retraced, new_retraces = run(reuse=False, second_range=(0.02, 0.3))
    assert new_traces == [1, 0, 0]  # one step with the schedules of both cycles; the plain one kept
    assert new_retraces == [1, 1, 0]
    np.testing.assert_allclose(reused, retraced, rtol=1e-6)
    other, _ = run(reuse=True, second_range=(0.01, 0.1))  # control: the second cycle's values matter
    assert not np.allclose(reused, other, rtol=1e-3)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="PyTorch runs the step eagerly")
def test_a_range_test_traces_one_step_for_all_weight_decays_and_reuses_it_next_time(traces):
    model = one_weight_model()
    fit(model)
    before = len(traces)
    kwargs = {"lr_range": (1e-3, 0.1), "wd_list": [0.0, 0.1, 1.0], "steps": 4, "batches_per_step": 1}
    first = kclr.lr_find(model, ONES, ONES * 0, batch_size=4, **kwargs)
    second = kclr.lr_find(model, ONES, ONES * 0, batch_size=4, **kwargs)
    fit(model)
    assert len(traces) - before == 1
    np.testing.assert_allclose(first.loss, second.loss, rtol=1e-6)
    assert not np.allclose(first.loss[:, 0], first.loss[:, 2], rtol=1e-3)  # each decay took effect


def test_a_counting_step_reports_the_loss_count_of_every_call_and_hides_it_from_logs():
    # 10 samples in batches of 4: counts 4, 8, 10 (the short last batch), then 4, 8, 10 again.
    model = one_weight_model()
    injection = ScheduleInjection(model.optimizer, {"learning_rate": np.full(6, 0.05)})
    seen = []

    class Install(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            injection.install(self.model)

        def on_train_batch_end(self, batch, logs=None):
            seen.append((hyperparams.last_loss_count(model), sorted(logs)))

        def on_train_end(self, logs=None):
            injection.remove()

    history = model.fit(ONES[:10], ONES[:10] * 0, batch_size=4, epochs=2, verbose=0, callbacks=[Install()])
    counts = [count for count, _ in seen]
    if keras.backend.backend() == "torch":  # the step runs eagerly: nothing compiled to report it
        assert counts == [None] * 6
    else:
        assert counts == [4.0, 8.0, 10.0] * 2
    assert all(keys == ["loss"] for _, keys in seen)
    assert sorted(history.history) == ["loss"]
    assert hyperparams.last_loss_count(model) is None  # removed: the model's own train function


def test_a_reused_counting_step_reports_nothing_before_its_first_call():
    model = one_weight_model()
    before_any_step = []

    class Install(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.injection = ScheduleInjection(self.model.optimizer, {"learning_rate": np.full(6, 0.05)})
            self.injection.install(self.model)
            before_any_step.append(hyperparams.last_loss_count(model))

        def on_train_end(self, logs=None):
            self.injection.remove()

    for _ in range(2):  # the second fit reuses the compiled step of the first
        model.fit(ONES[:10], ONES[:10] * 0, batch_size=4, verbose=0, callbacks=[Install()])
    assert before_any_step == [None, None]


def test_a_train_step_set_on_the_model_itself_survives_the_schedules():
    model = one_weight_model()
    calls = []
    own_train_step = model.train_step

    def train_step(*args):
        calls.append(1)
        return own_train_step(*args)

    model.train_step = train_step
    kclr.lr_find(model, ONES, ONES * 0, batch_size=4, lr_range=(1e-3, 0.1), steps=3, batches_per_step=1)
    fit(model, kclr.OneCycle((0.01, 0.1), (0.95, 0.85)))
    assert model.__dict__["train_step"] is train_step
    calls.clear()
    model.train_function = None
    fit(model)
    assert calls  # traced (TF, JAX) or run (torch) through the model's own train_step


def test_a_checkpoint_written_mid_cycle_holds_only_the_optimizers_own_variables(tmp_path):
    model = one_weight_model()
    path = tmp_path / "mid.keras"
    fit(model, kclr.OneCycle((0.01, 0.1), (0.95, 0.85)), keras.callbacks.ModelCheckpoint(path))
    plain = one_weight_model()
    plain.optimizer.build(plain.trainable_variables)
    # A mismatch would warn "Skipping variable loading for optimizer" (an error under this config).
    loaded = keras.models.load_model(path)
    assert len(loaded.optimizer.variables) == len(plain.optimizer.variables)
    assert len(model.optimizer.variables) == len(plain.optimizer.variables)  # no schedules after fit
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_a_step_traced_for_other_schedules_of_the_same_shape_is_not_reused():
    # JAX caches traces by function and input shapes: a one cycle (learning rate, beta_1) and a range
    # test (learning rate, weight decay) pack into variables of the same shape.
    def adam_model():
        model = keras.Sequential(
            [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
        )
        model.compile(keras.optimizers.Adam(0.01), "mse")
        model.optimizer.build(model.trainable_variables)
        return model

    trained = adam_model()
    fit(trained, kclr.OneCycle((0.01, 0.1), (0.95, 0.85)))  # 12 steps
    twin = adam_model()
    twin.set_weights(trained.get_weights())
    for mine, theirs in zip(twin.optimizer.variables, trained.optimizer.variables, strict=True):
        mine.assign(np.array(theirs.numpy()))
    kwargs = {"lr_range": (1e-3, 1.0), "wd_list": [2.0], "steps": 12, "batches_per_step": 1}
    after_cycle = kclr.lr_find(trained, ONES, ONES * 0, batch_size=4, threshold_multiplier=1e9, **kwargs)
    fresh = kclr.lr_find(twin, ONES, ONES * 0, batch_size=4, threshold_multiplier=1e9, **kwargs)
    np.testing.assert_allclose(after_cycle.loss, fresh.loss, rtol=1e-6)


def test_a_model_trained_with_a_schedule_can_be_garbage_collected():
    import gc
    import weakref

    model = one_weight_model()
    fit(model, kclr.OneCycle((0.01, 0.1), (0.95, 0.85)))
    kclr.lr_find(model, ONES, ONES * 0, batch_size=4, lr_range=(1e-3, 0.1), steps=4, batches_per_step=1)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's own checkpoints")
def test_tensorflow_can_still_checkpoint_the_model_after_a_scheduled_fit(tmp_path):
    import tensorflow as tf

    model = one_weight_model()
    fit(model, kclr.OneCycle((0.01, 0.1), (0.95, 0.85)))
    kclr.lr_find(model, ONES, ONES * 0, batch_size=4, lr_range=(1e-3, 0.1), steps=4, batches_per_step=1)
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(tmp_path / "ckpt"))
    assert any(tmp_path.iterdir())


# TensorFlow may trace a new tf.function twice on its first calls (a concrete shape, then a relaxed
# one); JAX traces once.
TRACES_PER_BUILD = 2 if keras.backend.backend() == "tensorflow" else 1


@pytest.fixture
def builds(monkeypatch):
    """Train functions Keras builds (every backend): a build on TensorFlow and JAX is a trace and an
    XLA compile on the first call."""
    calls = []
    make_train_function = keras.Model.make_train_function

    def counted(self, force=False):
        if force or self.train_function is None:
            calls.append(1)
        return make_train_function(self, force=force)

    monkeypatch.setattr(keras.Model, "make_train_function", counted)
    return calls


def test_one_compiled_step_serves_every_later_fit_whatever_its_length_and_kind(traces, builds):
    model = one_weight_model()
    fit(model)  # the model's own step: one build, one trace
    before = (len(builds), len(traces))
    fit(model, kclr.OneCycle((0.01, 0.1), (0.95, 0.85)))
    model.fit(ONES, ONES * 0, batch_size=4, epochs=5, verbose=0, callbacks=[kclr.OneCycle((0.02, 0.2))])
    fit(model, kclr.CLR(3, (0.01, 0.1), (0.95, 0.85), mode="triangular2"))
    fit(model, kclr.CLR(2, (0.01, 0.1), amplitude_fn=lambda i: 0.5**i))
    for steps, wd_list in ((4, [0.0, 0.1]), (9, [])):
        kclr.lr_find(
            model,
            ONES,
            ONES * 0,
            batch_size=4,
            lr_range=(1e-3, 0.1),
            steps=steps,
            batches_per_step=1,
            wd_list=wd_list,
        )
    fit(model)
    extra = (len(builds) - before[0], len(traces) - before[1])
    if keras.backend.backend() == "torch":  # eager: the schedules never build a train function
        assert extra[0] == 0  # (and every step calls train_step: no traces to count)
    else:
        assert extra[0] == 1
        assert 1 <= extra[1] <= TRACES_PER_BUILD


def test_more_cycle_amplitudes_than_the_fixed_shape_holds_trace_once_more_and_train_exactly(traces, builds):
    model = one_weight_model()
    fit(model, kclr.OneCycle((0.01, 0.1), (0.95, 0.85)))
    before = (len(builds), len(traces))
    many = AMPLITUDE_SLOTS + 2  # 18 cycles of 2 updates: 36 samples in batches of 4, 4 epochs
    clr = kclr.CLR(many, (0.01, 0.1), (0.95, 0.85), amplitude_fn=lambda i: 1.0 / (1 + i))
    fresh = one_weight_model()
    x = np.ones((36, 1), dtype="float32")
    fresh.fit(x, x * 0, batch_size=4, epochs=4, shuffle=False, verbose=0, callbacks=[clr])
    for _ in range(2):
        model.fit(x, x * 0, batch_size=4, epochs=4, shuffle=False, verbose=0, callbacks=[clr])
    if keras.backend.backend() != "torch":
        # A larger packing: built once for it on the fresh model (after Keras built its own, never
        # called), once on the trained model, then reused. PyTorch runs the step eagerly.
        assert len(builds) - before[0] == 3
        assert 2 <= len(traces) - before[1] <= 2 * TRACES_PER_BUILD
    values = clr.schedule_values(36)
    assert values["lr"][-3] < values["lr"][1] / 5  # the late cycles are lower: the amplitudes count
    expected = sgd(1.0, values["lr"], values["momentum"])[-1]
    assert float(fresh.get_weights()[0][0, 0]) == pytest.approx(float(expected), rel=2e-4)


# -- attach_schedules: the schedules in a training loop of one's own -------------------------------

LOOP_STEPS = 24
LOOP_SCHEDULES = {
    "learning_rate": kclr.OneCycleSchedule(0.01, 0.1, 0.0, total_steps=LOOP_STEPS),
    "momentum": kclr.OneCycleSchedule(0.95, 0.85, 0.95, total_steps=LOOP_STEPS),
    "weight_decay": kclr.CyclicSchedule(0.0, 0.5, cycle_steps=LOOP_STEPS / 2, mode="triangular"),
}


def loop_optimizer():
    """SGD on one weight `w`, whose loss `w ** 2` has the gradient `2 * w` (as in tests/simulate.py)."""
    weight = keras.Variable(np.ones(1, "float32"), name="w")
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=0.01)
    optimizer.build([weight])
    return weight, optimizer


def check_loop_trajectory(trajectory, start=0):
    values = {name: schedules.evaluate(s, start + LOOP_STEPS)[start:] for name, s in LOOP_SCHEDULES.items()}
    expected = sgd(1.0, values["learning_rate"], values["momentum"], weight_decays=values["weight_decay"])
    np.testing.assert_allclose(trajectory, expected, rtol=2e-4, atol=1e-6)
    # The check can fail: the optimizer's own constant momentum and weight decay give another path.
    constant = sgd(
        1.0, values["learning_rate"], np.full(LOOP_STEPS, 0.9), weight_decays=np.full(LOOP_STEPS, 0.01)
    )
    assert not np.allclose(trajectory, constant, rtol=1e-3)


def check_restored(weight, optimizer, variables):
    assert optimizer.momentum == 0.9
    assert optimizer.weight_decay == 0.01
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.05, rtol=1e-6)
    assert "apply" not in vars(optimizer)
    assert [id(v) for v in optimizer.variables] == variables  # the schedules' variable left them


@pytest.mark.skipif(BACKEND != "tensorflow", reason="a tf.GradientTape loop")
def test_attached_schedules_drive_a_gradient_tape_loop():
    import tensorflow as tf

    weight, optimizer = loop_optimizer()
    variables = [id(v) for v in optimizer.variables]
    trajectory = []
    with kclr.attach_schedules(optimizer, **LOOP_SCHEDULES) as attached:

        @tf.function  # traced inside the `with`, as the docs say
        def train_step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(weight.value**2)
            optimizer.apply(tape.gradient(loss, [weight.value]), [weight])

        for _ in range(LOOP_STEPS):
            train_step()
            trajectory.append(float(weight.numpy()[0]))
        assert attached.attached
    assert not attached.attached
    check_loop_trajectory(trajectory)
    check_restored(weight, optimizer, variables)


@pytest.mark.skipif(BACKEND != "jax", reason="a jax.jit loop around stateless_apply")
def test_attached_schedules_drive_a_jax_stateless_apply_loop():
    import jax

    weight, optimizer = loop_optimizer()
    variables = [id(v) for v in optimizer.variables]
    attached = kclr.attach_schedules(optimizer, **LOOP_SCHEDULES)
    assert len(optimizer.variables) == len(variables) + 1  # the schedules, passed in as state

    @jax.jit
    def train_step(weights, optimizer_state):
        grads = jax.grad(lambda ws: (ws[0] ** 2).sum())(weights)
        return optimizer.stateless_apply(optimizer_state, grads, weights)

    weights, optimizer_state = [weight.value], [v.value for v in optimizer.variables]
    trajectory = []
    for _ in range(LOOP_STEPS):
        weights, optimizer_state = train_step(weights, optimizer_state)
        trajectory.append(float(weights[0][0]))
    for variable, value in zip(optimizer.variables, optimizer_state, strict=True):
        variable.assign(value)  # the state back into the variables, before remove()
    attached.remove()
    check_loop_trajectory(trajectory)
    check_restored(weight, optimizer, variables)
    assert int(optimizer.iterations.numpy()) == LOOP_STEPS


@pytest.mark.skipif(BACKEND != "torch", reason="a PyTorch autograd loop")
def test_attached_schedules_drive_a_torch_loop():
    weight, optimizer = loop_optimizer()
    variables = [id(v) for v in optimizer.variables]
    trajectory = []
    with kclr.attach_schedules(optimizer, **LOOP_SCHEDULES):
        for _ in range(LOOP_STEPS):
            leaf = weight.value.detach().clone().requires_grad_(True)
            (leaf**2).sum().backward()
            optimizer.apply([leaf.grad], [weight])
            trajectory.append(float(weight.numpy()[0]))
    check_loop_trajectory(trajectory)
    check_restored(weight, optimizer, variables)


def eager_loop(start_step=None):
    weight, optimizer = loop_optimizer()
    optimizer.iterations.assign(3)  # as if trained before: by default the schedules start here
    trajectory = []
    with kclr.attach_schedules(optimizer, **LOOP_SCHEDULES, start_step=start_step) as attached:
        for _ in range(LOOP_STEPS):
            optimizer.apply([2 * weight.value], [weight])  # eager: no compiled step at all
            trajectory.append(float(weight.numpy()[0]))
    check_restored(weight, optimizer, [id(v) for v in optimizer.variables])
    return trajectory, attached


def test_attached_schedules_start_at_the_counter_and_apply_eagerly_on_every_backend():
    trajectory, attached = eager_loop()
    check_loop_trajectory(trajectory)
    assert attached.values_at(3)["momentum"] == pytest.approx(0.95)
    # Control: schedules counted from step 0 are 3 steps further on, another path.
    shifted, _ = eager_loop(start_step=0)
    check_loop_trajectory(shifted, start=3)
    assert not np.allclose(trajectory, shifted, rtol=1e-3)


def test_attach_schedules_maps_momentum_to_beta_1_and_refuses_what_it_cannot_drive():
    adam = keras.optimizers.Adam(0.01)
    with kclr.attach_schedules(adam, momentum=0.5) as attached:
        assert adam.beta_1 == 0.9  # a stand-in replaces it inside apply only
        assert attached.values_at(0) == {"beta_1": 0.5}
    with pytest.raises(
        ValueError, match=r"Arguments `learning_rate`, `momentum` and `weight_decay`.*Received"
    ):
        kclr.attach_schedules(adam)
    with pytest.raises(
        ValueError, match=r"Argument `momentum` needs an optimizer with `momentum` or `beta_1`"
    ):
        kclr.attach_schedules(keras.optimizers.Adagrad(), momentum=0.5)
    with pytest.raises(ValueError, match=r"Argument `momentum`.*momentum=0.0"):
        kclr.attach_schedules(keras.optimizers.SGD(), momentum=0.5)
    with pytest.raises(ValueError, match=r"float `learning_rate`"):
        kclr.attach_schedules(keras.optimizers.SGD(LOOP_SCHEDULES["learning_rate"]), learning_rate=0.1)
    sgd_optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    first = kclr.attach_schedules(sgd_optimizer, learning_rate=0.1)
    with pytest.raises(ValueError, match=r"Argument `optimizer` already has schedules attached"):
        kclr.attach_schedules(sgd_optimizer, momentum=0.5)
    first.remove()
    first.remove()  # twice is fine
    kclr.attach_schedules(sgd_optimizer, momentum=0.5).remove()


def test_leaving_the_with_block_by_an_exception_removes_the_schedules():
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    with pytest.raises(KeyError), kclr.attach_schedules(optimizer, learning_rate=0.1):
        raise KeyError(LOOP_STEPS)
    assert "apply" not in vars(optimizer)
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.05, rtol=1e-6)
