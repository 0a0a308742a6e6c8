"""Every private Keras attribute or behaviour this package relies on, read here and nowhere else.

Each entry says what it is for and the Keras releases it was checked on. When Keras changes one of
them, this is the module to mend; `docs/keras-internals.md` has the measurements behind each.
"""

from __future__ import annotations

import contextlib
import re
import sys

import keras
import numpy as np

BACKEND = keras.backend.backend()
JAX = BACKEND == "jax"
TORCH = BACKEND == "torch"
TENSORFLOW = BACKEND == "tensorflow"
VERSION = keras.__version__
# (major, minor), for the switches below that no attribute can detect.
VERSION_INFO = tuple(int(part) for part in re.match(r"(\d+)\.(\d+)", VERSION).groups())


class KerasCompatibilityError(RuntimeError):
    """This Keras does something the package relies on differently: the schedules, or a range
    test's losses, would silently be wrong. Raised on the first step of a fit, naming what differed."""


def incompatible(what):
    """A `KerasCompatibilityError` saying `what` differed on this Keras and backend."""
    return KerasCompatibilityError(
        f"keras-one-cycle-clr does not work correctly with this Keras ({VERSION}, {BACKEND} backend): "
        f"{what}. Training was stopped before a wrong result was returned. Please report it with "
        "these versions; the Keras versions tested are listed in the README."
    )


# JAX's `train_step(state, data)` receives and returns
# (trainable, non_trainable, optimizer, metrics) variables; checked on 3.15.
_JAX_METRICS_STATE = 3


def inner_optimizers(optimizer):
    """The optimizer and every optimizer it wraps (`LossScaleOptimizer.inner_optimizer`), outermost
    first. Public attribute; checked on 3.15."""
    chain = [optimizer]
    while hasattr(chain[-1], "inner_optimizer"):
        chain.append(chain[-1].inner_optimizer)
    return chain


def step_counter(optimizer):
    """The variable counting every batch, also under gradient accumulation (where the public
    `iterations` counts applied updates): `optimizer._iterations`. Checked on 3.15."""
    return inner_optimizers(optimizer)[-1]._iterations


def raw_step(optimizer):
    """`step_counter` as a Python int."""
    return int(step_counter(optimizer).numpy())


def learning_rate_setting(optimizer):
    """What the optimizer was given as its learning rate (`optimizer._learning_rate`): a variable
    for a float, else the schedule or callable itself. Checked on 3.15."""
    return optimizer._learning_rate


def learning_rate_variable(optimizer):
    """The variable holding a float learning rate, or None when the learning rate is a schedule or
    a callable."""
    value = learning_rate_setting(optimizer)
    return value if isinstance(value, keras.Variable) else None


def optimizer_variable_list(optimizer):
    """The list behind `optimizer.variables` (`optimizer._variables`): on JAX only these, of all
    variables outside the model, reach the compiled step. Checked on 3.15."""
    return optimizer._variables


def loss_tracker_count(model):
    """The sample count of Keras's running loss mean (`model._loss_tracker`, a `Mean` metric), or
    None. Checked on 3.15."""
    return getattr(getattr(model, "_loss_tracker", None), "count", None)


