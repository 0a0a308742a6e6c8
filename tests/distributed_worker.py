"""Runs OneCycle, CLR and LrRangeTest under one distribution setup and prints the results as JSON.

Not a test module: `test_distribution.py` launches it with `sys.executable`, in a fresh process,
because the devices have to be configured before TensorFlow or JAX initialise them:

    python tests/distributed_worker.py MODE [--jit | --no-jit]

MODE is `single` (one device), `mirrored` (`tf.distribute.MirroredStrategy` over two logical CPUs),
`multiworker` (`tf.distribute.MultiWorkerMirroredStrategy`; the caller sets `TF_CONFIG`) or
`dataparallel` (`keras.distribution.DataParallel`; the caller sets `XLA_FLAGS` for two host devices
before JAX is imported). The last line of standard output is `RESULT <json>`. The test also imports
`run_scenarios` to compute the single-device reference in its own process, the same way.
"""

import contextlib
import functools
import json
import os
import sys
import time

import numpy as np

RESULT_PREFIX = "RESULT "
MODES = ("single", "mirrored", "multiworker", "dataparallel")
BATCH = 8  # global batch: 4 a replica with two replicas
STEPS_PER_EPOCH = 4
EPOCHS = 3
TOTAL = STEPS_PER_EPOCH * EPOCHS
ONES = np.ones((BATCH * STEPS_PER_EPOCH, 1), dtype="float32")
ZEROS = np.zeros_like(ONES)
_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(BATCH * STEPS_PER_EPOCH, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
X_VAL = _RNG.normal(size=(16, 3)).astype("float32")
Y_VAL = (X_VAL @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
MLP_WEIGHTS = [
    _RNG.normal(scale=0.5, size=(3, 4)).astype("float32"),
    np.zeros(4, dtype="float32"),
    _RNG.normal(scale=0.5, size=(4, 1)).astype("float32"),
    np.zeros(1, dtype="float32"),
]


def policies():
    import keras_one_cycle_clr as kclr

    return {
        "onecycle": lambda: kclr.OneCycle((0.01, 0.1), (0.95, 0.85)),
        "clr": lambda: kclr.CLR(2, (0.01, 0.1), (0.95, 0.85), 0.5, mode="triangular"),
    }


def optimizers():
    import keras

    return {
        "sgd": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        "adam": lambda: keras.optimizers.Adam(0.05),
    }


def one_weight_model(optimizer, jit_compile):
    """One weight, inputs of 1, targets 0: every sample's gradient is 2w, however batches are split."""
    import keras

    kernel = keras.initializers.Constant(1.0)
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer=kernel)]
    )
    model.compile(optimizer, "mse", jit_compile=jit_compile)
    return model


def mlp(optimizer, jit_compile):
    import keras

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer, "mse", jit_compile=jit_compile)
    model.set_weights(MLP_WEIGHTS)
    return model


def weight_recorder():
    import keras

    class WeightRecorder(keras.callbacks.Callback):
        """The single weight after every step."""

        def __init__(self):
            super().__init__()
            self.steps, self.weights = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(self.epoch * STEPS_PER_EPOCH + batch)
            self.weights.append(float(self.model.get_weights()[0].ravel()[0]))

    return WeightRecorder()


def state(model):
    """Weights and optimizer variables as float64 arrays (exact for float32 and int values)."""
    arrays = [*model.get_weights(), *(np.asarray(v.numpy()) for v in model.optimizer.variables)]
    return [a.astype("float64") for a in arrays]


def devices_holding(variable):
    """How many devices hold a copy of `variable`: 2 shows the run really was distributed."""
    value = variable.value
    if hasattr(value, "sharding"):  # a JAX array
        return len(value.sharding.device_set)
    if hasattr(value, "values"):  # a tf.distribute MirroredVariable
        return len(value.values)
    return 1


def _as_list(array):
    return None if array is None else np.asarray(array, dtype="float64").tolist()


