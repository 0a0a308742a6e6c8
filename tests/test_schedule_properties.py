"""Properties of the schedule math, for any valid arguments: ranges, knots, continuity, resampling.

test_schedules.py checks values against references at chosen points; this checks what must hold
everywhere. The schedules compute in float32, so every comparison allows a float32 error whose bound
is derived below from the arithmetic the schedules do, not tuned until the tests pass.

Float32 error bound (`one_cycle_error`, `cyclic_error`):
- The anneal formulas (`_anneal.py`) take a `pct` in [0, 1] and do at most 8 float32 operations on
  magnitudes up to 2M (M: the largest |value|), each rounding by at most eps/2 of its magnitude, and
  `cos` is accurate to about an ulp: at most 8 * eps * M in all.
- `pct = (step - knot) / span` rounds `knot` and `span` to float32 and rounds the subtraction and the
  division: it is off by at most eps * (|knot| / span + 3) (integer steps below 2**24 are exact). The
  anneal's slope in `pct` is at most SLOPE * |end - start| (pi/2 for a cosine), which turns that into
  a value error. The same term covers a step that falls on the other side of a knot rounded to
  float32: the curve is continuous there and the step is at most eps * |knot| away.
- Cyclic positions are `step / cycle_steps`: off by eps * position, i.e. eps * (position + 3) /
  min(pct_up, 1 - pct_up) in the phase's `pct`; exp_range's `gamma ** step` is off by at most
  eps * step of the amplitude.
A bound of 8 float32 tiny values covers underflow of values near zero.

One configuration has no continuity bound: three phases with pct_start * total_steps == 1 (see the
continuity test).
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from keras import ops

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr.schedules import Piecewise

EPS = float(np.finfo(np.float32).eps)
TINY = float(np.finfo(np.float32).tiny)
SLOPE = {"cos": math.pi / 2, "linear": 1.0}  # max |d anneal(a, b, pct) / d pct| per unit of |b - a|

# Small enough for a few seconds per backend on a 2-core CI box; every example evaluates schedules
# eagerly through keras.ops. No example database: nothing is written next to the tests.
PROPERTY = settings(deadline=None, max_examples=25, database=None)

values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False)
anneals = st.sampled_from(["cos", "linear"])


# JAX compiles every eager op once per input shape: the schedules are evaluated on one fixed grid of
# steps and sliced, and the policies below draw their lengths from a few fixed values.
GRID_STEPS = 4096
POLICY_LENGTHS = [12, 40]


def curve_of(schedule, num_steps):
    """The schedule's values at steps 0 .. num_steps - 1, as float64."""
    assert num_steps <= GRID_STEPS
    curve = ops.convert_to_numpy(schedule(ops.arange(GRID_STEPS, dtype="float32")))
    return curve[:num_steps].astype(np.float64)


def anneal_error(*values):
    return 8 * EPS * max(abs(v) for v in values) + 8 * TINY


# -- OneCycleSchedule ---------------------------------------------------------------------------------


def one_cycle_phases(initial, peak, final, total_steps, pct_start, three_phase):
    """The docstring's phases, `(start_step, end_step, start_value, end_value)`, restated."""
    up_end = pct_start * total_steps - 1
    last = total_steps - 1
    if three_phase:
        down_end = 2 * pct_start * total_steps - 2
        return [
            (0.0, up_end, initial, peak),
            (up_end, down_end, peak, initial),
            (down_end, last, initial, final),
        ]
    return [(0.0, up_end, initial, peak), (up_end, last, peak, final)]


def one_cycle_error(phases, anneal):
    """The float32 error bound of the module docstring, for one schedule."""
    error = anneal_error(*(v for phase in phases for v in phase[2:]))
    for start, end, a, b in phases:
        if end > start:
            error += SLOPE[anneal] * abs(b - a) * EPS * (abs(start) / (end - start) + 3)
    return error


def one_step_change(phases, anneal, step):
    """The most the exact curve can move from `step` to `step + 1`: each phase contributes its
    slope times the part of [step, step + 1] it covers, and never more than its whole rise. Sound
    when the curve is continuous, as it is on [0, inf) except in the case excluded below."""
    change = 0.0
    for start, end, a, b in phases:
        if end > start:
            covered = max(0.0, min(step + 1, end) - max(step, start))
            change += min(SLOPE[anneal] * abs(b - a) * covered / (end - start), abs(b - a))
    return change


