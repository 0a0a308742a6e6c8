"""How an optimizer's learning rate, momentum and weight decay follow schedules inside its step.

Keras 3 optimizers read `momentum`, `beta_1` and `weight_decay` as Python floats while TensorFlow and
JAX trace the train step, so a value set from a callback mid-fit never reaches the compiled step. This
module wraps the optimizer's `apply` so that, inside the traced step, each hyper-parameter is computed
from the optimizer's own step counter by its schedule (`schedules.piecewise_value`, the function that
also draws the plots):

- the learning rate is assigned to the optimizer's learning-rate variable (an in-graph assign, so any
  reader of `optimizer.learning_rate`, TensorBoard included, sees the value that trained);
- `momentum`, `beta_1` and `weight_decay` are replaced, for the duration of that one `apply`, by the
  step's value: a tensor on TensorFlow and JAX, a Python float on PyTorch, whose eager fused optimizers
  (`keras/src/backend/torch/optimizers/`) need a float and read it on every step anyway.

On TensorFlow and JAX every schedule is a few numbers (`schedules.Piecewise`) packed, with the step at
which they start, into one small variable of fixed shape (`_schedule_variable`: on JAX it joins the
optimizer's own while installed, since JAX passes only those into the compiled step, and is kept out
of saved files). The compiled step drives the learning rate, momentum and weight decay alike, held
constant where nothing schedules them, and also reports the loss count the range test needs: so one
compiled step serves every one-cycle, cyclical and range-test fit of a model, whatever their lengths,
and is traced once per model and optimizer configuration (`install(model)`; cached by
`_compiled_steps`). Only what has no short form (a table of per-step
values, more cycle amplitudes than the fixed shape holds) packs larger, and traces once more. Nothing
crosses from Python per step. On PyTorch the step runs eagerly: values come from a per-step cache
evaluated in chunks by the same function (BENCHMARKS.md).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr._compiled_steps import CompiledSteps, can_count_loss, layout
from keras_one_cycle_clr._compiled_steps import last_loss_count as last_loss_count  # the range test's
from keras_one_cycle_clr._patches import Patches
from keras_one_cycle_clr._schedule_variable import ScheduleVariable, updates_done
from keras_one_cycle_clr.schedules import HOST_CHUNK, Piecewise, host_values

MOMENTUM_ATTRIBUTES = ("beta_1", "momentum")  # Adam family first: Lion and others have both names


def innermost_optimizer(optimizer):
    """The optimizer that really updates the weights (unwraps `LossScaleOptimizer`).

    Example:

    >>> import keras
    >>> inner = keras.optimizers.SGD()
    >>> innermost_optimizer(keras.optimizers.LossScaleOptimizer(inner)) is inner
    True
    """
    return compat.inner_optimizers(optimizer)[-1]


def raw_step(optimizer):
    """The optimizer's step counter as a Python int, counting every batch also under gradient
    accumulation (where `optimizer.iterations` counts applied updates)."""
    return compat.raw_step(optimizer)


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
    name, value = _momentum_setting(optimizer)
    if name is None:
        warnings.warn(
            f"{type(optimizer).__name__} has neither `momentum` nor `beta_1`: `{argument}` is ignored "
            "and only the learning rate is cycled.",
            stacklevel=3,
        )
    elif value == 0:
        msg = (
            f"Argument `{argument}` needs an optimizer with momentum, but "
            f"{type(optimizer).__name__} was created with {name}=0.0, which builds no "
            f"momentum buffers. Create it with {name} > 0 (for example "
            f"{type(optimizer).__name__}({name}=0.9)), or pass {argument}=None. "
            f"Received: an optimizer {type(optimizer).__name__}({name}={value!r})"
        )
        raise ValueError(msg)
    return name


class _InStepValue:
    """A hyper-parameter's value for the step being traced, standing in for the optimizer's float.

    Keras's update code converts it to a tensor (`ops.cast(self.momentum, dtype)`) and also asks
    configuration questions of it in Python (`if self.momentum != 0`); the first get the traced
    value, the second the configured one. Its fourteen methods are that one protocol: conversion,
    comparison and arithmetic, each a line.
    """

    __hash__ = None

    def __init__(self, configured, value):
        self._configured = configured
        self._scheduled = value
        self.read = False  # whether the step being traced used the value (the guard's probe)

    @property
    def _value(self):
        self.read = True
        return self._scheduled

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


def _check_read(stand_ins, optimizer, trainable_variables, schedule_variable):
    """The guard's probe, at trace time (TensorFlow, JAX: once per compiled step, free per step): every
    scheduled momentum and weight decay stand-in must have been read by the optimizer's update. A
    Keras that read the float elsewhere (cached at build, say) would train with the constant.

    Not under a tf.distribute strategy: there the replicas' `apply` calls overlap on threads, so the
    optimizer may hold another replica's stand-in while this one's update reads it."""
    if not stand_ins or compat.under_tf_distribution(schedule_variable.variable):
        return
    unread = [name for name, stand_in in stand_ins.items() if not stand_in.read]
    if "weight_decay" in unread:
        if not compat.uses_weight_decay(optimizer, trainable_variables):
            unread.remove("weight_decay")  # nothing to decay: nothing to read
    if unread:
        names = ", ".join(f"`{name}`" for name in unread)
        what = (
            f"{type(optimizer).__name__}'s update step never read the scheduled {names}, "
            "which would have stayed at the configured value"
        )
        raise compat.incompatible(what)


def in_step_form(schedule):
    """A schedule as a `Piecewise`: a schedule of this package (its `.piecewise()`), a `Piecewise`,
    a number (constant), or a 1-D sequence of per-update values (a table; larger, see `Piecewise.table`)."""
    if isinstance(schedule, Piecewise):
        return schedule
    if hasattr(schedule, "piecewise"):
        return schedule.piecewise()
    if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool):
        return Piecewise.constant(schedule)
    values = np.asarray(schedule, dtype=np.float32)
    if values.ndim != 1 or len(values) == 0:
        msg = (
            "A schedule must be a schedule of this package, a number or a non-empty 1-D sequence of "
            f"values. Received: {schedule!r}"
        )
        raise ValueError(msg)
    return Piecewise.table(values)


def _is_float(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _momentum_setting(optimizer):
    """`(name, value)` of the optimizer's momentum-like float (`MOMENTUM_ATTRIBUTES`), or `(None, None)`:
    the one place that looks for it."""
    for name in MOMENTUM_ATTRIBUTES:
        value = getattr(optimizer, name, None)
        if _is_float(value):
            return name, value
    return None, None


def _driven_names(optimizer, schedules, learning_rate):
    """The hyper-parameters a step drives, sorted: the scheduled ones, and on TensorFlow and JAX also
    the learning rate (a float one, `learning_rate` its variable), a momentum that builds buffers and
    the weight decay, held constant where nothing schedules them: one compiled step for every kind of
    schedule. PyTorch runs the step eagerly: there, only what is scheduled."""
    names = set(schedules)
    if not compat.TORCH:
        if learning_rate is not None:
            names.add("learning_rate")
        momentum, value = _momentum_setting(optimizer)
        if momentum is not None and value != 0:
            names.add(momentum)
        names.add("weight_decay")
    return tuple(sorted(names))


def _learning_rate_variable(optimizer, schedules):
    """The optimizer's learning-rate variable, or None; refused when `schedules` drive the learning
    rate of an optimizer created with a schedule of its own."""
    variable = compat.learning_rate_variable(optimizer)
    if "learning_rate" in schedules and variable is None:
        msg = (
            "A learning-rate schedule can only be installed on an optimizer created with a float "
            "`learning_rate`; this one was created with "
            f"learning_rate={compat.learning_rate_setting(optimizer)!r}. Either pass the "
            "schedule as the optimizer's `learning_rate` and drop the callback, or create the "
            "optimizer with a float."
        )
        raise ValueError(msg)
    return variable


def _check_replacements(forms, schedules, slots):
    """Refuses new schedules (`forms`) for names not in `schedules`, or too large for `slots`, the
    installed packing (None: not installed, any size)."""
    unknown = sorted(set(forms) - set(schedules))
    too_big = [
        name
        for name, form in forms.items()
        if slots and any(a > b for a, b in zip(form.slots, slots, strict=True))
    ]
    if unknown or too_big:
        msg = (
            f"set_schedules can change the scheduled names {sorted(schedules)} within "
            f"the installed packing {slots}. Received: unknown names {unknown}, "
            f"schedules that need a larger packing {too_big}"
        )
        raise ValueError(msg)


class _HostValues:
    """Scheduled values on the host (for the logs, the guard and PyTorch's eager step), evaluated
    `HOST_CHUNK` updates at a time by the function the compiled step runs, a few chunks kept."""

    def __init__(self, schedules, start_step, accumulation):
        self.schedules = dict(schedules)
        self.start_step = start_step
        self.accumulation = accumulation
        self._chunks = {}  # chunk index -> {name: values}

    def at(self, step):
        """The values at raw optimizer step `step` (a Python int), as Python floats by name."""
        update = max(updates_done(int(step), self.start_step, self.accumulation), 0)
        chunk, offset = divmod(update, HOST_CHUNK)
        values = self._chunks.get(chunk)
        if values is None:
            stacked = host_values(list(self.schedules.values()), chunk * HOST_CHUNK, HOST_CHUNK)
            values = {name: stacked[:, i] for i, name in enumerate(self.schedules)}
            if len(self._chunks) > 8:  # a long fit walks through them: keep a few
                self._chunks.clear()
            self._chunks[chunk] = values
        return {name: float(column[offset]) for name, column in values.items()}


class ScheduleInjection:
    """Makes an optimizer's hyper-parameters follow schedules inside its update step.

    `schedules` maps `"learning_rate"`, `"momentum"`, `"beta_1"` or `"weight_decay"` to a schedule of
    this package (`OneCycleSchedule`, `CyclicSchedule`, `SweepSchedule`), a number, or a 1-D
    sequence of per-update values. A schedule's step is the optimizer's updates since `start_step`
    (`updates_done`: with `gradient_accumulation_steps=a`, `(raw step - start_step) // a`); a
    sequence's last value holds past its end.

    Its own job is the injection: the optimizer's `apply` routed through stand-ins for the step's
    values, the guard, and undoing it all. The schedules' variable is a `ScheduleVariable`, the
    train functions traced with it are cached by `CompiledSteps`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_one_cycle_clr.hyperparams import ScheduleInjection
    >>> from keras_one_cycle_clr.schedules import OneCycleSchedule
    >>> optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    >>> momentum = OneCycleSchedule(0.95, 0.85, 0.95, total_steps=100)
    >>> injection = ScheduleInjection(optimizer, {"momentum": momentum})
    >>> injection.install()
    >>> round(injection.values_at(0)["momentum"], 4)
    0.95
    >>> injection.remove()
    """

    def __init__(self, optimizer, schedules, start_step=0):
        self.outer_optimizer = optimizer
        self.optimizer = innermost_optimizer(optimizer)
        if not schedules:
            msg = f"Argument `schedules` must name at least one hyper-parameter. Received: {schedules!r}"
            raise ValueError(msg)
        self.schedules = {name: in_step_form(schedule) for name, schedule in schedules.items()}
        self.start_step = int(start_step)
        self.accumulation = int(self.optimizer.gradient_accumulation_steps or 1)
        self._learning_rate = _learning_rate_variable(self.optimizer, self.schedules)
        self._class_apply = type(self.optimizer).apply
        self._patches = Patches()  # every change to Keras objects while installed
        self._names = ()  # the hyper-parameters the step drives, in the variable's order
        self._configured = {}  # their values as configured, read at install
        self._learning_rate_before = None  # the learning-rate variable's value at install
        self._slots = None  # (phase_slots, amplitude_slots) of the packed schedules
        self._variable = None  # a ScheduleVariable (TensorFlow, JAX)
        self._host = _HostValues(self.schedules, self.start_step, self.accumulation)

    @property
    def installed(self):
        return getattr(self.optimizer.__dict__.get("apply"), "__self__", None) is self

    def install(self, model=None, on_abandon=None):
        """Routes the optimizer's `apply` through the schedules. Replaces an earlier injection.

        Args:
            model: The model training with this optimizer, or None. Given (from inside `fit`, after
                Keras made its train function), the model's train function becomes one traced with
                the schedules: the one an earlier injection of the same layout traced, if the
                model's own train function has not changed since, else a new one. `remove()` gives
                the model its own train function back. Without a model, rebuild the train function
                yourself.
            on_abandon: With a model: what to call, instead of `remove()`, when the model's `fit`
                is called while this injection is still installed, which happens when the fit that
                installed it raised (Keras then skips `on_train_end`). It must remove the
                injection. Defaults to `remove`.
        """
        previous = getattr(self.optimizer.__dict__.get("apply"), "__self__", None)
        if isinstance(previous, ScheduleInjection):
            previous.remove()
        self._learning_rate_before = None if self._learning_rate is None else self._learning_rate.numpy()
        self._names = _driven_names(self.optimizer, self.schedules, self._learning_rate)
        self._configured = {
            name: getattr(self.optimizer, name) for name in self._names if name != "learning_rate"
        }
        slots = [form.slots for form in self.schedules.values()]
        self._slots = tuple(max(s[i] for s in slots) for i in range(2))
        counts_loss = model is not None and can_count_loss(model)
        steps = None
        if model is not None and not compat.TORCH:  # torch looks the apply up eagerly every step
            steps = CompiledSteps.of(model)
            step_layout = layout(self.optimizer, self._names, self._slots, counts_loss)
        if not compat.TORCH:
            cached = None if steps is None else steps.variable(step_layout)
            self._variable = cached or ScheduleVariable(self._names, self._slots, model)
            self._write_variable()
            if compat.JAX:
                self._variable.attach(self.outer_optimizer, self._patches)
                if model is not None:
                    compat.optimizer_variables_changed(model)
        self._patches.set(self.optimizer, "apply", self._apply)
        if steps is not None:
            train_function = steps.train_function(model, step_layout, self._variable, counts_loss)
            self._patches.set(model, "train_function", train_function)
        if model is not None:
            self._watch_for_another_fit(model, on_abandon or self.remove)

    def _watch_for_another_fit(self, model, on_abandon):
        # Keras skips `on_train_end` when `fit` raises (another callback's error, Ctrl-C), so the
        # injection would stay and a later fit would follow the old schedules. A `fit` that starts
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
        self._patches.set(model, "fit", fit)

    def set_schedules(self, schedules=None, start_step=None):
        """New schedules for some of the scheduled names, or a new start: they reach the compiled
        step without a retrace when they fit the installed packing.

        On JAX during `fit`, call it where the model's state is synced (after touching
        `callback.model`), as for any variable assigned from a callback.
        """
        if schedules is not None:
            forms = {name: in_step_form(schedule) for name, schedule in schedules.items()}
            _check_replacements(forms, self.schedules, self._slots)
            self.schedules.update(forms)
        if start_step is not None:
            self.start_step = int(start_step)
        self._host = _HostValues(self.schedules, self.start_step, self.accumulation)
        if self._variable is not None and self.installed:
            self._write_variable()

    def _write_variable(self):
        # Every driven name's schedule: its own, or its value as configured.
        configured = {**self._configured, "learning_rate": self._learning_rate_before}
        forms = {
            name: self.schedules.get(name) or Piecewise.constant(configured[name] or 0.0)
            for name in self._names
        }
        self._variable.write(forms, self.start_step)

    def remove(self):
        """Gives the optimizer its own `apply` back and its learning rate as it was before `install`.

        Given a model at `install`, the model gets its own train function back. Otherwise the model's
        train function, if traced with the injection, still holds it: rebuild it
        (`model.train_function = None`) before training without the schedules.
        """
        if not self.installed:
            return
        if self._learning_rate is not None and "learning_rate" in self._names:
            self._learning_rate.assign(self._learning_rate_before)
        self._patches.undo()

    def values_at(self, step):
        """The scheduled values at raw optimizer step `step` (a Python int), as Python floats."""
        return self._host.at(step)

    # -- the step --------------------------------------------------------------------------------
    def _current_values(self):
        if compat.TORCH:  # eager: one host read of the counter, then plain floats
            # int() of the backing tensor: a quarter of the cost of .numpy() (measured, bench/)
            return self.values_at(compat.step_counter(self.optimizer).value)
        return self._variable.values(compat.step_counter(self.optimizer), self.accumulation)

    def _apply(self, grads, trainable_variables=None):
        optimizer = self.optimizer
        stand_ins = {}
        for name, value in self._current_values().items():
            if name == "learning_rate":
                self._learning_rate.assign(value)
                continue
            if compat.TORCH:
                setattr(optimizer, name, value)
            else:
                stand_ins[name] = _InStepValue(self._configured[name], value)
                setattr(optimizer, name, stand_ins[name])
        try:
            result = self._class_apply(optimizer, grads, trainable_variables)
        finally:
            # The values read at install: under MirroredStrategy the replicas' `apply` calls overlap,
            # so what one finds on the optimizer may be another's stand-in.
            for name, value in self._configured.items():
                setattr(optimizer, name, value)
        scheduled = {name: stand_in for name, stand_in in stand_ins.items() if name in self.schedules}
        _check_read(scheduled, self.optimizer, trainable_variables, self._variable)
        return result

    # -- the guard: a Keras that no longer uses what the step computes fails loudly ---------------
    def check_applied(self, model=None):
        """Checks, after a step, that the learning rate the step applied is the schedule's.

        Call it once, after the first scheduled step (on the thread running `fit`): on JAX it syncs
        the trainer's state into the variables (`model` given), a full state copy. Compares the
        optimizer's learning-rate variable with `values_at` of the step that ran.

        Raises:
            KerasCompatibilityError: on a mismatch, naming the Keras version and both values.
        """
        if "learning_rate" not in self.schedules or not self.installed:
            return
        if model is not None:
            compat.sync_jax_state(model)
        step = compat.raw_step(self.optimizer) - 1
        if step < self.start_step:
            return  # no scheduled step has run yet
        expected = self.values_at(step)["learning_rate"]
        applied = float(np.asarray(self._learning_rate.numpy()))
        if not np.isclose(applied, expected, rtol=1e-5, atol=0.0):
            what = (
                f"the learning rate the optimizer applied at step {step} was {applied!r}, "
                f"the schedule's is {expected!r}"
            )
            raise compat.incompatible(what)


# -- outside `fit`: custom training loops ------------------------------------------------------------


def attach_schedules(optimizer, *, learning_rate=None, momentum=None, weight_decay=None, start_step=None):
    """Makes an optimizer's learning rate, momentum and weight decay follow schedules in any loop.

    The counterpart of optax's `inject_hyperparams` and of calling PyTorch's `OneCycleLR.step()`
    in a loop of your own, for a training loop written without `fit` (a TensorFlow `GradientTape`
    loop, a JAX loop around `optimizer.stateless_apply`, a PyTorch loop): every call of the
    optimizer's `apply` (or `apply_gradients`) computes each scheduled hyper-parameter from the
    optimizer's own step counter, inside a compiled step as well as eagerly, exactly as `OneCycle` and
    `CLR` do inside `fit`. There is no `.step()` to call.

    ```python
    schedule = dict(total_steps=1000, pct_start=0.3)
    with kclr.attach_schedules(
        optimizer,
        learning_rate=kclr.OneCycleSchedule(0.004, 0.1, 0.0, **schedule),
        momentum=kclr.OneCycleSchedule(0.95, 0.85, 0.95, **schedule),
    ):
        for x, y in batches:  # your loop; trace a compiled step inside the `with`
            ...
            optimizer.apply(grads, model.trainable_variables)
    ```

    Where the step is compiled, trace it after attaching: a `tf.function` traced before keeps the
    optimizer's constant hyper-parameters. On JAX the schedules are a variable that joins
    `optimizer.variables` while attached: take the optimizer's variables for `stateless_apply` after
    attaching, and write your state back into them (`variable.assign(value)`) before `remove()`.
    Inside `fit`, use the callbacks instead, which work out the cycle's length.

    Example:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> w = keras.Variable(np.ones(1, "float32"))
    >>> optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    >>> lr = kclr.OneCycleSchedule(0.01, 0.1, 0.0, total_steps=10)
    >>> with kclr.attach_schedules(optimizer, learning_rate=lr, momentum=0.8) as schedules:
    ...     for _ in range(3):
    ...         optimizer.apply([2 * w.value], [w])  # the gradient of w ** 2
    ...     print({name: round(value, 4) for name, value in schedules.values_at(2).items()})  # the peak
    {'learning_rate': 0.1, 'momentum': 0.8}
    >>> round(float(optimizer.learning_rate), 4), optimizer.momentum  # the optimizer's own again
    (0.05, 0.9)

    Args:
        optimizer: A Keras optimizer (a `LossScaleOptimizer` drives the one it wraps). For a learning
            rate schedule, created with a float `learning_rate`.
        learning_rate: A schedule of this package (`OneCycleSchedule`, `CyclicSchedule`), a number,
            a 1-D sequence of per-update values, or None to leave it alone. Defaults to None.
        momentum: Likewise, for `momentum` (SGD, RMSprop) or `beta_1` (Adam, AdamW, Adamax, Nadam,
            Lion): the optimizer must have been created with it > 0. Defaults to None.
        weight_decay: Likewise, for the decoupled `weight_decay` (`w <- w - w * wd * lr` before the
            update). Defaults to None.
        start_step: A Python int: the optimizer's step counter (batches; `optimizer.iterations`
            without gradient accumulation) at which every schedule's step 0 falls. Defaults to the
            counter now, so the schedules start with the next update.

    Returns:
        An `AttachedSchedules`, whose `remove()` gives the optimizer its own hyper-parameters back;
        as a context manager, it removes them on leaving the `with` block.

    Raises:
        ValueError: for no schedule given, an optimizer created with a schedule as its learning rate
            (given `learning_rate`), one without momentum (given `momentum`), or one that already
            has schedules attached.
    """
    arguments = {"learning_rate": learning_rate, "momentum": momentum, "weight_decay": weight_decay}
    given = {name: value for name, value in arguments.items() if value is not None}
    if not given:
        msg = (
            "Arguments `learning_rate`, `momentum` and `weight_decay` of attach_schedules: at least one "
            "must be a schedule. Received: learning_rate=None, momentum=None, weight_decay=None"
        )
        raise ValueError(msg)
    inner = innermost_optimizer(optimizer)
    attached = getattr(inner.__dict__.get("apply"), "__self__", None)
    if isinstance(attached, ScheduleInjection):
        msg = (
            f"Argument `optimizer` already has schedules attached ({', '.join(sorted(attached.schedules))}): "
            "call `remove()` on the earlier handle first, or end its `with` block. "
            f"Received: optimizer={type(optimizer).__name__}"
        )
        raise ValueError(msg)
    scheduled = {}
    for name, value in given.items():
        if name == "momentum":
            if _momentum_setting(inner)[0] is None:
                msg = (
                    f"Argument `momentum` needs an optimizer with `momentum` or `beta_1`; "
                    f"{type(inner).__name__} has neither. Received: momentum={value!r}"
                )
                raise ValueError(msg)
            name = momentum_attribute(optimizer, argument="momentum")
        scheduled[name] = value
    if start_step is None:
        start_step = raw_step(optimizer)
    injection = ScheduleInjection(optimizer, scheduled, start_step=start_step)
    injection.install()
    return AttachedSchedules(injection)


class AttachedSchedules:
    """The schedules `attach_schedules` put on an optimizer: `remove()` takes them off again.

    Also a context manager: leaving the `with` block removes them.
    """

    def __init__(self, injection):
        self._injection = injection

    @property
    def attached(self):
        """Whether the schedules still drive the optimizer."""
        return self._injection.installed

    def values_at(self, step):
        """The scheduled values at the optimizer's step counter `step` (a Python int), as Python
        floats keyed by the optimizer's own names (`learning_rate`, `momentum` or `beta_1`,
        `weight_decay`)."""
        return self._injection.values_at(step)

    def remove(self):
        """Gives the optimizer its own `apply`, learning rate, momentum and weight decay back; safe to
        call twice. A compiled step traced while attached still holds the schedules: trace it again."""
        self._injection.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()
        return False
