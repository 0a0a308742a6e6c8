"""The one-cycle and cyclical schedules, as serializable Keras `LearningRateSchedule`s.

Each schedule is a pure function of the optimizer step. It can be passed straight to an optimizer as
`learning_rate=`, and the callbacks in `keras_one_cycle_clr.callbacks` build the same classes for the
learning rate and for momentum, so what `schedule_values` shows is what trains.
"""

from __future__ import annotations

import dataclasses
import itertools

import keras
import numpy as np
from keras import ops

from keras_one_cycle_clr import _checks
from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr._anneal import ANNEALERS

_PACKAGE = "keras_one_cycle_clr"
_DTYPE = "float32"


# -- the in-step form: a schedule as a few numbers ---------------------------------------------------
# Every schedule of the package is a `Piecewise`: annealing phases between knots, optionally repeated
# in cycles whose height an amplitude scales, optionally held for a number of steps. Packed into a
# vector of fixed size (`PHASE_SLOTS` phases, `AMPLITUDE_SLOTS` cycle amplitudes), one compiled step
# evaluates any of them from a variable: a new schedule is a new value, not a new trace. The same
# function draws the previews and plots, so what is plotted is what trains.

ANNEAL_KINDS = ("linear", "cos", "exp")  # a phase's kind is stored as its index here
ANNEALS = ("cos", "linear")  # the one cycle's `anneal` choices
PHASE_SLOTS = 4  # enough for three-phase one cycle; a longer table is packed larger (a new trace)
AMPLITUDE_SLOTS = 16  # per-cycle amplitudes; CLR with more cycles of its own amplitudes packs larger
_HEADER = 4  # cycle_steps, hold_steps, cycle_decay, step_decay
_PHASE_ROWS = 5  # per phase: start, divisor, kind, first value, last value
_ENDED = -1e30  # the end and start of a phase of no length: passed by every step, its pct always 1
_CHAINED_PHASES = 8  # up to this many phase slots, the step finds its phase by selects (see below)


