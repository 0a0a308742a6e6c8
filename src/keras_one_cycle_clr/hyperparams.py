"""How an optimizer's learning rate, momentum and weight decay follow a schedule inside its step.

Keras 3 optimizers read `momentum`, `beta_1` and `weight_decay` as Python floats while TensorFlow and
JAX trace the train step, so a value set from a callback mid-fit never reaches the compiled step. This
module wraps the optimizer's `apply` so that, inside the traced step, each scheduled hyper-parameter is
looked up in a table of per-step values by the optimizer's own step counter:

- the learning rate is assigned to the optimizer's learning-rate variable (an in-graph assign, so any
  reader of `optimizer.learning_rate`, TensorBoard included, sees the value that trained);
- `momentum`, `beta_1` and `weight_decay` are replaced, for the duration of that one `apply`, by the
  step's value: a tensor on TensorFlow and JAX, a Python float on PyTorch, whose eager fused optimizers
  (`keras/src/backend/torch/optimizers/`) need a float and read it on every step anyway.

On TensorFlow and JAX the tables and the step at which they start live in one variable (on JAX it
joins the optimizer's own while the injection is installed, since JAX passes only those into the
compiled step, and is kept out of saved files). So new values reach the compiled step without a retrace, and a
compiled step that carries the tables is traced once per model, table shape and optimizer
configuration, then reused by later fits and sweeps (`install(model)`). Nothing crosses from Python
per step. On PyTorch the step runs eagerly anyway; the look-up costs about 10 µs a step there
(BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import warnings

import keras
import numpy as np
from keras import ops

MOMENTUM_ATTRIBUTES = ("beta_1", "momentum")  # Adam family first: Lion and others have both names
_TORCH = keras.backend.backend() == "torch"
_JAX = keras.backend.backend() == "jax"
_COMPILED_STEPS = "_kclr_compiled_steps"  # the cache's key in a model's __dict__


def innermost_optimizer(optimizer):
    """The optimizer that really updates the weights (unwraps `LossScaleOptimizer`).

    Example:

    >>> import keras
    >>> inner = keras.optimizers.SGD()
    >>> innermost_optimizer(keras.optimizers.LossScaleOptimizer(inner)) is inner
    True
    """
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer


def raw_step(optimizer):
    """The optimizer's step counter as a Python int, counting every batch also under gradient
    accumulation (where `optimizer.iterations` counts applied updates)."""
    return int(innermost_optimizer(optimizer)._iterations.numpy())


def momentum_attribute(optimizer, *, argument="momentum_range"):
    """The attribute a momentum schedule drives: `beta_1` (Adam family) or `momentum` (SGD, RMSprop).

    Example:

    >>> import keras
    >>> momentum_attribute(keras.optimizers.Adam()), momentum_attribute(keras.optimizers.SGD(momentum=0.9))
    ('beta_1', 'momentum')

    Args:
        optimizer: A Keras optimizer, wrapped or not.
        argument: The name of the user's argument, for messages. Defaults to "momentum_range".

    Returns:
        `"beta_1"`, `"momentum"`, or None (with a warning) for an optimizer that has neither.

    Raises:
        ValueError: for an optimizer built without momentum (`SGD(momentum=0.0)` has no momentum
            buffers to cycle).
    """
    optimizer = innermost_optimizer(optimizer)
    for name in MOMENTUM_ATTRIBUTES:
        value = getattr(optimizer, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value == 0:
                msg = (
                    f"Argument `{argument}` needs an optimizer with momentum, but "
                    f"{type(optimizer).__name__} was created with {name}=0.0, which builds no "
                    f"momentum buffers. Create it with {name} > 0 (for example "
                    f"{type(optimizer).__name__}({name}=0.9)), or pass {argument}=None."
                )
                raise ValueError(msg)
            return name
    warnings.warn(
        f"{type(optimizer).__name__} has neither `momentum` nor `beta_1`: `{argument}` is ignored "
        "and only the learning rate is cycled.",
        stacklevel=3,
    )
    return None


class _InStepValue:
    """A hyper-parameter's value for the step being traced, standing in for the optimizer's float.

    Keras's update code converts it to a tensor (`ops.cast(self.momentum, dtype)`) and also asks
    configuration questions of it in Python (`if self.momentum != 0`); the first get the traced
    value, the second the configured one.
    """

    __hash__ = None

    def __init__(self, configured, value):
        self._configured = configured
        self._value = value

    def __tf_tensor__(self, dtype=None, name=None):
        import tensorflow as tf

        return tf.convert_to_tensor(self._value, dtype=dtype, name=name)

    def __jax_array__(self):
        return self._value

    def __eq__(self, other):
        return self._configured == other

    def __ne__(self, other):
        return self._configured != other

    def __gt__(self, other):
        return self._configured > other

    def __lt__(self, other):
        return self._configured < other

    def __add__(self, other):
        return self._value + other

    def __radd__(self, other):
        return other + self._value

    def __sub__(self, other):
        return self._value - other

    def __rsub__(self, other):
        return other - self._value

    def __mul__(self, other):
        return self._value * other

    def __rmul__(self, other):
        return other * self._value


def optimizer_chain(optimizer):
    """The optimizer and every optimizer it wraps, outermost first."""
    chain = [optimizer]
    while hasattr(chain[-1], "inner_optimizer"):
        chain.append(chain[-1].inner_optimizer)
    return chain


LOSS_COUNT = "_kclr_loss_count"  # the key under which a counting step reports it, popped at once


@contextlib.contextmanager
def _own_trace(model, count_loss):
    """The train function Keras builds inside traces a step of its own, reporting the loss count.

    On JAX, a function object of its own per compiled step: JAX caches traces by function and input
    shapes, and a model's bound `train_step` compares equal to itself, so a step traced for other
    tables of the same shapes (say momentum's instead of weight decay's) would be reused, silently.
    With `count_loss`, the step also returns the sample count of the model's running loss mean
    (`model._loss_tracker.count`) after its update, under `LOSS_COUNT`: `_counting` pops it.
    """
    if not (_JAX or count_loss):
        yield
        return
    train_step = model.train_step
    if _JAX:
        index = _metric_index(model, model._loss_tracker.count) if count_loss else None

        def own_train_step(state, data):
            logs, state = train_step(state, data)
            if index is not None:
                logs = {**logs, LOSS_COUNT: state[3][index]}
            return logs, state

    else:
        count = model._loss_tracker.count

        def own_train_step(data):
            return {**train_step(data), LOSS_COUNT: ops.convert_to_tensor(count)}

    own = model.__dict__.get("train_step", _MISSING)  # a train_step set on the model itself stays
    model.__dict__["train_step"] = own_train_step
    try:
        yield
    finally:
        if own is _MISSING:
            del model.__dict__["train_step"]
        else:
            model.__dict__["train_step"] = own


_MISSING = object()


def _metric_index(model, variable):
    return next((i for i, v in enumerate(model.metrics_variables) if v is variable), None)


def _counting(train_function):
    """Wraps a train function whose step reports the loss count: it keeps the count of the latest
    call in `.loss_count` (a backend scalar) and returns the logs without it."""

    def counting_train_function(*args):
        result = train_function(*args)
        logs = result[0] if _JAX else result  # JAX: (logs, state)
        counting_train_function.loss_count = logs.pop(LOSS_COUNT, None)
        return result

    counting_train_function.loss_count = None
    return counting_train_function


def _can_count_loss(model):
    """Whether a compiled step can report the loss count: TensorFlow and JAX, a model with Keras's
    loss tracker, not under a tf.distribute strategy (whose replicas count apart)."""
    count = getattr(getattr(model, "_loss_tracker", None), "count", None)
    if _TORCH or count is None:
        return False
    if _JAX:  # under Flax NNX, Keras traces `type(model).train_step`: no step of our own
        nnx = getattr(keras.config, "is_nnx_enabled", lambda: False)()
        return not nnx and _metric_index(model, count) is not None
    import tensorflow as tf

    return not isinstance(count.value, tf.distribute.DistributedValues) and not tf.distribute.has_strategy()


class _CompiledSteps:
    """The train functions traced with tables, for one model, reused while its own one stays the same.

    `base` is the model's plain train function (the one Keras made for `fit`); `entries` maps a table
    layout (names, length, optimizer) to `(train_function, variables)`.
    """

    def __init__(self, base):
        self.base = base
        self.entries = {}


def compiled_steps(model):
    """The model's cache of train functions traced with tables, or None.

    It lives on the model (in its `__dict__`, out of Keras's tracking) because its train functions
    refer to the model: a cache beside the model would keep every model alive.
    """
    return model.__dict__.get(_COMPILED_STEPS)


def forget_compiled_steps(model):
    """Drops the model's cached train functions: the next installation traces afresh."""
    model.__dict__.pop(_COMPILED_STEPS, None)


class ScheduleInjection:
    """Makes an optimizer's hyper-parameters follow per-step tables inside its update step.

    `tables` maps `"learning_rate"`, `"momentum"`, `"beta_1"` or `"weight_decay"` to a 1-D array of
    values, all of one length `n`. At the optimizer's `k`-th applied update since `start_step`, entry
    `clip(k, 0, n - 1)` applies; with `gradient_accumulation_steps=a`, `k` counts applied updates,
    `(raw step - start_step) // a`, so the schedule advances once per update.

    Example:

    >>> import keras, numpy as np
    >>> from keras_one_cycle_clr.hyperparams import ScheduleInjection
    >>> optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    >>> injection = ScheduleInjection(optimizer, {"momentum": np.linspace(0.95, 0.85, 10)})
    >>> injection.install()
    >>> injection.remove()
    """

    def __init__(self, optimizer, tables, start_step=0):
        self.outer_optimizer = optimizer
        self.optimizer = innermost_optimizer(optimizer)
        self.tables = self._as_tables(tables)
        lengths = {len(values) for values in self.tables.values()}
        if len(lengths) != 1 or 0 in lengths:
            msg = f"All tables must have one non-zero length. Received lengths: {sorted(lengths)}"
            raise ValueError(msg)
        self.num_steps = lengths.pop()
        self.start_step = int(start_step)
        self.accumulation = int(self.optimizer.gradient_accumulation_steps or 1)
        if "learning_rate" in self.tables and not isinstance(self.optimizer._learning_rate, keras.Variable):
            msg = (
                "A learning-rate schedule can only be installed on an optimizer created with a float "
                "`learning_rate`; this one was created with "
                f"learning_rate={self.optimizer._learning_rate!r}. Either pass the schedule as the "
                "optimizer's `learning_rate` and drop the callback, or create the optimizer with a float."
            )
            raise ValueError(msg)
        self._class_apply = type(self.optimizer).apply
        self._variable = None  # the start step and the tables, packed, as the compiled step reads them
        self._model = None
        self._compiled = None
        self._count_loss = False

    @staticmethod
    def _as_tables(tables):
        return {name: np.asarray(values, dtype=np.float32) for name, values in tables.items()}

    @property
    def installed(self):
        return getattr(self.optimizer.__dict__.get("apply"), "__self__", None) is self

    @property
    def layout(self):
        """What a compiled step depends on: the table names, their length, the optimizer and its
        configuration (its floats, `weight_decay` or `clipnorm` say, are baked into the trace)."""
        config = {
            key: value
            for key, value in self.optimizer.get_config().items()
            if key != "learning_rate" and key not in self.tables
        }
        return (
            tuple(sorted(self.tables)),
            self.num_steps,
            id(self.optimizer),
            repr(sorted(config.items())),
            self._count_loss,
        )

    def loss_count(self):
        """The sample count of the model's running loss mean after the latest call of the train
        function, as a Python float, from the step itself; None unless installed with
        `count_loss=True` where the backend allows it (TensorFlow and JAX, no tf.distribute)."""
        if not (self._count_loss and self.installed):
            return None
        count = getattr(self._model.train_function, "loss_count", None)
        return None if count is None else float(count)

    def install(self, model=None, on_abandon=None, *, count_loss=False):
        """Routes the optimizer's `apply` through the tables. Replaces an earlier injection.

        Args:
            model: The model training with this optimizer, or None. Given (from inside `fit`, after
                Keras made its train function), the model's train function becomes one traced with
                the tables: the one an earlier injection of the same layout traced, if the model's
                own train function has not changed since, else a new one. `remove()` gives the model
                its own train function back. Without a model, rebuild the train function yourself.
            on_abandon: With a model: what to call, instead of `remove()`, when the model's `fit`
                is called while this injection is still installed, which happens when the fit that
                installed it raised (Keras then skips `on_train_end`). It must remove the
                injection. Defaults to `remove`.
            count_loss: With a model, on TensorFlow and JAX: the compiled step also reports the
                sample count of the model's running loss mean after each call of the train
                function, read by `loss_count()` without a read of its own (a range test needs it
                for every learning rate). Defaults to False.
        """
        previous = getattr(self.optimizer.__dict__.get("apply"), "__self__", None)
        if isinstance(previous, ScheduleInjection):
            previous.remove()
        self._learning_rate_before = self.optimizer._learning_rate.numpy()
        self._configured = {
            name: getattr(self.optimizer, name) for name in self.tables if name != "learning_rate"
        }
        self._model = model
        self._count_loss = bool(count_loss) and model is not None and _can_count_loss(model)
        reuse = None
        if model is not None and not _TORCH:  # torch looks the apply up eagerly every step
            self._compiled = compiled_steps(model)
            if self._compiled is None or self._compiled.base is not model.train_function:
                self._compiled = model.__dict__[_COMPILED_STEPS] = _CompiledSteps(model.train_function)
            reuse = self._compiled.entries.get(self.layout)
            if reuse is not None:
                self._variable = reuse[1]
        if not _TORCH:
            if self._variable is None:
                self._variable = self._make_variable(model)
            self._write_variables()
            self._attach_variables()
        self.optimizer.__dict__["apply"] = self._apply
        if self._compiled is not None:
            if reuse is None:
                with _own_trace(model, self._count_loss):
                    model.make_train_function(force=True)
                if self._count_loss:
                    model.train_function = _counting(model.train_function)
                self._compiled.entries[self.layout] = (model.train_function, self._variable)
            else:
                model.train_function = reuse[0]
                if self._count_loss:
                    model.train_function.loss_count = None  # not the previous fit's last count
        if model is not None:
            self._watch_for_another_fit(model, on_abandon or self.remove)

    def _watch_for_another_fit(self, model, on_abandon):
        # Keras skips `on_train_end` when `fit` raises (another callback's error, Ctrl-C), so the
        # injection would stay and a later fit would follow the old tables. A `fit` that starts
        # while this injection is installed means the fit that installed it is over.
        def fit(*args, **kwargs):
            if self.installed:
                warnings.warn(
                    "A keras-one-cycle-clr schedule from a fit that did not finish was still "
                    "installed on this model: it is removed, and a range test's model restored, "
                    "before this fit.",
                    stacklevel=2,
                )
                on_abandon()
            return type(model).fit(model, *args, **kwargs)

        fit.watcher = self
        model.__dict__["fit"] = fit

    def set_tables(self, tables=None, start_step=None):
        """New values (same names and length) that reach the compiled step without a retrace.

        On JAX during `fit`, call it where the model's state is synced (after touching
        `callback.model`), as for any variable assigned from a callback.
        """
        if tables is not None:
            tables = self._as_tables(tables)
            if set(tables) != set(self.tables) or any(len(v) != self.num_steps for v in tables.values()):
                msg = (
                    f"set_tables needs the names {sorted(self.tables)} with {self.num_steps} values "
                    f"each. Received: { ({k: len(v) for k, v in tables.items()}) }"
                )
                raise ValueError(msg)
            self.tables = tables
        if start_step is not None:
            self.start_step = int(start_step)
        if self._variable is not None:
            self._write_variables()

    def remove(self):
        """Gives the optimizer its own `apply` back and its learning rate as it was before `install`.

        Given a model at `install`, the model gets its own train function back. Otherwise the model's
        train function, if traced with the injection, still holds it: rebuild it
        (`model.train_function = None`) before training without the schedules.
        """
        if not self.installed:
            return
        del self.optimizer.__dict__["apply"]
        self._detach_variables()
        if "learning_rate" in self.tables:
            self.optimizer._learning_rate.assign(self._learning_rate_before)
        if self._model is not None:
            watcher = self._model.__dict__.get("fit")
            if getattr(watcher, "watcher", None) is self:
                del self._model.__dict__["fit"]
        if self._compiled is not None and self._model is not None:
            entry = self._compiled.entries.get(self.layout)
            if entry is not None and self._model.train_function is entry[0]:
                self._model.train_function = self._compiled.base

    def values_at(self, step):
        """The tables' values at raw optimizer step `step` (a Python int), as Python floats."""
        index = min(max((int(step) - self.start_step) // self.accumulation, 0), self.num_steps - 1)
        return {name: float(values[index]) for name, values in self.tables.items()}

    # -- the tables as one variable (TensorFlow, JAX) ---------------------------------------------
    # One variable, not one per table: on JAX every array of the state costs the fit loop a few µs
    # a step (passed in and out of the compiled step, tracked by Keras), 2.7 µs each measured on a
    # 0.2 ms step. Layout: [start // 2**20, start % 2**20, table 0 ..., table 1 ...], float32: both
    # parts of the start step are exact in float32 up to 2**44 steps.
    _START_SPLIT = 2**20

    def _packed(self):
        start_high, start_low = divmod(self.start_step, self._START_SPLIT)
        return np.concatenate([[start_high, start_low], *(self.tables[name] for name in sorted(self.tables))])

    def _make_variable(self, model):
        scope = contextlib.nullcontext()
        strategy = getattr(model, "distribute_strategy", None)
        if strategy is not None and keras.backend.backend() == "tensorflow":
            scope = strategy.scope()  # under tf.distribute, variables are created in its scope
        with scope:
            return keras.Variable(self._packed(), dtype="float32", trainable=False, name="kclr_schedule")

    def _write_variables(self):
        self._variable.assign(self._packed().astype(np.float32))

    def _is_ours(self, variable):
        return variable is self._variable

    def _attach_variables(self):
        # JAX hands only the optimizer's variables to the compiled step: the tables join them, last.
        # A tf.function captures the variables it reads (and TensorFlow's tracking refuses to save
        # a list that had items deleted), so on TensorFlow they stay apart.
        if not _JAX:
            return
        self._detach_variables()
        self.optimizer._variables.append(self._variable)
        for optimizer in optimizer_chain(self.outer_optimizer):
            for method in ("save_own_variables", "load_own_variables"):
                optimizer.__dict__[method] = self._without_tables(getattr(type(optimizer), method), optimizer)

    def _detach_variables(self):
        if self._variable is None or not _JAX:
            return
        self._drop_tables_from(self.optimizer._variables)
        for optimizer in optimizer_chain(self.outer_optimizer):
            for method in ("save_own_variables", "load_own_variables"):
                optimizer.__dict__.pop(method, None)

    def _drop_tables_from(self, variables):
        # In place, by identity: `==` on variables compares values.
        dropped = []
        for index in reversed(range(len(variables))):
            if self._is_ours(variables[index]):
                dropped.insert(0, variables[index])
                del variables[index]
        return dropped

    def _without_tables(self, method, optimizer):
        # A checkpoint written mid-fit (ModelCheckpoint) holds the optimizer's own variables only.
        def call(store):
            tables = self._drop_tables_from(self.optimizer._variables)
            try:
                return method(optimizer, store)
            finally:
                self.optimizer._variables.extend(tables)

        return call

    # -- the step --------------------------------------------------------------------------------
    def _current_values(self):
        if _TORCH:  # eager: one host read of the counter, then plain floats
            # int() of the backing tensor: a quarter of the cost of .numpy() (measured, bench/)
            return self.values_at(self.optimizer._iterations.value)
        iterations = self.optimizer._iterations
        start_high, start_low = (ops.cast(self._variable[i], iterations.dtype) for i in (0, 1))
        updates = ops.cast(iterations - (start_high * self._START_SPLIT + start_low), "int32")
        if self.accumulation > 1:
            updates = ops.floor_divide(updates, self.accumulation)
        index = ops.clip(updates, 0, self.num_steps - 1)
        names = sorted(self.tables)
        offsets = np.arange(len(names), dtype="int32") * self.num_steps + 2
        values = ops.take(self._variable, index + offsets)  # one gather for every table
        return {name: values[i] for i, name in enumerate(names)}

    def _apply(self, grads, trainable_variables=None):
        optimizer = self.optimizer
        for name, value in self._current_values().items():
            if name == "learning_rate":
                optimizer._learning_rate.assign(value)
                continue
            setattr(optimizer, name, value if _TORCH else _InStepValue(self._configured[name], value))
        try:
            return self._class_apply(optimizer, grads, trainable_variables)
        finally:
            # The values read at install: under MirroredStrategy the replicas' `apply` calls overlap,
            # so what one finds on the optimizer may be another's stand-in.
            for name, value in self._configured.items():
                setattr(optimizer, name, value)
