"""The schedules of an injection as one small variable that the compiled step reads.

Every driven hyper-parameter's schedule is a few numbers (`schedules.Piecewise.pack`); they are packed,
with the step at which they start, into one float32 variable of fixed shape, so a new schedule of the
same packing is a new value, not a new trace. One variable, not one per schedule: on JAX every array of
the state costs the fit loop a few µs a step (passed in and out of the compiled step, tracked by Keras),
2.7 µs each measured on a 0.2 ms step (BENCHMARKS.md, section 1).

On JAX the variable joins the optimizer's own variables while installed, since JAX passes only those
into the compiled step, and is kept out of the optimizer's saved files.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr.schedules import packed_size, piecewise_value

# Layout: [start // 2**20, start % 2**20, one packed schedule per driven name]: both parts of the start
# step are exact in float32 up to 2**44 steps.
START_SPLIT = 2**20


def updates_done(step, start_step, accumulation):
    """Where a schedule stands: the optimizer updates applied since `start_step` (a raw step, in
    batches), with `accumulation` batches per update. The one place that maps a step counter to a
    schedule's position, for Python ints and for the counter inside the compiled step alike."""
    return (step - start_step) // accumulation


class ScheduleVariable:
    """The start step and the packed schedules of the hyper-parameters `names`, in one variable.

    Args:
        names: The driven hyper-parameters, in the variable's order.
        slots: `(phase_slots, amplitude_slots)`: the packing of every schedule.
        model: The model whose variable scope creates the variable (its distribution), or None.
    """

    def __init__(self, names, slots, model=None):
        self.names = tuple(names)
        self.slots = tuple(slots)
        size = 2 + len(self.names) * packed_size(*self.slots)
        with compat.create_variable_scope(model):
            self.variable = keras.Variable(np.zeros(size, np.float32), trainable=False, name="kclr_schedules")

    def write(self, forms, start_step):
        """Packs `forms` (a `Piecewise` for each name) starting at raw step `start_step` into the variable."""
        start_high, start_low = divmod(int(start_step), START_SPLIT)
        blocks = [forms[name].pack(*self.slots) for name in self.names]
        self.variable.assign(np.concatenate([[start_high, start_low], *blocks]).astype(np.float32))

    def values(self, counter, accumulation):
        """Each name's value at the optimizer's step counter `counter` (a variable or tensor), in
        `keras.ops`: what the compiled step evaluates."""
        start_high, start_low = (ops.cast(self.variable[i], counter.dtype) for i in (0, 1))
        start = start_high * START_SPLIT + start_low
        updates = updates_done(ops.cast(counter - start, "int32"), 0, accumulation)
        blocks = ops.reshape(self.variable[2:], (len(self.names), -1))
        values = piecewise_value(ops.cast(updates, "float32"), blocks, *self.slots)
        return {name: values[i] for i, name in enumerate(self.names)}

    def attach(self, optimizer, patches):
        """Appends the variable to the optimizer's own (JAX hands only those to the compiled step), and
        keeps it out of what each optimizer, a wrapped one included, saves and loads; `patches` (a
        `Patches`) records both, and its `undo()` detaches it.

        A tf.function captures the variables it reads (and TensorFlow's tracking refuses to save a list
        that had items deleted): on TensorFlow the variable stays apart.
        """
        inner = compat.inner_optimizers(optimizer)[-1]
        patches.append(compat.optimizer_variable_list(inner), self.variable)
        for each in compat.inner_optimizers(optimizer):
            for method in ("save_own_variables", "load_own_variables"):
                patches.set(each, method, self._without_self(getattr(type(each), method), each, inner))

    def _without_self(self, method, optimizer, inner):
        # A checkpoint written mid-fit (ModelCheckpoint) holds the optimizer's own variables only.
        def call(store):
            variables = compat.optimizer_variable_list(inner)
            position = next(i for i, v in enumerate(variables) if v is self.variable)
            del variables[position]
            try:
                return method(optimizer, store)
            finally:
                variables.insert(position, self.variable)

        return call