@dataclasses.dataclass(frozen=True)
class Piecewise:
    """A schedule as a few numbers, evaluated by `piecewise_value` inside the compiled step.

    The value at step `s`:

    ```python
    def value(s):
        s = floor(s / hold_steps) * hold_steps  # if hold_steps > 1
        cycle, x = divmod(s / cycle_steps, 1) if cycle_steps else (0, s)
        amplitude = amplitudes[min(cycle, -1)] * cycle_decay**cycle * step_decay**s
        v = [values[0] + amplitude * (v - values[0]) for v in values]   # only if amplitude != 1
        i = the first phase of non-zero length with x <= knots[i + 1], else the last
        return anneal[kinds[i]](v[i], v[i + 1], clip((x - knots[i]) / span[i], 0, 1))
    ```

    A phase of zero or negative length has already ended: it never claims a step, and a step past
    the last knot has the last value.

    Example:

    >>> form = Piecewise(knots=(0.0, 2.0, 4.0), values=(0.0, 1.0, 0.5), kinds=("linear", "linear"))
    >>> ops.convert_to_numpy(form(ops.arange(6, dtype="float32"))).tolist()
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.5]

    Args:
        knots: Python floats, one more than the phases: where each phase starts and ends.
        values: Python floats: the value at each knot.
        kinds: One of `ANNEAL_KINDS` per phase.
        cycle_steps: A Python float >= 0: the length of a cycle; 0 for no cycles (knots in steps).
            With cycles, knots are fractions of a cycle in [0, 1]. Defaults to 0.
        hold_steps: A Python int >= 1: each value holds for this many steps. Defaults to 1.
        amplitudes: Python floats, one per cycle (the last repeats). Defaults to (1.0,).
        cycle_decay: A Python float: the amplitude's factor per cycle. Defaults to 1.
        step_decay: A Python float: the amplitude's factor per step. Defaults to 1.
    """

    knots: tuple
    values: tuple
    kinds: tuple
    cycle_steps: float = 0.0
    hold_steps: int = 1
    amplitudes: tuple = (1.0,)
    cycle_decay: float = 1.0
    step_decay: float = 1.0

    @classmethod
    def constant(cls, value):
        """The same value at every step."""
        return cls(knots=(0.0, 0.0), values=(float(value), float(value)), kinds=("linear",))

    @classmethod
    def table(cls, values):
        """A value per step (steps past the end keep the last): linear phases of one step, exact at
        every whole step. Its size grows with the table: a fallback for what has no shorter form."""
        values = [float(v) for v in np.asarray(values, dtype=np.float32).ravel()]
        if len(values) == 1:
            return cls.constant(values[0])
        return cls(
            knots=tuple(float(i) for i in range(len(values))),
            values=tuple(values),
            kinds=("linear",) * (len(values) - 1),
        )

    @property
    def slots(self):
        """`(phase_slots, amplitude_slots)`: the smallest packing that holds this schedule."""
        return max(PHASE_SLOTS, len(self.kinds)), max(AMPLITUDE_SLOTS, len(self.amplitudes))

    def pack(self, phase_slots, amplitude_slots):
        """The numbers `piecewise_value` reads, padded to the given slots, as float32.

        What can be worked out before the step is, here, once: `[header (4), bounds
        (phase_slots - 1), starts, divisors, kinds, first values, last values (phase_slots each),
        amplitudes (amplitude_slots)]`. `bounds[i]` is the latest end among phases `0..i` of
        non-zero length: a step's phase is the first whose bound it has not passed, else the last.
        A phase of zero or negative length (padding too) has already ended: its end and start are
        `-1e30`, its divisor 1 and its kind linear, so that as the last phase it gives its last value
        (`pct` is 1, exactly).
        """
        phases = len(self.kinds)
        if phase_slots < phases or amplitude_slots < len(self.amplitudes):
            msg = f"{self} needs {self.slots} slots. Received: {(phase_slots, amplitude_slots)}"
            raise ValueError(msg)
        pad = phase_slots - phases
        knots = np.asarray([*self.knots, *[self.knots[-1]] * pad], np.float32)
        # Spans from the float64 knots: the same float32 numbers as a Python-float expression.
        spans = np.asarray([*(b - a for a, b in itertools.pairwise(self.knots)), *[0.0] * pad], np.float32)
        ended = spans <= 0
        values = np.asarray([*self.values, *[self.values[-1]] * pad], np.float32)
        kinds = np.asarray([*(ANNEAL_KINDS.index(k) for k in self.kinds), *[0] * pad], np.float32)
        bounds = np.maximum.accumulate(np.where(ended, _ENDED, knots[1:]))[:-1]
        rows = [
            np.where(ended, _ENDED, knots[:-1]),
            np.where(ended, 1.0, spans),
            np.where(ended, 0.0, kinds),
            values[:-1],
            values[1:],
        ]
        amplitudes = [*self.amplitudes, *[self.amplitudes[-1]] * (amplitude_slots - len(self.amplitudes))]
        header = [self.cycle_steps, self.hold_steps, self.cycle_decay, self.step_decay]
        parts = [np.asarray(header, np.float32), bounds, *rows, np.asarray(amplitudes, np.float32)]
        return np.concatenate(parts).astype(np.float32)

    def __call__(self, step):
        """The values at `step` (any shape), in `keras.ops`."""
        slots = self.slots
        return piecewise_value(ops.cast(step, _DTYPE), self.pack(*slots), *slots)


def packed_size(phase_slots, amplitude_slots):
    """The length of `Piecewise.pack(phase_slots, amplitude_slots)`."""
    return _HEADER + (phase_slots - 1) + _PHASE_ROWS * phase_slots + amplitude_slots


