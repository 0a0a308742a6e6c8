"""In-step cost of evaluating the packed schedules: the evaluation before issue 22 against the current one.

The compiled train step evaluates every driven hyper-parameter's schedule from one packed variable
(`schedules.piecewise_value`). This times that evaluation alone, compiled as the train step is
(JAX: `jax.jit`; TensorFlow: `tf.function(jit_compile=True)`; PyTorch: eager, as Keras runs it), for
the three schedules a `OneCycle` fit drives: a one-cycle learning rate, a one-cycle momentum and a
constant weight decay (a stack of three packed schedules, one step).

- `trivial`: a compiled function of the same inputs that only adds the step to one number: the floor,
  what any call costs (dispatch, argument handling, the wait for its result);
- `before`: `piecewise_value` and `Piecewise.pack` as they were before issue 22 (frozen below: five
  one-hot gathers and a cumulative product per evaluation);
- `now`: the package's `piecewise_value` on the package's packing.

Each call waits for its result (as the train step needs the values before its update). Variants are
timed round-robin, the order rotating every round; each round times a block of calls of each variant
and keeps its median; the table reports the median over rounds, and the work above the floor. It
also checks, over a range of steps, that both evaluations give the same float32 values.

    KERAS_BACKEND=jax .venv/bin/python bench/schedule_eval_cost.py --rounds 41 --calls 400
    KERAS_BACKEND=jax .venv/bin/python bench/schedule_eval_cost.py --smoke
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import time

import keras
import numpy as np
from keras import ops

from keras_one_cycle_clr import schedules
from keras_one_cycle_clr._anneal import ANNEALERS

BACKEND = keras.backend.backend()
TOTAL_STEPS = 1000


# -- frozen: the packing and the evaluation before issue 22 (src/ at ebc09ec) ------------------------
_OLD_HEADER = 4
_OLD_KINDS = ("linear", "cos", "exp")


def old_pack(form, phase_slots, amplitude_slots):
    pad = phase_slots - len(form.kinds)
    knots = [*form.knots, *[form.knots[-1]] * pad]
    spans = [*(b - a for a, b in itertools.pairwise(form.knots)), *[0.0] * pad]
    values = [*form.values, *[form.values[-1]] * pad]
    kinds = [*(_OLD_KINDS.index(k) for k in form.kinds), *[0] * pad]
    amplitudes = [*form.amplitudes, *[form.amplitudes[-1]] * (amplitude_slots - len(form.amplitudes))]
    header = [form.cycle_steps, form.hold_steps, form.cycle_decay, form.step_decay]
    return np.asarray([*header, *knots, *spans, *values, *kinds, *amplitudes], dtype=np.float32)


def _old_pick(row, index, slots):
    return ops.sum(ops.one_hot(ops.cast(index, "int32"), slots, dtype="float32") * row, axis=-1)


def old_piecewise_value(step, numbers, phase_slots, amplitude_slots):
    numbers = ops.convert_to_tensor(numbers, "float32")
    p = phase_slots
    offsets = np.cumsum([0, _OLD_HEADER, p + 1, p, p + 1, p, amplitude_slots])
    header, knots, spans, values, kinds, amplitudes = (
        numbers[..., a:b] for a, b in itertools.pairwise(offsets)
    )
    cycle_steps, hold_steps, cycle_decay, step_decay = (header[..., i] for i in range(_OLD_HEADER))
    step = ops.maximum(step, 0.0)
    step = ops.where(hold_steps > 1, ops.floor(step / hold_steps) * hold_steps, step)
    cyclic = cycle_steps > 0
    position = step / ops.where(cyclic, cycle_steps, 1.0)
    cycle = ops.where(cyclic, ops.floor(position), 0.0)
    x = position - cycle
    amplitude = _old_pick(amplitudes, ops.minimum(cycle, amplitude_slots - 1), amplitude_slots)
    amplitude = amplitude * ops.power(cycle_decay, cycle) * ops.power(step_decay, step)
    claims = ops.logical_and(ops.expand_dims(x, -1) <= knots[..., 1:p], spans[..., : p - 1] > 0)
    phase = ops.sum(ops.cumprod(1.0 - ops.cast(claims, "float32"), axis=-1), axis=-1)
    start, span, kind = (_old_pick(row, phase, p) for row in (knots[..., :p], spans, kinds))
    base = values[..., 0]
    ends = [_old_pick(values, phase, p + 1), _old_pick(values, phase + 1.0, p + 1)]
    ends = [ops.where(amplitude == 1.0, v, base + amplitude * (v - base)) for v in ends]
    pct = ops.clip((x - start) / ops.where(span > 0, span, 1.0), 0.0, 1.0)
    anneal = {name: ANNEALERS[name](ends[0], ends[1], pct) for name in _OLD_KINDS}
    value = ops.where(kind == 1.0, anneal["cos"], ops.where(kind == 2.0, anneal["exp"], anneal["linear"]))
    return ops.where(span > 0, value, ends[1])


# -- the subjects ------------------------------------------------------------------------------------
def forms():
    """The three schedules of a OneCycle fit with weight decay: learning rate, momentum, weight decay."""
    return [
        schedules.OneCycleSchedule(0.004, 0.1, 0.0, total_steps=TOTAL_STEPS).piecewise(),
        schedules.OneCycleSchedule(0.95, 0.85, 0.95, total_steps=TOTAL_STEPS).piecewise(),
        schedules.Piecewise.constant(1e-4),
    ]


def slots_of(packed_forms):
    return tuple(max(form.slots[i] for form in packed_forms) for i in range(2))


def compiled(function):
    """`function` compiled as Keras compiles a train step on this backend."""
    if BACKEND == "jax":
        import jax

        return jax.jit(function)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=True)
    return function  # PyTorch: Keras runs the step eagerly


def waited(function):
    """`function` that returns only once its result is computed."""
    if BACKEND == "jax":
        return lambda *args: function(*args).block_until_ready()
    if BACKEND == "tensorflow":
        return lambda *args: function(*args).numpy()
    return function


def subjects():
    packed_forms = forms()
    slots = slots_of(packed_forms)
    old_numbers = ops.convert_to_tensor(np.stack([old_pack(f, *slots) for f in packed_forms]))
    new_numbers = ops.convert_to_tensor(np.stack([f.pack(*slots) for f in packed_forms]))
    functions = {
        "trivial": (lambda step, numbers: numbers[..., 0] + step, new_numbers),
        "before": (lambda step, numbers: old_piecewise_value(step, numbers, *slots), old_numbers),
        "now": (lambda step, numbers: schedules.piecewise_value(step, numbers, *slots), new_numbers),
    }
    return {name: (compiled(f), numbers) for name, (f, numbers) in functions.items()}


def value_difference(variants, num_steps):
    """The largest difference between both evaluations, compiled, at steps 0 .. num_steps - 1 (past
    the cycle's end), relative to each schedule's largest value: 0.0 where they agree bit for bit."""
    results = {}
    for name in ("before", "now"):
        function, numbers = variants[name]
        results[name] = np.stack(
            [
                np.asarray(ops.convert_to_numpy(function(ops.convert_to_tensor(np.float32(s)), numbers)))
                for s in range(num_steps)
            ]
        ).astype(np.float64)
    scale = np.abs(results["before"]).max(axis=0)
    return float((np.abs(results["before"] - results["now"]) / scale).max())


def hlo_lines(function, numbers):
    """Lines of the optimized HLO (JAX only), a size of what runs per call; None elsewhere."""
    if BACKEND != "jax":
        return None
    step = np.float32(1.0)
    return len(function.lower(step, numbers).compile().as_text().splitlines())


def time_calls(function, numbers, step, calls):
    call = waited(function)
    durations = []
    for _ in range(calls):
        start = time.perf_counter()
        call(step, numbers)
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=41, help="rounds of every variant (median)")
    parser.add_argument("--calls", type=int, default=400, help="timed calls per variant and round")
    parser.add_argument("--smoke", action="store_true", help="toy sizes: proves the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.calls = 3, 20
    variants = subjects()
    difference = value_difference(variants, 60 if args.smoke else TOTAL_STEPS + 10)
    step = ops.convert_to_tensor(np.float32(TOTAL_STEPS // 3))
    for function, numbers in variants.values():  # compile and warm up
        time_calls(function, numbers, step, 5)
    names = list(variants)
    per_round = {name: [] for name in names}
    for round_index in range(args.rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            function, numbers = variants[name]
            per_round[name].append(time_calls(function, numbers, step, args.calls))
    medians = {name: statistics.median(times) * 1e6 for name, times in per_round.items()}
    floor = medians["trivial"]
    work = {name: medians[name] - floor for name in names}

    print(f"# schedule evaluation, KERAS_BACKEND={BACKEND}, keras {keras.__version__}, {platform.machine()}")
    print(f"# {args.rounds} rounds x {args.calls} calls, median of medians")
    print(f"# before and now differ by {difference:.1e} (relative to each schedule's largest value)")
    print()
    print("| variant | µs per call | above the floor (µs) | optimized HLO lines |")
    print("|---|---:|---:|---:|")
    for name in names:
        lines = hlo_lines(*variants[name])
        print(f"| {name} | {medians[name]:.2f} | {work[name]:.2f} | {'' if lines is None else lines} |")
    ratio = f"{work['before'] / work['now']:.1f}x" if work["now"] > 0 else "now at the floor"
    print(f"| before / now, above the floor | | {ratio} | |")
    if difference > 1e-6:
        msg = f"the two evaluations differ by {difference:.1e}: not the same schedules"
        raise SystemExit(msg)


if __name__ == "__main__":
    main()