class LossMeanRestart:
    """Restarts Keras's running loss mean (`model._loss_tracker`, a `Mean` whose `total` and `count`
    are float32 running sums) before the model's next train step, without a sync of JAX's state.

    Why: the range test takes each learning rate's mean loss from that running mean; over a sum
    since the epoch's start, float32 keeps about 1e-7 of the whole sum, and a learning rate whose
    loss is 1e-4 of the epoch's earlier ones lost half its digits (issue 22).

    - TensorFlow, PyTorch: the two variables are reset at once (two small assigns, no sync).
    - JAX: mid-fit the live metrics are in the state the fit loop passes to the train function, and
      the variables lag it; resetting them would need the whole state synced into the variables and
      back (a copy of every variable) per learning rate. Instead the model's train function is
      wrapped while installed, and its next call gets the tracker's entries of that state as zeros.
      Where the tracker is not found in the state (Flax NNX), the state is synced and reset.

    Read in `backend/jax/trainer.py` (`fit` calls `self.train_function(state, iterator)` with
    `state[_JAX_METRICS_STATE]` in `model.metrics_variables` order) and `metrics/reduction_metrics.py`
    of 3.15.

    Args:
        model: A compiled model during its `fit`, with Keras's loss tracker.
    """

    def __init__(self, model):
        self.model = model  # the model itself: a callback's `self.model` syncs JAX's state
        self.tracker = model._loss_tracker
        self._positions = None  # JAX: the tracker's variables' positions in the metrics state
        if JAX and not nnx_enabled():
            positions = [metric_index(model, variable) for variable in self.tracker.variables]
            self._positions = None if None in positions else positions
        # Host zeros, which the compiled step copies in: a device array would be donated to the
        # step (and deleted), and making one costs a dispatch (about 20 us) per restart.
        self._zeros = [np.zeros(variable.shape, variable.dtype) for variable in self.tracker.variables]
        self._pending = False

    def install(self, patches):
        """Wraps the model's train function (JAX), recording the change in `patches`."""
        if self._positions is not None:
            patches.set(
                self.model, "train_function", _RestartingTrainFunction(self, self.model.train_function)
            )

    def request(self):
        """Restarts the running mean: at once, or (JAX) in the state of the next train step."""
        if self._positions is not None:
            self._pending = True
            return
        sync_jax_state(self.model)  # JAX without the wrapper: reset the variables the loop reads next
        self.tracker.reset_state()

    def _state_for_call(self, state):
        if not self._pending:
            return state
        self._pending = False
        metrics = list(state[_JAX_METRICS_STATE])
        for position, zeros in zip(self._positions, self._zeros, strict=True):
            metrics[position] = zeros
        return (*state[:_JAX_METRICS_STATE], metrics, *state[_JAX_METRICS_STATE + 1 :])


class _RestartingTrainFunction:
    """A JAX train function `(state, data)` whose state gets `LossMeanRestart`'s pending restart."""

    def __init__(self, restart, function):
        self._restart = restart
        self._function = function

    def __call__(self, state, data):
        return self._function(self._restart._state_for_call(state), data)

    @property
    def loss_count(self):
        """The wrapped function's `loss_count` (what the compiled step reported), or None."""
        return getattr(self._function, "loss_count", None)


def batch_end_step(batch, steps_per_execution):
    """The last step of the execution whose `on_train_batch_end` received `batch`.

    With `steps_per_execution > 1`, Keras 3.11 and later pass the execution's last step (`end_step`;
    past the epoch's end for a short last chunk); Keras 3.8 to 3.10 pass its first, as they do to
    `on_train_batch_begin`. Read in `backend/*/trainer.py` of 3.8.0, 3.9.2, 3.10.0 (first) and
    3.11.0, 3.11.3, 3.12.4, 3.13.2, 3.14.1, 3.15.1 (last); measured on 3.10 TensorFlow and on 3.11.3
    TensorFlow and JAX. `OneCycle`/`CLR` and the range test check it once per fit (the guard).
    """
    if BATCH_END_IS_FIRST_STEP:
        return batch + steps_per_execution - 1
    return batch


# The switch of `batch_end_step`: Keras before 3.11 (3.8.0, 3.9.2, 3.10.0 read and measured; 3.11.0
# has `end_step`, measured on 3.11.3).
BATCH_END_IS_FIRST_STEP = VERSION_INFO < (3, 11)


def optimizer_variables_changed(model):
    """Tells Keras that the optimizer's variables changed after `fit` began (one appended on JAX).

    Keras 3.8 to 3.11 on JAX record the optimizer variables' shardings when `fit` starts
    (`_record_training_state_sharding_spec`) and the compiled step indexes that list by position
    (`_enforce_jax_state_sharding`): a variable appended later raised `IndexError` on the first
    step (measured on 3.8.0 and 3.10.0). They are recorded again here. Keras 3.12 and later have no
    such record, and this does nothing.
    """
    record = getattr(model, "_record_training_state_sharding_spec", None)
    if JAX and record is not None:
        record()


def test_on_batch_loss(model, x, y):
    """`model.test_on_batch(x, y)`'s loss for this batch alone, as a Python float.

    Keras before 3.15 does not reset the metrics in `test_on_batch` (called repeatedly, it reports a
    running mean over every call since the last reset: measured on 3.10, 3.12, 3.13, 3.14); from
    3.15 it does. The metrics are reset here first, on every release, so that both give the batch's
    own loss. The caller restarts whatever it kept of the running training mean.
    """
    model.reset_metrics()
    return float(model.test_on_batch(x, y, return_dict=True)["loss"])