def piecewise_value(step, numbers, phase_slots, amplitude_slots):
    """The value at `step` of a packed `Piecewise`, in `keras.ops`.

    `numbers` is `Piecewise.pack(phase_slots, amplitude_slots)` (a float32 tensor or array), or a
    stack of them, shape `(..., packed_size)`; `step` is a float32 tensor that broadcasts against
    `numbers.shape[:-1]`: the steps of one schedule (`evaluate`) or one step of several (the
    compiled step evaluates the learning rate, momentum and weight decay at once). Steps before 0
    count as step 0.
    """
    numbers = ops.convert_to_tensor(numbers, _DTYPE)
    p = phase_slots
    offsets = np.cumsum([0, _HEADER, p - 1 + _PHASE_ROWS * p, amplitude_slots])
    header, phases, amplitudes = (numbers[..., a:b] for a, b in itertools.pairwise(offsets))
    cycle_steps, hold_steps, cycle_decay, step_decay = ops.unstack(header, axis=-1)
    step = ops.maximum(step, 0.0)
    step = ops.where(hold_steps > 1, ops.floor(step / hold_steps) * hold_steps, step)  # 1: fractions too
    cyclic = cycle_steps > 0
    position = step / ops.where(cyclic, cycle_steps, 1.0)
    cycle = ops.where(cyclic, ops.floor(position), 0.0)
    x = position - cycle
    amplitude = _pick(amplitudes, ops.minimum(cycle, amplitude_slots - 1), amplitude_slots)
    amplitude = amplitude * ops.power(cycle_decay, cycle) * ops.power(step_decay, step)
    start, divisor, kind, first, last = _phase_of(x, phases, p)
    base = phases[..., p - 1 + 3 * p]  # the first phase's first value
    ends = [ops.where(amplitude == 1.0, v, base + amplitude * (v - base)) for v in (first, last)]
    pct = ops.clip((x - start) / divisor, 0.0, 1.0)
    anneal = {name: ANNEALERS[name](ends[0], ends[1], pct) for name in ANNEAL_KINDS}
    return ops.where(kind == 1.0, anneal["cos"], ops.where(kind == 2.0, anneal["exp"], anneal["linear"]))


def _phase_of(x, phases, phase_slots):
    """The packed start, divisor, kind, first and last value of the phase at position `x`: the first
    phase whose bound `x` has not passed, else the last. `phases` is the packing's bounds and rows.

    Up to `_CHAINED_PHASES` phase slots, by a chain of selects: element-wise, so that XLA fuses the
    whole evaluation into 3 loops (five one-hot sums, whose results several ops read, made 11: about
    7 µs a step on JAX CPU against 1 µs now, BENCHMARKS.md section 0). A longer table, by one
    one-hot sum over its phases: chains would grow with the table.
    """
    p = phase_slots
    if p <= _CHAINED_PHASES:
        columns = ops.unstack(phases, axis=-1)
        passed = [x > bound for bound in columns[: p - 1]]
        found = []
        for row in range(_PHASE_ROWS):
            slots = columns[p - 1 + row * p : p - 1 + (row + 1) * p]
            value = slots[-1]
            for i in reversed(range(p - 1)):
                value = ops.where(passed[i], value, slots[i])
            found.append(value)
        return found
    bounds, rows = phases[..., : p - 1], phases[..., p - 1 :]
    phase = ops.sum(ops.cast(ops.expand_dims(x, -1) > bounds, _DTYPE), axis=-1)
    rows = ops.reshape(rows, (*ops.shape(rows)[:-1], _PHASE_ROWS, p))
    found = _pick(rows, ops.expand_dims(phase, -1), p)
    return [found[..., row] for row in range(_PHASE_ROWS)]


_host_piecewise_value = compat.host_function(piecewise_value, static_argnums=(2, 3))


def _pick(row, index, slots):
    """`row[..., index]` for a float index tensor: a one-hot sum, which broadcasts like arithmetic."""
    return ops.sum(ops.one_hot(ops.cast(index, "int32"), slots, dtype=_DTYPE) * row, axis=-1)


def evaluate(schedule, num_steps: int) -> np.ndarray:
    """Values of `schedule` at steps `0 .. num_steps - 1`, computed by the schedule's own code.

    Example:

    >>> evaluate(CyclicSchedule(0.0, 1.0, cycle_steps=4, mode="triangular"), 5).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]

    Returns:
        A float32 NumPy array of shape `(num_steps,)`.
    """
    if isinstance(schedule, Piecewise) or hasattr(schedule, "piecewise"):
        form = schedule if isinstance(schedule, Piecewise) else schedule.piecewise()
        return host_values([form], 0, num_steps)[:, 0]
    steps = ops.arange(num_steps, dtype=_DTYPE)
    return np.asarray(ops.convert_to_numpy(schedule(steps)), dtype=np.float32)


HOST_CHUNK = 4096  # steps evaluated at a time on the host: one shape, so one compile per process