@st.composite
def one_cycles(draw, max_steps=3000):
    three_phase = draw(st.booleans())
    return {
        "initial_value": draw(values),
        "peak_value": draw(values),
        "final_value": draw(values),
        "total_steps": draw(st.integers(1, max_steps)),
        "pct_start": draw(st.floats(0.01, 0.49 if three_phase else 0.99)),
        "anneal": draw(anneals),
        "three_phase": three_phase,
    }


def one_cycle(kwargs, extra_steps=0):
    """The schedule's values at steps 0 .. total_steps - 1 + extra_steps, and its phases and error."""
    schedule = kclr.OneCycleSchedule(**kwargs)
    phases = one_cycle_phases(
        kwargs["initial_value"],
        kwargs["peak_value"],
        kwargs["final_value"],
        kwargs["total_steps"],
        kwargs["pct_start"],
        kwargs["three_phase"],
    )
    curve = curve_of(schedule, kwargs["total_steps"] + extra_steps)
    return curve, phases, one_cycle_error(phases, kwargs["anneal"])


# Found by chance: three phases with pct_start * total_steps == 1 leave the first two phases
# empty; step 0 then belonged to the first (the peak) and step 1 jumped back to initial_value.
EMPTY_FIRST_PHASES = {
    "initial_value": 1.0,
    "peak_value": 0.0,
    "final_value": 0.0,
    "total_steps": 100,
    "pct_start": 0.01,
    "anneal": "cos",
    "three_phase": True,
}
# A first phase of one step, and a first phase that ends before step 0.
ONE_STEP_FIRST_PHASE = {**EMPTY_FIRST_PHASES, "pct_start": 0.02, "three_phase": False}
FIRST_PHASE_BEFORE_STEP_0 = {**EMPTY_FIRST_PHASES, "pct_start": 0.005, "three_phase": False}


@PROPERTY
@given(one_cycles())
@example(EMPTY_FIRST_PHASES)
@example(ONE_STEP_FIRST_PHASE)
@example(FIRST_PHASE_BEFORE_STEP_0)
def test_one_cycle_stays_within_its_values_and_each_phase_is_monotone(kwargs):
    curve, phases, error = one_cycle(kwargs)
    ends = [kwargs["initial_value"], kwargs["peak_value"], kwargs["final_value"]]
    # Any pct in [0, 1] gives a value between the phase's ends: only the anneal's own rounding counts.
    margin = anneal_error(*ends)
    assert curve.min() >= min(ends) - margin
    assert curve.max() <= max(ends) + margin
    for start, end, a, b in phases:
        inside = np.arange(max(0, math.ceil(start)), min(math.floor(end), len(curve) - 1) + 1)
        if end > start and len(inside) > 1:
            direction = np.sign(b - a)
            assert np.all(np.diff(curve[inside]) * direction >= -2 * error), (start, end, curve[inside])


@PROPERTY
@given(one_cycles(), st.integers(1, 5))
@example(EMPTY_FIRST_PHASES, 1)
@example(ONE_STEP_FIRST_PHASE, 1)
@example(FIRST_PHASE_BEFORE_STEP_0, 1)
def test_one_cycle_neighbouring_steps_differ_by_at_most_the_phase_slopes(kwargs, extra_steps):
    curve, phases, error = one_cycle(kwargs, extra_steps)
    bound = np.array([one_step_change(phases, kwargs["anneal"], k) for k in range(len(curve) - 1)])
    excess = np.abs(np.diff(curve)) - bound - 2 * error
    assert np.all(excess <= 0), (int(np.argmax(excess)), float(excess.max()))


@st.composite
def one_cycles_with_knots_on_steps(draw):
    """pct_start such that every knot is a whole step: pct_start * total_steps - 1 = peak_step."""
    kwargs = draw(one_cycles(max_steps=2000))
    total_steps = max(kwargs["total_steps"], 5 if kwargs["three_phase"] else 3)
    # pct_start < 1, and < 0.5 with three phases: peak_step + 1 < total_steps (/ 2).
    most = (total_steps - 1) // 2 - 1 if kwargs["three_phase"] else total_steps - 2
    peak_step = draw(st.integers(1, most))
    return {**kwargs, "total_steps": total_steps, "pct_start": (peak_step + 1) / total_steps}


