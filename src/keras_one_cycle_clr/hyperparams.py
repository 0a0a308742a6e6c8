"""How an optimizer's learning rate, momentum and weight decay follow a schedule inside its step.

Keras 3 optimizers read `momentum`, `beta_1` and `weight_decay` as Python floats while TensorFlow and
JAX trace the train step, so a value set from a callback mid-fit never reaches the compiled step. This
module wraps the optimizer's `apply` so that, inside the traced step, each scheduled hyper-parameter is
looked up in a table of per-step values by the optimizer's own `iterations` counter:

- the learning rate is assigned to the optimizer's learning-rate variable (an in-graph assign, so any
  reader of `optimizer.learning_rate`, TensorBoard included, sees the value that trained);
- `momentum`, `beta_1` and `weight_decay` are replaced, for the duration of that one `apply`, by the
  step's value: a tensor on TensorFlow and JAX, a Python float on PyTorch, whose eager fused optimizers
  (`keras/src/backend/torch/optimizers/`) need a float and read it on every step anyway.

On TensorFlow and JAX nothing crosses from Python per step and nothing is recompiled per step: the
train function is rebuilt once when a schedule is installed. On PyTorch the step runs eagerly anyway;
the look-up costs about 35 µs a step there (BENCHMARKS.md).
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import ops

MOMENTUM_ATTRIBUTES = ("beta_1", "momentum")  # Adam family first: Lion and others have both names
_TORCH = keras.backend.backend() == "torch"


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


class ScheduleInjection:
    """Makes an optimizer's hyper-parameters follow per-step tables inside its update step.

    `tables` maps `"learning_rate"`, `"momentum"`, `"beta_1"` or `"weight_decay"` to a 1-D array of
    values, all of one length `n`. At optimizer step `iterations`, entry
    `clip(iterations - start_step, 0, n - 1)` applies. `start_step` is read when the train function
    is traced, so set it before the first step after `install()`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_one_cycle_clr.hyperparams import ScheduleInjection
    >>> optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    >>> injection = ScheduleInjection(optimizer, {"momentum": np.linspace(0.95, 0.85, 10)})
    >>> injection.install()
    >>> injection.remove()
    """

    def __init__(self, optimizer, tables, start_step=0):
        self.optimizer = innermost_optimizer(optimizer)
        self.tables = {name: np.asarray(values, dtype=np.float32) for name, values in tables.items()}
        lengths = {len(values) for values in self.tables.values()}
        if len(lengths) != 1 or 0 in lengths:
            msg = f"All tables must have one non-zero length. Received lengths: {sorted(lengths)}"
            raise ValueError(msg)
        self.num_steps = lengths.pop()
        self.start_step = int(start_step)
        if "learning_rate" in self.tables and not isinstance(self.optimizer._learning_rate, keras.Variable):
            msg = (
                "A learning-rate schedule can only be installed on an optimizer created with a float "
                "`learning_rate`; this one was created with "
                f"learning_rate={self.optimizer._learning_rate!r}. Either pass the schedule as the "
                "optimizer's `learning_rate` and drop the callback, or create the optimizer with a float."
            )
            raise ValueError(msg)
        self._class_apply = type(self.optimizer).apply

    @property
    def installed(self):
        return getattr(self.optimizer.__dict__.get("apply"), "__self__", None) is self

    def install(self):
        """Routes the optimizer's `apply` through the tables. Replaces an earlier injection."""
        self.optimizer.__dict__.pop("apply", None)
        self._learning_rate_before = self.optimizer._learning_rate.numpy()
        self.optimizer.__dict__["apply"] = self._apply

    def remove(self):
        """Gives the optimizer its own `apply` back and its learning rate as it was before `install`.

        The train function of a model that traced the injected step still holds the tables: rebuild
        it (`model.train_function = None`) before training without the schedules.
        """
        if self.installed:
            del self.optimizer.__dict__["apply"]
            if "learning_rate" in self.tables:
                self.optimizer._learning_rate.assign(self._learning_rate_before)

    def values_at(self, step):
        """The tables' values at optimizer step `step` (a Python int), as Python floats."""
        index = min(max(int(step) - self.start_step, 0), self.num_steps - 1)
        return {name: float(values[index]) for name, values in self.tables.items()}

    def _current_values(self):
        if _TORCH:  # eager: one host read of the counter, then plain floats
            # int() of the backing tensor: a quarter of the cost of .numpy() (measured, bench/)
            return self.values_at(self.optimizer.iterations.value)
        index = ops.clip(
            ops.cast(self.optimizer.iterations, "int32") - self.start_step, 0, self.num_steps - 1
        )
        return {name: ops.take(ops.convert_to_tensor(values), index) for name, values in self.tables.items()}

    def _apply(self, grads, trainable_variables=None):
        optimizer = self.optimizer
        configured = {}
        for name, value in self._current_values().items():
            if name == "learning_rate":
                optimizer._learning_rate.assign(value)
                continue
            configured[name] = getattr(optimizer, name)
            setattr(optimizer, name, value if _TORCH else _InStepValue(configured[name], value))
        try:
            return self._class_apply(optimizer, grads, trainable_variables)
        finally:
            for name, value in configured.items():
                setattr(optimizer, name, value)