def host_values(forms, first_step, num_steps):
    """The values of several `Piecewise` at steps `first_step .. first_step + num_steps - 1`, as a
    float32 NumPy array `(num_steps, len(forms))`, evaluated together by `piecewise_value` on the
    host in chunks of one fixed shape."""
    slots = tuple(max(form.slots[i] for form in forms) for i in range(2))
    numbers = np.stack([form.pack(*slots) for form in forms])
    chunks = []
    for start in range(first_step, first_step + num_steps, HOST_CHUNK):
        steps = np.arange(start, start + HOST_CHUNK, dtype=np.float32)[:, None]
        chunks.append(np.asarray(ops.convert_to_numpy(_host_piecewise_value(steps, numbers, *slots))))
    if not chunks:
        return np.zeros((0, len(forms)), np.float32)
    return np.concatenate(chunks)[:num_steps].astype(np.float32)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class OneCycleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The one-cycle policy: up from `initial_value` to `peak_value`, then down to `final_value`.

    Leslie Smith's one-cycle policy (https://arxiv.org/abs/1803.09820) as a pure function of the step.
    The same class drives momentum, which runs the other way: give it `initial_value=0.95`,
    `peak_value=0.85`, `final_value=0.95`.

    The phases follow PyTorch's `torch.optim.lr_scheduler.OneCycleLR` exactly, so that both libraries
    give the same value at every step:

    ```python
    def one_cycle(step):
        up_end = pct_start * total_steps - 1
        if step <= up_end:
            return anneal(initial_value, peak_value, step / up_end)
        pct = min((step - up_end) / (total_steps - 1 - up_end), 1)
        return anneal(peak_value, final_value, pct)
    ```

    With `three_phase=True` the curve goes `initial -> peak` until `pct_start * total_steps - 1`,
    `peak -> initial` until `2 * pct_start * total_steps - 2`, and `initial -> final` until the last
    step. Steps past `total_steps - 1` stay at `final_value`.

    Mapping from `OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy, div_factor,
    final_div_factor, three_phase)`: `initial_value = max_lr / div_factor`, `peak_value = max_lr`,
    `final_value = initial_value / final_div_factor`; for momentum, `initial_value = max_momentum`,
    `peak_value = base_momentum`, `final_value = max_momentum`.

    Example:

    >>> import keras
    >>> from keras_one_cycle_clr import OneCycleSchedule
    >>> schedule = OneCycleSchedule(0.01, 0.1, 0.0, total_steps=100)
    >>> round(float(schedule(0)), 4), round(float(schedule(29)), 4), float(schedule(99))
    (0.01, 0.1, 0.0)
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)

    Args:
        initial_value: A Python float. The value at step 0, unless `pct_start * total_steps <= 1`:
            the first phase then ends at or before step 0 and has no step of its own (PyTorch
            divides by zero at `== 1`): step 0 is then on the way down from `peak_value`, or, with
            `three_phase`, whose second phase is empty too, on the way from `initial_value` to
            `final_value`.
        peak_value: A Python float. The value at the end of the first phase.
        final_value: A Python float. The value at the last step and after.
        total_steps: A Python int. The length of the cycle in optimizer steps.
        pct_start: A Python float in (0, 1). The fraction of the cycle spent going to `peak_value`.
            Defaults to 0.3.
        anneal: `"cos"` or `"linear"`: the shape of every phase. Defaults to `"cos"`.
        three_phase: A Python bool. Use PyTorch's three-phase variant. Defaults to False.
        name: A Python string. Defaults to `"OneCycleSchedule"`.

    Returns:
        A 1-arg callable schedule that takes the current optimizer step and returns a float32 value.

    Raises:
        ValueError, TypeError: when an argument is outside the range given above.
    """

    def __init__(
        self,
        initial_value,
        peak_value,
        final_value,
        total_steps,
        pct_start=0.3,
        anneal="cos",
        three_phase=False,
        name="OneCycleSchedule",
    ):
        super().__init__()
        self.initial_value = _checks.check_number("initial_value", initial_value)
        self.peak_value = _checks.check_number("peak_value", peak_value)
        self.final_value = _checks.check_number("final_value", final_value)
        self.total_steps = _checks.check_count("total_steps", total_steps)
        self.anneal = _checks.check_choice("anneal", anneal, ANNEALS)
        self.three_phase = _checks.check_bool("three_phase", three_phase)
        self.pct_start = _checks.check_rise_fraction("pct_start", pct_start, self.three_phase)
        self.name = _checks.check_name("name", name)

    def piecewise(self):
        """This schedule as a `Piecewise`: the numbers the compiled step evaluates."""
        up_end = self.pct_start * self.total_steps - 1
        last = self.total_steps - 1
        if self.three_phase:
            knots = [0.0, up_end, 2 * self.pct_start * self.total_steps - 2, last]
            values = [self.initial_value, self.peak_value, self.initial_value, self.final_value]
        else:
            knots = [0.0, up_end, last]
            values = [self.initial_value, self.peak_value, self.final_value]
        kinds = (self.anneal,) * (len(knots) - 1)
        return Piecewise(tuple(float(k) for k in knots), tuple(values), kinds)

    def __call__(self, step):
        with keras.name_scope(self.name):
            return self.piecewise()(step)

    def get_config(self):
        return {
            "initial_value": self.initial_value,
            "peak_value": self.peak_value,
            "final_value": self.final_value,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "anneal": self.anneal,
            "three_phase": self.three_phase,
            "name": self.name,
        }


CYCLIC_MODES = ("cosine", "triangular", "triangular2", "exp_range")
MODES_WITH_OWN_AMPLITUDE = ("triangular2", "exp_range")  # they shrink each cycle's height themselves


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CyclicSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclical values between `base_value` and `peak_value` (https://arxiv.org/abs/1506.01186).

    Every cycle lasts `cycle_steps` optimizer steps: it rises from `base_value` towards `peak_value`
    during the first `pct_up` of the cycle and falls back during the rest. The height reached is
    `(peak_value - base_value) * amplitude`, where the amplitude depends on `mode`:

    ```python
    def cyclic(step):
        cycle, x = divmod(step / cycle_steps, 1)   # cycle index, position in the cycle
        top = base_value + (peak_value - base_value) * amplitude(cycle, step)
        if x <= pct_up:
            return anneal(base_value, top, x / pct_up)
        return anneal(top, base_value, (x - pct_up) / (1 - pct_up))
    ```

    - `"cosine"` (the 2019 library's shape): cosine phases; `amplitude = amplitudes[cycle]`.
    - `"triangular"`: straight phases, `amplitude = amplitudes[cycle]` (1 by default).
    - `"triangular2"`: straight phases, the amplitude halves every cycle.
    - `"exp_range"`: straight phases, `amplitude = gamma ** step`.

    With `pct_up=0.5` the three classic modes match `torch.optim.lr_scheduler.CyclicLR` with
    `step_size_up = step_size_down = cycle_steps / 2`. For momentum, give `base_value=max_momentum`
    and `peak_value=base_momentum`. `amplitudes` lists one factor per cycle; cycles past its end use
    its last entry.

    Example:

    >>> from keras_one_cycle_clr import CyclicSchedule
    >>> schedule = CyclicSchedule(0.001, 0.01, cycle_steps=200, pct_up=0.5, mode="triangular")
    >>> [round(float(schedule(s)), 4) for s in (0, 100, 200)]
    [0.001, 0.01, 0.001]

    Args:
        base_value: A Python float. The value at the start and end of every cycle.
        peak_value: A Python float. The value at the top of a cycle of amplitude 1.
        cycle_steps: A Python float > 0. The length of one cycle in optimizer steps.
        pct_up: A Python float in (0, 1). The fraction of a cycle spent rising. Defaults to 0.5.
        mode: One of `"cosine"`, `"triangular"`, `"triangular2"`, `"exp_range"`.
            Defaults to `"cosine"`.
        gamma: A Python float in (0, 1]. The decay per step of `"exp_range"`. Defaults to 1.0.
        amplitudes: A list of Python floats >= 0, one per cycle, or None (all 1). Only with
            `"cosine"` and `"triangular"`. Defaults to None.
        name: A Python string. Defaults to `"CyclicSchedule"`.

    Returns:
        A 1-arg callable schedule that takes the current optimizer step and returns a float32 value.

    Raises:
        ValueError, TypeError: when an argument is outside the range given above.
    """

    def __init__(
        self,
        base_value,
        peak_value,
        cycle_steps,
        pct_up=0.5,
        mode="cosine",
        gamma=1.0,
        amplitudes=None,
        name="CyclicSchedule",
    ):
        super().__init__()
        self.base_value = _checks.check_number("base_value", base_value)
        self.peak_value = _checks.check_number("peak_value", peak_value)
        self.cycle_steps = _checks.check_positive("cycle_steps", cycle_steps)
        self.pct_up = _checks.check_fraction("pct_up", pct_up)
        self.mode = _checks.check_choice("mode", mode, CYCLIC_MODES)
        self.gamma = _checks.check_number("gamma", gamma, low=0.0, high=1.0, low_inclusive=False)
        if amplitudes is not None:
            if isinstance(amplitudes, (str, bytes)) or not hasattr(amplitudes, "__len__"):
                _checks.fail("amplitudes", "a list of floats >= 0, or None", amplitudes, TypeError)
            if mode in MODES_WITH_OWN_AMPLITUDE:
                _checks.fail("amplitudes", f"None with mode={mode!r}, which sets its own", amplitudes)
            if len(amplitudes) == 0:
                _checks.fail("amplitudes", "a non-empty list of floats >= 0", amplitudes)
            amplitudes = [
                _checks.check_number(f"amplitudes[{i}]", a, low=0.0) for i, a in enumerate(amplitudes)
            ]
        self.amplitudes = amplitudes
        self.name = _checks.check_name("name", name)

    def piecewise(self):
        """This schedule as a `Piecewise`: the numbers the compiled step evaluates."""
        kind = "cos" if self.mode == "cosine" else "linear"
        return Piecewise(
            knots=(0.0, self.pct_up, 1.0),
            values=(self.base_value, self.peak_value, self.base_value),
            kinds=(kind, kind),
            cycle_steps=self.cycle_steps,
            amplitudes=tuple(self.amplitudes or (1.0,)),
            cycle_decay=0.5 if self.mode == "triangular2" else 1.0,
            step_decay=self.gamma if self.mode == "exp_range" else 1.0,
        )

    def __call__(self, step):
        with keras.name_scope(self.name):
            return self.piecewise()(step)

    def get_config(self):
        return {
            "base_value": self.base_value,
            "peak_value": self.peak_value,
            "cycle_steps": self.cycle_steps,
            "pct_up": self.pct_up,
            "mode": self.mode,
            "gamma": self.gamma,
            "amplitudes": self.amplitudes,
            "name": self.name,
        }