def uses_weight_decay(optimizer, variables=None):
    """Whether the optimizer's step applies weight decay to any of `variables` (None: the ones it
    was built for, `optimizer._trainable_variables`), by `optimizer._use_weight_decay`, which
    `exclude_from_weight_decay` drives. Checked on 3.8, 3.15."""
    if variables is None:
        variables = optimizer._trainable_variables
    use = getattr(optimizer, "_use_weight_decay", None)
    return use is None or any(use(variable) for variable in variables)


def nnx_enabled():
    """Whether Flax NNX is on: Keras then traces `type(model).train_step`, not the instance's.
    `keras.config.is_nnx_enabled` is missing before 3.11 (read in 3.8.0 to 3.11.3)."""
    return getattr(keras.config, "is_nnx_enabled", lambda: False)()


def under_tf_distribution(variable):
    """Whether TensorFlow runs replicas (MirroredStrategy and friends), whose counts are per replica."""
    if not TENSORFLOW:
        return False
    import tensorflow as tf

    return isinstance(getattr(variable, "value", None), tf.distribute.DistributedValues) or (
        tf.distribute.has_strategy()
    )


def create_variable_scope(model):
    """Where a variable the compiled step reads must be created: a tf.distribute strategy's scope."""
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is not None and TENSORFLOW:
        return strategy.scope()
    return contextlib.nullcontext()


def metric_index(model, variable):
    """The position of `variable` in `model.metrics_variables` (JAX's metrics state), or None."""
    return next((i for i, v in enumerate(model.metrics_variables) if v is variable), None)


def train_step_with_outputs(model, outputs):
    """`model.train_step`, also returning `outputs()` of the state after the step in its logs.

    `outputs` maps a log key to a variable of the model's metrics. On TensorFlow the step reads the
    variable; on JAX, whose step is a pure function of its state, the value comes from the new
    metrics state (`_JAX_METRICS_STATE`, at the variable's position in `model.metrics_variables`).
    Also on JAX, a function object of its own: JAX caches traces by function and input shapes, and a
    model's bound `train_step` compares equal to itself, so a step traced earlier would be reused
    (checked on 3.15).
    """
    train_step = model.train_step
    if JAX:
        where = {key: metric_index(model, variable) for key, variable in outputs.items()}

        def own_train_step(state, data):
            logs, state = train_step(state, data)
            extra = {key: state[_JAX_METRICS_STATE][i] for key, i in where.items()}
            return {**logs, **extra}, state

        return own_train_step

    def own_train_step(data):
        logs = train_step(data)
        return {**logs, **{key: keras.ops.convert_to_tensor(v) for key, v in outputs.items()}}

    return own_train_step


def train_function_of(model, train_step):
    """A new train function of the model's, made from `train_step`: `make_train_function(force=True)`
    with `train_step` set on the model (as an instance attribute) while it is made, which is when
    TensorFlow and JAX bind `model.train_step`. A train_step the user set on the model itself stays.
    The model's own train function is put back. Checked on 3.15.
    """
    own_step = model.__dict__.get("train_step", _MISSING)
    own_function = model.train_function
    model.__dict__["train_step"] = train_step
    try:
        model.make_train_function(force=True)
        return model.train_function
    finally:
        model.train_function = own_function
        if own_step is _MISSING:
            del model.__dict__["train_step"]
        else:
            model.__dict__["train_step"] = own_step


_MISSING = object()


def logs_of(result):
    """The logs of a train function's result: JAX returns `(logs, state)`. Checked on 3.15."""
    return result[0] if JAX else result


def sync_jax_state(model):
    """On JAX, writes the trainer's live state back into the variables (`model.jax_state_sync()`):
    mid-fit, variables lag the state. Checked on 3.15."""
    if JAX:
        model.jax_state_sync()


def host_function(function, static_argnums):
    """`function` for evaluating `keras.ops` code on the host outside a train step: jitted on JAX,
    whose eager dispatch compiles every op for every new shape (about 2 s for one schedule's ~50
    ops, measured on JAX 0.10). TensorFlow (about 0.5 ms an eager op here, against seconds to trace
    a `tf.function` once) and PyTorch run it eagerly."""
    if JAX:
        import jax

        return jax.jit(function, static_argnums=static_argnums)
    return function


