"""The train functions traced with schedules, cached on their model, and what they report beside the logs.

A train step that reads its schedules from a `ScheduleVariable` serves every later one-cycle, cyclical
and range-test fit of its model, whatever their lengths: it is traced once per model and layout (the
hyper-parameters it drives, their packing, the optimizer and its configuration) and reused while the
model's own train function stays the same (TensorFlow and JAX; PyTorch runs the step eagerly).

A step traced for the range test also reports the sample count of the running loss mean
(`LOSS_COUNT`, which `last_loss_count` reads): mid-fit on JAX the variables lag the state, and on
TensorFlow an eager read of the count cost more than the step (docs/keras-internals.md).
"""

from __future__ import annotations

from keras_one_cycle_clr import _keras_compat as compat

LOSS_COUNT = "_kclr_loss_count"  # the key under which the compiled step reports it, popped at once
_CACHE_KEY = "_kclr_compiled_steps"  # the cache's key in a model's __dict__


def layout(optimizer, names, slots, counts_loss):
    """What a compiled step depends on: the hyper-parameters it drives, the packing, the optimizer
    and the rest of its configuration (its floats, `clipnorm` say, are baked into the trace), and
    whether it reports the loss count."""
    config = {
        key: value
        for key, value in optimizer.get_config().items()
        if key != "learning_rate" and key not in names
    }
    return (tuple(names), tuple(slots), id(optimizer), repr(sorted(config.items())), counts_loss)


class CompiledSteps:
    """The train functions traced with schedules, for one model, reused while the model's own one
    stays the same. `entries` maps a `layout` to `(train_function, schedule_variable)`: the step and
    the `ScheduleVariable` it reads, which a later injection of the same layout writes its own
    schedules into."""

    def __init__(self, base):
        self.base = base
        self.entries = {}

    @classmethod
    def of(cls, model):
        """The model's cache; a new one when the model's own train function changed (a recompile)."""
        steps = compiled_steps(model)
        if steps is None or steps.base is not model.train_function:
            steps = model.__dict__[_CACHE_KEY] = cls(model.train_function)
        return steps

    def variable(self, layout):
        """The `ScheduleVariable` read by the step cached for `layout`, or None."""
        entry = self.entries.get(layout)
        return None if entry is None else entry[1]

    def train_function(self, model, layout, variable, counts_loss):
        """The train function cached for `layout`, or a new one traced from the model's `train_step`
        and cached with `variable`. A step that counts reports nothing before its first call."""
        entry = self.entries.get(layout)
        if entry is None:
            entry = self.entries[layout] = (_trace(model, counts_loss), variable)
        if counts_loss:
            entry[0].loss_count = None  # not the previous fit's last count
        return entry[0]


def compiled_steps(model):
    """The model's cache of train functions traced with schedules (a `CompiledSteps`), or None.

    It lives on the model (in its `__dict__`, out of Keras's tracking) because its train functions
    refer to the model: a cache beside the model would keep every model alive.
    """
    return model.__dict__.get(_CACHE_KEY)


def forget_compiled_steps(model):
    """Drops the model's cached train functions: the next installation traces afresh."""
    model.__dict__.pop(_CACHE_KEY, None)


def _trace(model, counts_loss):
    train_step = model.train_step
    if counts_loss or compat.JAX:  # JAX: a function object of its own, always
        outputs = {LOSS_COUNT: compat.loss_tracker_count(model)} if counts_loss else {}
        train_step = compat.train_step_with_outputs(model, outputs)
    function = compat.train_function_of(model, train_step)
    return _counting(function) if counts_loss else function


# -- the loss count ----------------------------------------------------------------------------------


def can_count_loss(model):
    """Whether the compiled step can report the loss count: TensorFlow and JAX, a model with Keras's
    loss tracker, not under a tf.distribute strategy (whose replicas count apart)."""
    count = compat.loss_tracker_count(model)
    if compat.TORCH or count is None:
        return False
    if compat.JAX:  # under Flax NNX, Keras traces `type(model).train_step`: no step of our own
        return not compat.nnx_enabled() and compat.metric_index(model, count) is not None
    return not compat.under_tf_distribution(count)


def _counting(train_function):
    """Wraps a train function whose step reports the loss count: it keeps the count of the latest
    call in `.loss_count` (a backend scalar) and returns the logs without it."""

    def counting_train_function(*args):
        result = train_function(*args)
        counting_train_function.loss_count = compat.logs_of(result).pop(LOSS_COUNT, None)
        return result

    counting_train_function.loss_count = None
    return counting_train_function


def last_loss_count(model):
    """The sample count of the model's running loss mean after the latest call of its train
    function, as a Python float, when the compiled step reported it (TensorFlow and JAX, a step
    installed by `ScheduleInjection.install(model)`); else None."""
    count = getattr(model.train_function, "loss_count", None)
    return None if count is None else float(count)