SWEEP_SPACINGS = ("exp", "linear")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SweepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The range test's sweep: `num_values` values from `start_value` to `end_value`, each held for
    `hold_steps` steps; steps past the end keep `end_value`.

    ```python
    def sweep(step):
        i = min(step // hold_steps, num_values - 1)
        return anneal(start_value, end_value, i / (num_values - 1))  # geometric for "exp"
    ```

    Example:

    >>> from keras_one_cycle_clr.schedules import SweepSchedule, evaluate
    >>> [round(float(v), 4) for v in evaluate(SweepSchedule(1e-3, 1e-1, num_values=3, hold_steps=2), 7)]
    [0.001, 0.001, 0.01, 0.01, 0.1, 0.1, 0.1]

    Args:
        start_value: A Python float > 0 (>= 0 for `"linear"`).
        end_value: A Python float > `start_value`.
        num_values: A Python int >= 2.
        hold_steps: A Python int >= 1. Defaults to 1.
        spacing: `"exp"` (geometric) or `"linear"`. Defaults to `"exp"`.
        name: A Python string. Defaults to `"SweepSchedule"`.

    Raises:
        ValueError, TypeError: when an argument is outside the range given above.
    """

    def __init__(self, start_value, end_value, num_values, hold_steps=1, spacing="exp", name="SweepSchedule"):
        super().__init__()
        self.spacing = _checks.check_choice("spacing", spacing, SWEEP_SPACINGS)
        low = 0.0 if self.spacing == "linear" else None
        if low is None:
            self.start_value = _checks.check_positive("start_value", start_value)
        else:
            self.start_value = _checks.check_number("start_value", start_value, low=low)
        self.end_value = _checks.check_number(
            "end_value", end_value, low=self.start_value, low_inclusive=False
        )
        self.num_values = _checks.check_count("num_values", num_values, minimum=2)
        self.hold_steps = _checks.check_count("hold_steps", hold_steps)
        self.name = _checks.check_name("name", name)

    def piecewise(self):
        """This schedule as a `Piecewise`: the numbers the compiled step evaluates."""
        return Piecewise(
            knots=(0.0, float((self.num_values - 1) * self.hold_steps)),
            values=(self.start_value, self.end_value),
            kinds=(self.spacing,),
            hold_steps=self.hold_steps,
        )

    def __call__(self, step):
        with keras.name_scope(self.name):
            return self.piecewise()(step)

    def get_config(self):
        return {
            "start_value": self.start_value,
            "end_value": self.end_value,
            "num_values": self.num_values,
            "hold_steps": self.hold_steps,
            "spacing": self.spacing,
            "name": self.name,
        }
