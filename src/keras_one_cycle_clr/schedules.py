"""The one-cycle and cyclical schedules, as serializable Keras `LearningRateSchedule`s.

Each schedule is a pure function of the optimizer step. It can be passed straight to an optimizer as
`learning_rate=`, and the callbacks in `keras_one_cycle_clr.callbacks` build the same classes for the
learning rate and for momentum, so what `schedule_values` shows is what trains.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_one_cycle_clr import _checks
from keras_one_cycle_clr._anneal import ANNEALERS

_PACKAGE = "keras_one_cycle_clr"
_DTYPE = "float32"


def _phase_value(step, start_step, end_step, start_value, end_value, anneal):
    span = end_step - start_step
    if span <= 0:  # a phase shorter than one step: it has already ended
        return ops.convert_to_tensor(end_value, _DTYPE)
    pct = ops.clip((step - start_step) / span, 0.0, 1.0)
    return anneal(start_value, end_value, pct)


def piecewise_anneal(step, knots, values, anneal):
    """Joins annealing phases: phase `i` runs from `values[i]` at step `knots[i]` to `values[i + 1]`
    at step `knots[i + 1]`; a step belongs to the first phase whose end it has not passed, and steps
    past the last knot stay at `values[-1]`.

    Example:

    >>> from keras import ops
    >>> from keras_one_cycle_clr._anneal import linear_anneal
    >>> steps = ops.arange(5, dtype="float32")
    >>> values = piecewise_anneal(steps, [0.0, 2.0, 4.0], [0.0, 1.0, 0.5], linear_anneal)
    >>> ops.convert_to_numpy(values).tolist()
    [0.0, 0.5, 1.0, 0.75, 0.5]

    Args:
        step: The step(s), a float32 tensor.
        knots: Python floats, increasing: where each phase ends.
        values: Python floats, one more than the phases: the value at each knot.
        anneal: An interpolation function `(start, end, pct) -> value` from `_anneal`.

    Returns:
        A tensor shaped like `step`.
    """
    result = _phase_value(step, knots[-2], knots[-1], values[-2], values[-1], anneal)
    for i in range(len(knots) - 3, -1, -1):
        phase = _phase_value(step, knots[i], knots[i + 1], values[i], values[i + 1], anneal)
        result = ops.where(step <= knots[i + 1], phase, result)
    return result


def evaluate(schedule, num_steps: int) -> np.ndarray:
    """Values of `schedule` at steps `0 .. num_steps - 1`, computed by the schedule's own code.

    Example:

    >>> evaluate(CyclicSchedule(0.0, 1.0, cycle_steps=4, mode="triangular"), 5).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]

    Returns:
        A float32 NumPy array of shape `(num_steps,)`.
    """
    steps = ops.arange(num_steps, dtype=_DTYPE)
    return np.asarray(ops.convert_to_numpy(schedule(steps)), dtype=np.float32)


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
            the first phase then ends at or before step 0, which is already past it (as in PyTorch,
            which divides by zero at `== 1`; there step 0 is `peak_value`, and with `three_phase`
            step 1 is back near `initial_value`).
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
        self.pct_start = _checks.check_fraction("pct_start", pct_start)
        self.anneal = _checks.check_choice("anneal", anneal, tuple(ANNEALERS))
        self.three_phase = _checks.check_bool("three_phase", three_phase)
        if three_phase and self.pct_start >= 0.5:
            _checks.fail("pct_start", "in (0, 0.5) when three_phase=True", pct_start)
        self.name = _checks.check_name("name", name)

    def _knots_and_values(self):
        up_end = self.pct_start * self.total_steps - 1
        last = self.total_steps - 1
        if self.three_phase:
            knots = [0.0, up_end, 2 * self.pct_start * self.total_steps - 2, last]
            values = [self.initial_value, self.peak_value, self.initial_value, self.final_value]
        else:
            knots = [0.0, up_end, last]
            values = [self.initial_value, self.peak_value, self.final_value]
        return [float(k) for k in knots], values

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = ops.cast(step, _DTYPE)
            knots, values = self._knots_and_values()
            return piecewise_anneal(step, knots, values, ANNEALERS[self.anneal])

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
            if mode in ("triangular2", "exp_range"):
                _checks.fail("amplitudes", f"None with mode={mode!r}, which sets its own", amplitudes)
            if len(amplitudes) == 0:
                _checks.fail("amplitudes", "a non-empty list of floats >= 0", amplitudes)
            amplitudes = [
                _checks.check_number(f"amplitudes[{i}]", a, low=0.0) for i, a in enumerate(amplitudes)
            ]
        self.amplitudes = amplitudes
        self.name = _checks.check_name("name", name)

    def _amplitude(self, cycle, step):
        if self.mode == "triangular2":
            return ops.power(0.5, cycle)
        if self.mode == "exp_range":
            return ops.power(self.gamma, step)
        if self.amplitudes is None:
            return 1.0
        table = ops.convert_to_tensor(np.asarray(self.amplitudes, dtype=np.float32))
        index = ops.cast(ops.minimum(cycle, len(self.amplitudes) - 1), "int32")
        return ops.take(table, index)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = ops.cast(step, _DTYPE)
            position = step / self.cycle_steps
            cycle = ops.floor(position)
            x = position - cycle
            top = self.base_value + (self.peak_value - self.base_value) * self._amplitude(cycle, step)
            anneal = ANNEALERS["cos" if self.mode == "cosine" else "linear"]
            rising = anneal(self.base_value, top, x / self.pct_up)
            falling = anneal(top, self.base_value, (x - self.pct_up) / (1.0 - self.pct_up))
            return ops.where(x <= self.pct_up, rising, falling)

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