def trajectory(policy_name, optimizer_name, scope, jit_compile):
    with scope():
        model = one_weight_model(optimizers()[optimizer_name](), jit_compile)
    policy = policies()[policy_name]()
    attribute = "beta_1" if optimizer_name == "adam" else "momentum"
    recorder = weight_recorder()
    history = model.fit(
        ONES, ZEROS, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=[policy, recorder]
    )
    return {
        "steps": recorder.steps,
        "weights": recorder.weights,
        "learning_rate": history.history["learning_rate"],
        "momentum": history.history["momentum"],
        "iterations": int(model.optimizer.iterations.numpy()),
        "devices": devices_holding(model.weights[0]),
        # Under MirroredStrategy each replica thread runs the injected apply: what is left afterwards?
        "momentum_attribute_after": type(getattr(model.optimizer, attribute)).__name__,
    }


def mlp_onecycle(scope, jit_compile):
    with scope():
        model = mlp(optimizers()["sgd"](), jit_compile)
    policy = policies()["onecycle"]()
    history = model.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=[policy])
    return {"weights": [_as_list(w) for w in model.get_weights()], "loss": history.history["loss"]}


def range_test(scope, jit_compile):
    """A range test on a model that has trained an epoch (non-zero momentum buffers, counter at 4)."""
    import keras_one_cycle_clr as kclr

    with scope():
        model = mlp(optimizers()["sgd"](), jit_compile)
    model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    before = state(model)
    test = kclr.LrRangeTest(
        (1e-3, 1.0),
        wd_list=[0.0, 0.01],
        steps=6,
        batches_per_step=2,
        validation_data=(X_VAL, Y_VAL),
        validation_batch_size=8,
        batches_per_val=2,
    )
    epochs = test.find_n_epoch(X, BATCH)
    model.fit(X, Y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0, callbacks=[test])
    after = state(model)
    return {
        "loss": _as_list(test.loss),
        "val_loss": _as_list(test.val_loss),
        "restore_max_abs_diff": max(float(np.abs(a - b).max()) for a, b in zip(before, after, strict=True)),
        "restore_shapes_equal": [a.shape for a in before] == [b.shape for b in after],
        "learning_rate_after": float(np.asarray(model.optimizer.learning_rate)),
        # The sweeps replace weight_decay (None here) inside each step: what is left afterwards?
        "weight_decay_after": type(model.optimizer.weight_decay).__name__,
    }


def lr_find_fresh(scope, jit_compile):
    """`lr_find` on a just-compiled model, its optimizer not built yet."""
    import keras

    import keras_one_cycle_clr as kclr

    with scope():
        model = mlp(optimizers()["sgd"](), jit_compile)
    # lr_find fits with Keras's default shuffle=True: the same seed gives every run the same batches.
    keras.utils.set_random_seed(0)
    test = kclr.lr_find(model, X, Y, batch_size=BATCH, lr_range=(1e-3, 1.0), steps=8, batches_per_step=2)
    return {
        "loss": _as_list(test.loss),
        "weights_max_abs_diff": max(
            float(np.abs(a - b).max()) for a, b in zip(MLP_WEIGHTS, model.get_weights(), strict=True)
        ),
        "iterations": int(model.optimizer.iterations.numpy()),
        "optimizer_devices": devices_holding(model.optimizer.variables[-1]),
    }


def run_scenarios(scope=contextlib.nullcontext, jit_compile=True):
    """Every scenario, models built and compiled under `scope()`, as a JSON-able dict."""
    scenarios = {
        "onecycle-sgd": functools.partial(trajectory, "onecycle", "sgd"),
        "onecycle-adam": functools.partial(trajectory, "onecycle", "adam"),
        "clr-sgd": functools.partial(trajectory, "clr", "sgd"),
        "mlp-onecycle": mlp_onecycle,
        "range-test": range_test,
        "lr-find-fresh": lr_find_fresh,
    }
    results = {}
    for name, scenario in scenarios.items():
        start = time.perf_counter()
        results[name] = scenario(scope, jit_compile)
        results[name]["seconds"] = round(time.perf_counter() - start, 2)
    return results