def validation_loss_function(model, x, y):
    """A function of no arguments giving the model's mean loss on `(x, y)` (one batch) at the
    current weights, mid-fit, as a Python float, and touching no metric: or None where there is no
    such path (a tf.distribute strategy), and the caller uses `test_on_batch`.

    - JAX: mid-fit the live state is in `model._jax_state` (the model's own variables are purged);
      `model.test_step` is jitted here without donating its state (Keras's test function donates
      it) and called on that state with fresh metric variables, whose result is dropped.
    - TensorFlow, PyTorch: `model._compute_loss` (what `test_step` adds to the loss tracker) on
      `model(x, training=False)`, in a `tf.function` / under `torch.no_grad`.

    Checked on 3.15.
    """
    x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    if JAX:
        import jax

        test_step = jax.jit(model.test_step)
        model.reset_metrics()
        fresh_metrics = [variable.value for variable in model.metrics_variables]

        def jax_loss():
            state = model._jax_state
            # Keras's attribute tracking wraps them in its own list type: plain lists for jit.
            live = (list(state["trainable_variables"]), list(state["non_trainable_variables"]), fresh_metrics)
            logs, _ = test_step(live, (x, y))
            return float(logs["loss"])

        return jax_loss

    def loss():
        return model._compute_loss(
            x=x, y=y, y_pred=model(x, training=False), sample_weight=None, training=False
        )

    if TENSORFLOW:
        import tensorflow as tf

        if tf.distribute.has_strategy() or model.distribute_strategy.num_replicas_in_sync > 1:
            return None
        compiled = tf.function(loss)
        return lambda: float(compiled())
    import torch

    def torch_loss():
        with torch.no_grad():
            return float(loss())

    return torch_loss


def fit_callbacks(callback):
    """Every callback of the `fit` (or other `CallbackList`) now calling one of `callback`'s hooks,
    `callback` included, in their order; None when `callback` is not called by a `CallbackList`
    (hooks called by hand).

    Keras gives a callback no reference to the others: `fit` wraps them in a
    `keras.callbacks.CallbackList` (`callbacks/callback_list.py`), whose hooks call each callback's
    hook in a loop. That list is the `self` of a frame on the call stack. The outermost one holding
    `callback` is taken, and a `CallbackList` passed inside another is opened. Checked on 3.15
    (TensorFlow, JAX and PyTorch trainers alike).
    """
    found = None
    frame = sys._getframe(1)
    while frame is not None:
        holder = frame.f_locals.get("self") if frame.f_code.co_name.startswith("on_") else None
        if isinstance(holder, keras.callbacks.CallbackList):
            members = _flat_callbacks(holder.callbacks)
            if any(member is callback for member in members):
                found = members
        frame = frame.f_back
    del frame
    return found


def _flat_callbacks(callbacks):
    flat = []
    for member in callbacks:
        if isinstance(member, keras.callbacks.CallbackList):
            flat.extend(_flat_callbacks(member.callbacks))
        else:
            flat.append(member)
    return flat


def earliest_early_stop(early_stopping, first_epoch):
    """The first epoch (0-based) at whose end `early_stopping` can stop a fit starting at
    `first_epoch`, whatever the monitored values.

    Mirrors `EarlyStopping.on_epoch_end` (`callbacks/early_stopping.py`, checked on 3.15): it looks
    at epochs from `start_from_epoch` on; the first it looks at is always a new best (which resets
    its wait count unless it misses `baseline`); it stops once `wait >= patience` and `epoch > 0`,
    `wait` counting the epochs since the last reset.
    """
    first_seen = max(int(early_stopping.start_from_epoch or 0), first_epoch)
    patience = int(early_stopping.patience or 0)
    # The first epoch seen never stops; after it, wait grows by one an epoch from 0 (or from 1 when
    # that epoch missed `baseline`).
    wait_after_first = 0 if early_stopping.baseline is None else 1
    return max(first_seen + max(patience - wait_after_first, 1), 1)


def print_msg(message):
    """Prints as Keras's own callbacks do: to stdout, or to absl logging when Keras's interactive
    logging is off (`keras.config.disable_interactive_logging`). `keras.src.utils.io_utils.print_msg`,
    checked on 3.15."""
    from keras.src.utils import io_utils

    io_utils.print_msg(message)