@PROPERTY
@given(one_cycles_with_knots_on_steps(), st.integers(1, 50))
def test_one_cycle_starts_peaks_and_ends_exactly_on_its_knots(kwargs, extra_steps):
    curve, _, error = one_cycle(kwargs, extra_steps)
    peak_step = round(kwargs["pct_start"] * kwargs["total_steps"]) - 1
    last = kwargs["total_steps"] - 1
    assert curve[0] == pytest.approx(kwargs["initial_value"], rel=0, abs=error)
    assert curve[peak_step] == pytest.approx(kwargs["peak_value"], rel=0, abs=error)
    if kwargs["three_phase"]:
        assert curve[2 * peak_step] == pytest.approx(kwargs["initial_value"], rel=0, abs=error)
    # The last step and every step after it: the final value.
    np.testing.assert_allclose(curve[last:], kwargs["final_value"], rtol=0, atol=error)


def cycle_fraction(step, knots):
    """Where `step` lies in the cycle, as an exact fraction: the knots sit at fractions 0, p(, 2p), 1,
    and a step between two knots at the same proportion between their fractions."""
    for (s0, t0), (s1, t1) in itertools.pairwise(knots):
        if s0 <= step <= s1:
            return t0 + (t1 - t0) * Fraction(step - s0, s1 - s0)
    raise AssertionError(step)