def plain_fit_error(scope):
    """The error a plain `fit`, without any callback, raises under `scope`, or None."""
    import keras

    with scope():
        model = one_weight_model(keras.optimizers.SGD(0.05), jit_compile=False)
    try:
        model.fit(ONES, ZEROS, batch_size=BATCH, epochs=1, verbose=0)
    except ValueError as error:  # raised while tracing, before any collective op runs
        return str(error).splitlines()[0]
    return None


def patch_keras_for_multiworker():
    """Works around two Keras 3.15 bugs that make any `fit` fail under MultiWorkerMirroredStrategy.

    Neither involves the callbacks; `plain_fit_error` shows them on a plain fit.

    1. Before the first step, `TensorFlowTrainer._maybe_symbolic_build`
       (`keras/src/backend/tensorflow/trainer.py`) averages a batch over replicas with
       `strategy.reduce("MEAN", (x, y), axis=None)`, only to learn its shapes. MirroredStrategy maps
       its reduction over that structure (`_reduce_to` in `tensorflow/python/distribute/
       mirrored_strategy.py`); MultiWorkerMirroredStrategy hands the whole tuple to
       `CollectiveAllReduce.reduce` (`collective_all_reduce_strategy.py`, `_reduce_to`), which
       fails: "Attempt to convert a value (PerReplica: ...) with an unsupported type to a Tensor"
       (keras-team/keras#20585, tensorflow/tensorflow#72388). Here one replica's batch gives the shapes.
    2. `reduce_per_replica` in the same file averages each step's logs over workers with
       `strategy.reduce("MEAN", v, axis=0)`; the logs are scalars, so tracing fails: "Invalid
       reduction dimension 0 for input with 0 dimensions". Here scalars are averaged over replicas
       with `axis=None`, what the single-worker path (`tf.reduce_mean` of the local results) does.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce_per_replica = trainer.reduce_per_replica

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if data_batch is None and iterator is not None:
            # (begin, end, batches) from Keras 3.11 on, (step, batches) before.
            for *_, batches in iterator:
                distributed = next(batches)
                data_batch = tree.map_structure(
                    lambda v: self.distribute_strategy.experimental_local_results(v)[0], distributed
                )
                break
        return symbolic_build(self, data_batch=data_batch)

    def reduce_scalars_per_replica(values, strategy, reduction="auto"):
        if reduction == "auto" and trainer._collective_all_reduce_multi_worker(strategy):

            def mean(v):
                return strategy.reduce("MEAN", v, axis=None if v.shape.rank == 0 else 0)

            return tree.map_structure(mean, values)
        return reduce_per_replica(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_scalars_per_replica


def setup(mode):
    """Configures the devices for `mode`; returns (scope, number of replicas, plain_fit_error)."""
    if mode in ("mirrored", "multiworker"):
        import tensorflow as tf

        if mode == "mirrored":
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
            strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
            return strategy.scope, strategy.num_replicas_in_sync, None
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        error = plain_fit_error(strategy.scope)
        patch_keras_for_multiworker()
        return strategy.scope, strategy.num_replicas_in_sync, error
    if mode == "dataparallel":
        import jax
        import keras

        devices = jax.devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return contextlib.nullcontext, len(devices), None
    return contextlib.nullcontext, 1, None


def main(argv):
    mode = argv[1]
    if mode not in MODES:
        msg = f"MODE must be one of {MODES}. Received: {mode!r}"
        raise SystemExit(msg)
    jit_compile = "--no-jit" not in argv[2:]
    scope, replicas, keras_error = setup(mode)
    import keras

    keras.utils.set_random_seed(0)
    result = {
        "mode": mode,
        "backend": keras.backend.backend(),
        "replicas": replicas,
        "jit_compile": jit_compile,
        "plain_fit_error_without_patch": keras_error,
        "scenarios": run_scenarios(scope, jit_compile),
    }
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    if mode == "multiworker":
        # At interpreter exit TensorFlow shuts the cluster's coordination service down, and a worker
        # waits there for its peer's heartbeats to time out: 20 s to 80 s measured here. Both workers
        # are done (their last step was a collective), so skip that.
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
