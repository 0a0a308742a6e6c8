"""OneCycleSchedule and CyclicSchedule: values, endpoints, steps as variables, serialization, saving;
the packed form they train with."""

import inspect
import json
import math

import keras
import numpy as np
import pytest

from keras_one_cycle_clr import CyclicSchedule, OneCycleSchedule
from keras_one_cycle_clr.schedules import _CHAINED_PHASES, Piecewise, SweepSchedule, evaluate, host_values

# The schedules compute in float32; the references below in float64.
RTOL = 1e-5
ATOL = 1e-8
# Values documented as exact still pass through float32 arithmetic: the linear anneal's
# `start + (end - start) * 1.0` lands a few float32 ulps of `start` away from `end`.
EXACT = {"rel": 1e-6, "abs": 1e-9}


def _anneal(kind, start, end, pct):
    if kind in ("cos", "cosine"):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)
    return start + (end - start) * pct


def one_cycle_reference(
    step, initial, peak, final, total_steps, pct_start=0.3, anneal="cos", three_phase=False
):
    """PyTorch's OneCycleLR, restated: phase ends at `pct_start * T - 1` (and `2 * pct_start * T - 2`)
    and `T - 1`; each phase runs from the previous end; steps past `T - 1` stay at `final`."""
    last = total_steps - 1
    if step >= last:
        return final
    up_end = pct_start * total_steps - 1
    if three_phase:
        phases = [
            (up_end, initial, peak),
            (2 * pct_start * total_steps - 2, peak, initial),
            (last, initial, final),
        ]
    else:
        phases = [(up_end, initial, peak), (last, peak, final)]
    start = 0.0
    for end, a, b in phases:
        if step <= end:
            return _anneal(anneal, a, b, (step - start) / (end - start))
        start = end
    raise AssertionError(step)  # unreachable: step < last


def cyclic_reference(step, base, peak, cycle_steps, pct_up=0.5, mode="cosine", gamma=1.0, amplitudes=None):
    """The CLR paper's cycle, restated: rise for `pct_up` of the cycle, fall for the rest."""
    position = step / cycle_steps
    cycle = math.floor(position)
    x = position - cycle
    if mode == "triangular2":
        amplitude = 0.5**cycle
    elif mode == "exp_range":
        amplitude = gamma**step
    elif amplitudes is None:
        amplitude = 1.0
    else:
        amplitude = amplitudes[min(cycle, len(amplitudes) - 1)]
    top = base + (peak - base) * amplitude
    kind = "cos" if mode == "cosine" else "linear"
    if x <= pct_up:
        return _anneal(kind, base, top, x / pct_up)
    return _anneal(kind, top, base, (x - pct_up) / (1.0 - pct_up))


def values_at(schedule, steps):
    """The schedule's values at a NumPy array of steps, in one call."""
    return keras.ops.convert_to_numpy(schedule(np.asarray(steps, dtype="int32"))).astype("float64")


def init_arguments(cls):
    return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]