@PROPERTY
@given(
    st.sampled_from(POLICY_LENGTHS),  # the smaller n_iter
    st.integers(2, 3),  # n_iter ratio
    st.data(),  # the peak step, which depends on n_iter
    st.booleans(),
    anneals,
    st.tuples(st.floats(1e-4, 1.0), st.floats(1.01, 100.0)),
    st.tuples(st.floats(0.0, 0.99), st.floats(0.0, 0.99)),
    st.floats(0.0, 1.0),
)
def test_one_cycle_policy_is_the_same_curve_at_any_n_iter(
    n_iter, ratio, data, three_phase, anneal, lr_factors, momentum_range, final_factor
):
    """OneCycle at n_iter=N and at n_iter=M: the same curve sampled on two grids of cycle fractions.
    pct_start is chosen so that the knots are whole steps at both lengths; every fraction on both grids
    (0, p, 2p with three phases, 1 and more) must give the same learning rate and momentum."""
    peak_step = data.draw(st.integers(1, (n_iter - 1) // 2 - 1 if three_phase else n_iter - 3))
    pct_start = (peak_step + 1) / n_iter
    lr_range = (lr_factors[0] * 0.1, lr_factors[0] * 0.1 * lr_factors[1])
    final_lr = final_factor * lr_range[0]
    policy = kclr.OneCycle(
        lr_range, momentum_range, pct_start, final_lr=final_lr, anneal=anneal, three_phase=three_phase
    )
    p = Fraction(peak_step + 1, n_iter)
    grids = {}
    for n in (n_iter, ratio * n_iter):
        curve = policy.schedule_values(n)
        knots = [(0, Fraction(0)), (int(p * n) - 1, p)]
        knots += [(2 * int(p * n) - 2, 2 * p)] if three_phase else []
        knots += [(n - 1, Fraction(1))]
        grids[n] = {cycle_fraction(s, knots): (curve["lr"][s], curve["momentum"][s]) for s in range(n)}
        # The learning rate stays within lr_range and final_lr, momentum within momentum_range.
        lrs = [*lr_range, final_lr]
        assert curve["lr"].min() >= min(lrs) - anneal_error(*lrs)
        assert curve["lr"].max() <= max(lrs) + anneal_error(*lrs)
        assert curve["momentum"].min() >= min(momentum_range) - anneal_error(*momentum_range)
        assert curve["momentum"].max() <= max(momentum_range) + anneal_error(*momentum_range)
    small, large = grids[n_iter], grids[ratio * n_iter]
    shared = sorted(set(small) & set(large))
    assert {Fraction(0), p, *([2 * p] if three_phase else []), Fraction(1)} <= set(shared)
    # Both grids compute the same pct from the same exact fraction, so the same float32 pct and value;
    # the tolerance only allows for the two evaluations rounding differently (vectorized kernels).
    lr_error = 2 * anneal_error(*lr_range, final_lr)
    momentum_error = 2 * anneal_error(*momentum_range)
    for fraction in shared:
        assert small[fraction][0] == pytest.approx(large[fraction][0], rel=0, abs=lr_error), fraction
        assert small[fraction][1] == pytest.approx(large[fraction][1], rel=0, abs=momentum_error), fraction


# -- CyclicSchedule -----------------------------------------------------------------------------------


ANY_CYCLE_STEPS = st.floats(1.0, 200.0)


@st.composite
def cyclics(draw, cycle_steps=ANY_CYCLE_STEPS):
    mode = draw(st.sampled_from(["cosine", "triangular", "triangular2", "exp_range"]))
    amplitudes = None
    if mode in ("cosine", "triangular"):
        amplitudes = draw(st.none() | st.lists(st.floats(0.0, 2.0), min_size=1, max_size=4))
    return {
        "base_value": draw(values),
        "peak_value": draw(values),
        "cycle_steps": draw(cycle_steps),
        "pct_up": draw(st.floats(0.05, 0.95)),
        "mode": mode,
        "gamma": draw(st.floats(0.99, 1.0)) if mode == "exp_range" else 1.0,
        "amplitudes": amplitudes,
    }


def amplitude(kwargs, cycle, step):
    """The amplitude of the docstring, for cycle `cycle` at step `step`."""
    if kwargs["mode"] == "triangular2":
        return 0.5**cycle
    if kwargs["mode"] == "exp_range":
        return kwargs["gamma"] ** step
    table = kwargs["amplitudes"] or [1.0]
    return table[min(cycle, len(table) - 1)]


def cyclic_extremes(kwargs):
    """The base and the highest top any cycle can reach: every value lies between base and a top."""
    largest = max(kwargs["amplitudes"] or [1.0])
    base, peak = kwargs["base_value"], kwargs["peak_value"]
    return base, base + (peak - base) * largest


def cyclic_error(kwargs, num_steps):
    """The float32 error bound of the module docstring, for steps up to `num_steps`."""
    base, top = cyclic_extremes(kwargs)
    rise = abs(top - base)
    slope = SLOPE["cos" if kwargs["mode"] == "cosine" else "linear"] * rise
    positions = num_steps / kwargs["cycle_steps"]
    shortest = min(kwargs["pct_up"], 1 - kwargs["pct_up"])
    error = anneal_error(base, top) + slope * EPS * (positions + 3) / shortest
    if kwargs["mode"] == "exp_range":
        error += rise * EPS * num_steps
    return error


def cyclic_step_change(kwargs):
    """The most the exact curve moves in one step: the steepest phase's slope, over a phase of
    pct_up (or 1 - pct_up) of a cycle, plus for exp_range the decay of the top, |d gamma**s / ds|."""
    base, top = cyclic_extremes(kwargs)
    slope = SLOPE["cos" if kwargs["mode"] == "cosine" else "linear"] * abs(top - base)
    change = slope / (kwargs["cycle_steps"] * min(kwargs["pct_up"], 1 - kwargs["pct_up"]))
    if kwargs["mode"] == "exp_range":
        change += abs(kwargs["peak_value"] - kwargs["base_value"]) * abs(math.log(kwargs["gamma"]))
    return change


@PROPERTY
@given(cyclics(), st.integers(1, 1500))
def test_cyclic_stays_between_base_and_its_tops(kwargs, num_steps):
    curve = curve_of(kclr.CyclicSchedule(**kwargs), num_steps)
    low, high = sorted(cyclic_extremes(kwargs))
    error = cyclic_error(kwargs, num_steps)
    assert curve.min() >= low - error
    assert curve.max() <= high + error
    assert curve[0] == pytest.approx(kwargs["base_value"], rel=0, abs=anneal_error(*cyclic_extremes(kwargs)))


@PROPERTY
@given(cyclics(), st.integers(2, 1500))
def test_cyclic_neighbouring_steps_differ_by_at_most_the_steepest_slope(kwargs, num_steps):
    curve = curve_of(kclr.CyclicSchedule(**kwargs), num_steps)
    bound = cyclic_step_change(kwargs) + 2 * cyclic_error(kwargs, num_steps)
    steps = np.abs(np.diff(curve))
    assert steps.max() <= bound, (int(np.argmax(steps)), float(steps.max()), bound)


@PROPERTY
@given(cyclics(cycle_steps=st.integers(2, 60)), st.data())
def test_cyclic_starts_every_cycle_at_base_and_peaks_at_pct_up(kwargs, data):
    cycle_steps = kwargs["cycle_steps"]
    up_steps = data.draw(st.integers(1, cycle_steps - 1))
    kwargs = {**kwargs, "pct_up": up_steps / cycle_steps}
    cycles = data.draw(st.integers(1, 6))
    curve = curve_of(kclr.CyclicSchedule(**kwargs), cycles * cycle_steps + 1)
    error = cyclic_error(kwargs, len(curve))
    base, peak = kwargs["base_value"], kwargs["peak_value"]
    for cycle in range(cycles):
        start = cycle * cycle_steps
        assert curve[start] == pytest.approx(base, rel=0, abs=error), start
        top = base + (peak - base) * amplitude(kwargs, cycle, start + up_steps)
        assert curve[start + up_steps] == pytest.approx(top, rel=0, abs=error), start + up_steps
    assert curve[cycles * cycle_steps] == pytest.approx(base, rel=0, abs=error)


@PROPERTY
@given(
    st.integers(1, 5),  # cyc
    st.sampled_from(POLICY_LENGTHS),  # the smaller n_iter
    st.integers(2, 3),  # n_iter ratio
    st.sampled_from(["cosine", "triangular", "triangular2"]),
    st.floats(0.05, 0.95),
    st.lists(st.floats(0.0, 2.0), min_size=5, max_size=5),
    st.tuples(st.floats(1e-4, 1.0), st.floats(1.01, 100.0)),
    st.tuples(st.floats(0.0, 0.99), st.floats(0.0, 0.99)),
)
def test_clr_policy_is_the_same_curve_at_any_n_iter(
    cyc, n_iter, ratio, mode, pct_up, amplitudes, lr_factors, momentum_range
):
    """CLR at n_iter=N and n_iter=M=ratio*N, compared where the fractions s/N and s'/M agree.

    exp_range is left out on purpose: its amplitude, gamma ** step, decays per optimizer step (as in
    PyTorch's CyclicLR), so its curve does depend on n_iter."""
    lr_range = (lr_factors[0] * 0.1, lr_factors[0] * 0.1 * lr_factors[1])
    amplitude_fn = (lambda i: amplitudes[i]) if mode != "triangular2" else None
    policy = kclr.CLR(cyc, lr_range, momentum_range, pct_up, amplitude_fn, mode=mode)
    small, large = policy.schedule_values(n_iter), policy.schedule_values(ratio * n_iter)
    for name, ends in (("lr", lr_range), ("momentum", momentum_range)):
        base, peak = ends
        tops = [base + (peak - base) * a for a in (amplitudes if amplitude_fn else [1.0])]
        rise = max(abs(top - base) for top in tops)
        slope = SLOPE["cos" if mode == "cosine" else "linear"] * rise
        # Each grid's position s * cyc / n is off by eps * cyc at most; the curve is continuous in the
        # position (every cycle starts and ends at base), so the values differ by at most the slope
        # times twice that, plus each evaluation's own rounding.
        error = slope * 2 * EPS * (cyc + 3) / min(pct_up, 1 - pct_up) + 2 * anneal_error(base, *tops)
        np.testing.assert_allclose(small[name], large[name][::ratio], rtol=0, atol=error, err_msg=name)
        low, high = min(base, *tops), max(base, *tops)
        assert small[name].min() >= low - error
        assert small[name].max() <= high + error


# -- Piecewise --------------------------------------------------------------------------------------


@PROPERTY
@given(
    st.lists(st.integers(1, 400), min_size=1, max_size=4),  # phase lengths, in quarter steps
    st.lists(values, min_size=5, max_size=5),
    anneals,
    st.lists(st.floats(-10.0, 600.0), min_size=59, max_size=59),
)
def test_piecewise_passes_through_its_knots_and_between_them(quarters, knot_values, anneal, probes):
    # Knots on quarter steps are exact in float32, so every knot can be probed exactly.
    knots = [0.0, *(float(k) for k in np.cumsum(quarters) / 4.0)]
    knot_values = knot_values[: len(knots)]
    # 59 probes and up to 5 knots, padded to 64 steps: one shape for every example.
    steps = np.sort(np.concatenate([probes, knots, [knots[-1]] * (5 - len(knots))])).astype(np.float32)
    form = Piecewise(tuple(knots), tuple(float(v) for v in knot_values), (anneal,) * (len(knots) - 1))
    result = ops.convert_to_numpy(form(ops.convert_to_tensor(steps))).astype(np.float64)
    error = anneal_error(*knot_values)
    for step, value in zip(steps.astype(np.float64), result, strict=True):
        if step <= knots[0]:
            expected = (knot_values[0], knot_values[0])
        elif step >= knots[-1]:
            expected = (knot_values[-1], knot_values[-1])
        else:  # strictly after knot i - 1, up to knot i: between their values
            i = int(np.searchsorted(knots, step))
            expected = (knot_values[i - 1], knot_values[i])
            if step == knots[i]:
                expected = (knot_values[i], knot_values[i])
        assert min(expected) - error <= value <= max(expected) + error, (step, value, expected)