def fit_save_load(schedule, tmp_path):
    """Fits a tiny model whose SGD follows `schedule`, saves it and loads it back."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate=schedule, momentum=0.9), "mse")
    x = np.ones((8, 2), dtype="float32")
    model.fit(x, np.ones((8, 1), dtype="float32"), batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    return keras.models.load_model(path)


ONE_CYCLE_CASES = {
    "cos": {"total_steps": 100},
    "linear": {"total_steps": 100, "anneal": "linear"},
    "cos-pct-not-whole": {"total_steps": 37, "pct_start": 0.25},
    "linear-pct-not-whole": {"total_steps": 37, "pct_start": 0.25, "anneal": "linear"},
    "cos-three-phase": {"total_steps": 100, "pct_start": 0.25, "three_phase": True},
    "linear-three-phase": {"total_steps": 41, "pct_start": 0.45, "anneal": "linear", "three_phase": True},
    "short": {"total_steps": 7, "pct_start": 0.4},
}


class TestOneCycleSchedule:
    VALUES = (0.01, 0.1, 1e-4)

    @pytest.mark.parametrize("kwargs", list(ONE_CYCLE_CASES.values()), ids=list(ONE_CYCLE_CASES))
    def test_values_match_reference(self, kwargs):
        schedule = OneCycleSchedule(*self.VALUES, **kwargs)
        steps = np.arange(kwargs["total_steps"] + 20)  # 20 steps past the end: clamped
        expected = [one_cycle_reference(int(s), *self.VALUES, **kwargs) for s in steps]
        np.testing.assert_allclose(values_at(schedule, steps), expected, rtol=RTOL, atol=ATOL)

    @pytest.mark.parametrize(
        ("total_steps", "pct_start", "peak_step"),
        [(100, 0.3, 29), (40, 0.25, 9), (11, 0.5, 4.5)],
        ids=["100-steps", "40-steps", "peak-between-steps"],
    )
    @pytest.mark.parametrize("anneal", ["cos", "linear"], ids=["cos", "linear"])
    def test_endpoints_and_peak(self, total_steps, pct_start, peak_step, anneal):
        schedule = OneCycleSchedule(0.01, 0.1, 0.0, total_steps, pct_start, anneal)
        assert float(schedule(0)) == pytest.approx(0.01, **EXACT)
        assert float(schedule(peak_step)) == pytest.approx(0.1, **EXACT)
        assert float(schedule(total_steps - 1)) == pytest.approx(0.0, **EXACT)
        # The peak is the maximum, and the curve falls after it
        values = values_at(schedule, np.arange(total_steps))
        assert values.max() <= 0.1 * (1 + 1e-6)
        assert np.all(np.diff(values[math.ceil(peak_step) :]) <= 1e-9)

    @pytest.mark.parametrize("anneal", ["cos", "linear"], ids=["cos", "linear"])
    def test_three_phase_knots(self, anneal):
        schedule = OneCycleSchedule(0.01, 0.1, 1e-4, 100, pct_start=0.25, anneal=anneal, three_phase=True)
        expected = {0: 0.01, 24: 0.1, 48: 0.01, 99: 1e-4}
        actual = {step: float(schedule(step)) for step in expected}
        assert actual == pytest.approx(expected, **EXACT)

    @pytest.mark.parametrize(
        "step", [99, 100, 101, 1000, 10**6], ids=["last", "end", "past", "far", "very-far"]
    )
    def test_steps_past_the_end_stay_at_final_value(self, step):
        schedule = OneCycleSchedule(0.01, 0.1, 1e-4, total_steps=100)
        assert float(schedule(step)) == pytest.approx(1e-4, **EXACT)

    @pytest.mark.parametrize("dtype", ["int32", "float32"], ids=["int32", "float32"])
    def test_step_as_int_and_as_variable(self, dtype):
        schedule = OneCycleSchedule(0.01, 0.1, 1e-4, total_steps=50, three_phase=True)
        step = keras.Variable(0, dtype=dtype, trainable=False)
        for value in (0, 1, 14, 15, 28, 40, 49, 60):
            expected = one_cycle_reference(value, 0.01, 0.1, 1e-4, 50, three_phase=True)
            step.assign(value)
            assert float(schedule(value)) == pytest.approx(expected, rel=RTOL, abs=ATOL)
            assert float(schedule(step)) == pytest.approx(expected, rel=RTOL, abs=ATOL)

    def test_evaluate_equals_calls_one_step_at_a_time(self):
        schedule = OneCycleSchedule(0.01, 0.1, 1e-4, total_steps=30, pct_start=0.2, three_phase=True)
        one_by_one = [float(schedule(i)) for i in range(35)]
        values = evaluate(schedule, 35)
        assert values.shape == (35,)
        assert values.dtype == np.float32
        # One float32 rounding apart at most: a vectorized kernel may round differently from a scalar one.
        np.testing.assert_allclose(values, one_by_one, rtol=1e-6, atol=1e-9)

    def test_get_config_is_exactly_the_init_arguments(self):
        arguments = {
            "initial_value": 0.95,
            "peak_value": 0.85,
            "final_value": 0.95,
            "total_steps": 120,
            "pct_start": 0.4,
            "anneal": "linear",
            "three_phase": True,
            "name": "momentum",
        }
        schedule = OneCycleSchedule(**arguments)
        config = schedule.get_config()
        assert config == arguments
        assert list(config) == init_arguments(OneCycleSchedule)
        restored = OneCycleSchedule.from_config(config)
        assert restored.get_config() == config
        np.testing.assert_array_equal(evaluate(restored, 130), evaluate(schedule, 130))

    def test_keras_serialize_round_trip(self):
        schedule = OneCycleSchedule(0.01, 0.1, 1e-4, total_steps=64, anneal="linear")
        serialized = keras.optimizers.schedules.serialize(schedule)
        assert serialized["registered_name"] == "keras_one_cycle_clr>OneCycleSchedule"
        restored = keras.optimizers.schedules.deserialize(json.loads(json.dumps(serialized)))
        assert type(restored) is OneCycleSchedule
        assert restored.get_config() == schedule.get_config()
        np.testing.assert_array_equal(evaluate(restored, 70), evaluate(schedule, 70))

    def test_model_save_and_load_keeps_the_schedule(self, tmp_path):
        schedule = OneCycleSchedule(0.01, 0.1, 1e-4, total_steps=10, pct_start=0.25)
        loaded = fit_save_load(schedule, tmp_path)
        restored = keras.optimizers.schedules.deserialize(loaded.optimizer.get_config()["learning_rate"])
        assert type(restored) is OneCycleSchedule
        assert restored.get_config() == schedule.get_config()
        # The loaded optimizer goes on from where training stopped, on the same curve.
        iterations = int(keras.ops.convert_to_numpy(loaded.optimizer.iterations))
        assert iterations == 2
        assert float(loaded.optimizer.learning_rate) == pytest.approx(float(schedule(2)), **EXACT)

    @pytest.mark.parametrize(
        ("kwargs", "error", "argument"),
        [
            ({"total_steps": 0}, ValueError, "total_steps"),
            ({"total_steps": -5}, ValueError, "total_steps"),
            ({"total_steps": 10.0}, TypeError, "total_steps"),
            ({"total_steps": True}, TypeError, "total_steps"),
            ({"pct_start": 0.0}, ValueError, "pct_start"),
            ({"pct_start": 1.0}, ValueError, "pct_start"),
            ({"pct_start": "0.3"}, TypeError, "pct_start"),
            ({"pct_start": 0.5, "three_phase": True}, ValueError, "pct_start"),
            ({"anneal": "exp"}, ValueError, "anneal"),
            ({"three_phase": 1}, TypeError, "three_phase"),
            ({"initial_value": "0.01"}, TypeError, "initial_value"),
            ({"peak_value": float("nan")}, ValueError, "peak_value"),
            ({"final_value": float("inf")}, ValueError, "final_value"),
            ({"final_value": None}, TypeError, "final_value"),
        ],
        ids=[
            "zero-steps",
            "negative-steps",
            "float-steps",
            "bool-steps",
            "pct-zero",
            "pct-one",
            "pct-string",
            "pct-half-three-phase",
            "unknown-anneal",
            "three-phase-int",
            "initial-string",
            "peak-nan",
            "final-inf",
            "final-none",
        ],
    )
    def test_bad_arguments_name_the_argument(self, kwargs, error, argument):
        arguments = {"initial_value": 0.01, "peak_value": 0.1, "final_value": 0.0, "total_steps": 100}
        with pytest.raises(error, match=rf"^Argument `{argument}` must be .* Received: {argument}="):
            OneCycleSchedule(**{**arguments, **kwargs})


CYCLIC_CASES = {
    "cosine": {"cycle_steps": 40},
    "cosine-pct-up": {"cycle_steps": 40, "pct_up": 0.3},
    "cosine-amplitudes": {"cycle_steps": 20, "amplitudes": [1.0, 0.5, 0.25]},
    "triangular": {"cycle_steps": 40, "mode": "triangular"},
    "triangular-pct-up-amplitudes": {
        "cycle_steps": 25,
        "pct_up": 0.2,
        "mode": "triangular",
        "amplitudes": [1.0, 0.0, 2.0],
    },
    "triangular-fractional-cycle": {"cycle_steps": 100 / 3, "mode": "triangular"},
    "triangular2": {"cycle_steps": 30, "mode": "triangular2"},
    "triangular2-pct-up": {"cycle_steps": 30, "pct_up": 0.7, "mode": "triangular2"},
    "exp_range": {"cycle_steps": 30, "mode": "exp_range", "gamma": 0.99},
    "exp_range-pct-up-fractional": {"cycle_steps": 22.5, "pct_up": 0.4, "mode": "exp_range", "gamma": 0.97},
}


class TestCyclicSchedule:
    VALUES = (0.001, 0.01)

    @pytest.mark.parametrize("kwargs", list(CYCLIC_CASES.values()), ids=list(CYCLIC_CASES))
    def test_values_match_reference(self, kwargs):
        schedule = CyclicSchedule(*self.VALUES, **kwargs)
        steps = np.arange(150)  # several cycles, past the end of every amplitude table
        expected = [cyclic_reference(int(s), *self.VALUES, **kwargs) for s in steps]
        np.testing.assert_allclose(values_at(schedule, steps), expected, rtol=RTOL, atol=ATOL)

    @pytest.mark.parametrize("mode", ["cosine", "triangular"], ids=["cosine", "triangular"])
    @pytest.mark.parametrize("pct_up", [0.5, 0.25], ids=["half-up", "quarter-up"])
    def test_cycle_ends_and_peaks(self, mode, pct_up):
        schedule = CyclicSchedule(0.001, 0.01, cycle_steps=40, pct_up=pct_up, mode=mode)
        peak = 40 * pct_up
        expected = {0: 0.001, peak: 0.01, 40: 0.001, 40 + peak: 0.01, 80: 0.001, 400 + peak: 0.01}
        actual = {step: float(schedule(step)) for step in expected}
        assert actual == pytest.approx(expected, **EXACT)
        values = values_at(schedule, np.arange(200))
        assert values.min() >= 0.001 * (1 - 1e-6)
        assert values.max() <= 0.01 * (1 + 1e-6)

    def test_triangular2_halves_every_cycle(self):
        schedule = CyclicSchedule(0.001, 0.01, cycle_steps=20, mode="triangular2")
        tops = [float(schedule(20 * cycle + 10)) for cycle in range(5)]
        assert tops == pytest.approx([0.001 + 0.009 * 0.5**cycle for cycle in range(5)], **EXACT)

    def test_amplitudes_past_the_table_use_its_last_entry(self):
        schedule = CyclicSchedule(0.001, 0.01, cycle_steps=10, mode="triangular", amplitudes=[1.0, 0.5, 0.2])
        tops = [float(schedule(10 * cycle + 5)) for cycle in range(6)]
        assert tops == pytest.approx([0.01, 0.0055, 0.0028, 0.0028, 0.0028, 0.0028], **EXACT)

    @pytest.mark.parametrize("dtype", ["int32", "float32"], ids=["int32", "float32"])
    def test_step_as_int_and_as_variable(self, dtype):
        kwargs = {"cycle_steps": 30, "pct_up": 0.4, "amplitudes": [1.0, 0.5]}
        schedule = CyclicSchedule(0.001, 0.01, **kwargs)
        step = keras.Variable(0, dtype=dtype, trainable=False)
        for value in (0, 5, 12, 20, 30, 42, 59, 75, 100):
            expected = cyclic_reference(value, 0.001, 0.01, **kwargs)
            step.assign(value)
            assert float(schedule(value)) == pytest.approx(expected, rel=RTOL, abs=ATOL)
            assert float(schedule(step)) == pytest.approx(expected, rel=RTOL, abs=ATOL)

    def test_evaluate_equals_calls_one_step_at_a_time(self):
        schedule = CyclicSchedule(0.001, 0.01, cycle_steps=12.5, pct_up=0.3, mode="exp_range", gamma=0.98)
        one_by_one = [float(schedule(i)) for i in range(40)]
        values = evaluate(schedule, 40)
        assert values.shape == (40,)
        assert values.dtype == np.float32
        # One float32 rounding apart at most: a vectorized kernel may round differently from a scalar one.
        np.testing.assert_allclose(values, one_by_one, rtol=1e-6, atol=1e-9)

    def test_get_config_is_exactly_the_init_arguments(self):
        arguments = {
            "base_value": 0.95,
            "peak_value": 0.85,
            "cycle_steps": 33.5,
            "pct_up": 0.3,
            "mode": "triangular",
            "gamma": 1.0,
            "amplitudes": [1.0, 0.5, 0.25],
            "name": "momentum",
        }
        schedule = CyclicSchedule(**arguments)
        config = schedule.get_config()
        assert config == arguments
        assert list(config) == init_arguments(CyclicSchedule)
        restored = CyclicSchedule.from_config(config)
        assert restored.get_config() == config
        np.testing.assert_array_equal(evaluate(restored, 150), evaluate(schedule, 150))

    @pytest.mark.parametrize(
        "kwargs",
        [{"mode": "cosine", "amplitudes": [1.0, 0.3]}, {"mode": "exp_range", "gamma": 0.99}],
        ids=["cosine-amplitudes", "exp_range"],
    )
    def test_keras_serialize_round_trip(self, kwargs):
        schedule = CyclicSchedule(0.001, 0.01, cycle_steps=16, **kwargs)
        serialized = keras.optimizers.schedules.serialize(schedule)
        assert serialized["registered_name"] == "keras_one_cycle_clr>CyclicSchedule"
        restored = keras.optimizers.schedules.deserialize(json.loads(json.dumps(serialized)))
        assert type(restored) is CyclicSchedule
        assert restored.get_config() == schedule.get_config()
        np.testing.assert_array_equal(evaluate(restored, 70), evaluate(schedule, 70))

    def test_model_save_and_load_keeps_the_schedule(self, tmp_path):
        schedule = CyclicSchedule(0.001, 0.01, cycle_steps=6, mode="triangular", amplitudes=[1.0, 0.5])
        loaded = fit_save_load(schedule, tmp_path)
        restored = keras.optimizers.schedules.deserialize(loaded.optimizer.get_config()["learning_rate"])
        assert type(restored) is CyclicSchedule
        assert restored.get_config() == schedule.get_config()
        iterations = int(keras.ops.convert_to_numpy(loaded.optimizer.iterations))
        assert iterations == 2
        assert float(loaded.optimizer.learning_rate) == pytest.approx(float(schedule(2)), **EXACT)

    @pytest.mark.parametrize(
        ("kwargs", "error", "argument"),
        [
            ({"cycle_steps": 0}, ValueError, "cycle_steps"),
            ({"cycle_steps": -10}, ValueError, "cycle_steps"),
            ({"cycle_steps": "10"}, TypeError, "cycle_steps"),
            ({"pct_up": 0.0}, ValueError, "pct_up"),
            ({"pct_up": 1.0}, ValueError, "pct_up"),
            ({"mode": "exp"}, ValueError, "mode"),
            ({"gamma": 0.0}, ValueError, "gamma"),
            ({"gamma": 1.5}, ValueError, "gamma"),
            ({"mode": "triangular2", "amplitudes": [1.0]}, ValueError, "amplitudes"),
            ({"mode": "exp_range", "amplitudes": [1.0]}, ValueError, "amplitudes"),
            ({"amplitudes": []}, ValueError, "amplitudes"),
            ({"amplitudes": [1.0, -0.5]}, ValueError, r"amplitudes\[1\]"),
            ({"amplitudes": [1.0, None]}, TypeError, r"amplitudes\[1\]"),
            ({"base_value": "0.001"}, TypeError, "base_value"),
            ({"peak_value": float("nan")}, ValueError, "peak_value"),
        ],
        ids=[
            "zero-cycle",
            "negative-cycle",
            "string-cycle",
            "pct-up-zero",
            "pct-up-one",
            "unknown-mode",
            "gamma-zero",
            "gamma-above-one",
            "amplitudes-triangular2",
            "amplitudes-exp_range",
            "amplitudes-empty",
            "amplitude-negative",
            "amplitude-none",
            "base-string",
            "peak-nan",
        ],
    )
    def test_bad_arguments_name_the_argument(self, kwargs, error, argument):
        arguments = {"base_value": 0.001, "peak_value": 0.01, "cycle_steps": 20}
        with pytest.raises(error, match=rf"^Argument `{argument}` must be .* Received: {argument}="):
            CyclicSchedule(**{**arguments, **kwargs})


PACKED = {
    "one-cycle three-phase": OneCycleSchedule(0.01, 0.1, 1e-4, total_steps=40, three_phase=True),
    "one-cycle, first phase empty": OneCycleSchedule(0.01, 0.1, 1e-4, total_steps=3, pct_start=0.2),
    "triangular2": CyclicSchedule(0.1, 1.0, cycle_steps=7, pct_up=0.3, mode="triangular2"),
    "cosine with amplitudes": CyclicSchedule(0.1, 1.0, cycle_steps=6, amplitudes=[1.0, 0.5, 0.2]),
    "sweep": SweepSchedule(1e-4, 1.0, num_values=9, hold_steps=3),
}


class TestPiecewise:
    """The packed form every schedule trains with: a larger packing, which finds a step's phase
    another way (`_CHAINED_PHASES`), gives the same values."""

    @pytest.mark.parametrize("name", sorted(PACKED))
    def test_a_larger_packing_gives_the_same_values(self, name):
        form = PACKED[name].piecewise()
        wide = Piecewise.table(np.arange(_CHAINED_PHASES + 3, dtype="float32"))  # needs more slots
        assert form.slots[0] <= _CHAINED_PHASES < wide.slots[0]
        own = evaluate(form, 60)
        in_a_wide_packing = host_values([form, wide], 0, 60)[:, 0]
        # The same arithmetic; on JAX two compiled programs, which XLA may fuse and round apart.
        np.testing.assert_allclose(in_a_wide_packing, own, rtol=4 * np.finfo(np.float32).eps, atol=0)

    def test_a_long_table_gives_each_value_at_its_step_and_keeps_the_last(self):
        values = np.random.default_rng(5).uniform(0.0, 1.0, 40).astype("float32")
        np.testing.assert_array_equal(evaluate(Piecewise.table(values), 45), [*values, *[values[-1]] * 5])
