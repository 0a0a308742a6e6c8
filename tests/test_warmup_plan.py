"""WarmupPlan: an adaptive one cycle's schedules, planned and turned, against NumPy."""

import numpy as np
import pytest

from keras_one_cycle_clr import schedules
from keras_one_cycle_clr._warmup_plan import WarmupPlan

PLAN = WarmupPlan((1e-4, 1.0), (0.95, 0.85), 0.3, 0.0, total_steps=200)


def test_the_planned_warm_up_is_geometric_to_the_ceiling_then_cosine_to_final_lr():
    values = schedules.evaluate(PLAN.planned()["lr"], 200)
    warmup = PLAN.warmup_steps  # 60
    np.testing.assert_allclose(values[:warmup], np.geomspace(1e-4, 1.0, warmup), rtol=1e-5)
    anneal = np.arange(warmup - 1, 200) - (warmup - 1)
    expected = 0.5 * (1 + np.cos(np.pi * anneal / (200 - warmup)))
    np.testing.assert_allclose(values[warmup - 1 :], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose([PLAN.learning_rate_at(s) for s in range(warmup)], values[:warmup], rtol=1e-5)


def test_momentum_falls_linearly_in_the_warm_up_and_rises_back():
    momentum = schedules.evaluate(PLAN.planned()["momentum"], 200)
    np.testing.assert_allclose(momentum[:60], np.linspace(0.95, 0.85, 60), rtol=1e-6)
    assert momentum[-1] == pytest.approx(0.95)


@pytest.mark.parametrize("turn_step", [5, 30, 58])
def test_a_turned_cycle_follows_the_warm_up_to_the_turn_then_anneals_from_the_peak(turn_step):
    turned = PLAN.turned(turn_step, peak=0.02)
    lr = schedules.evaluate(turned["lr"], 200)
    np.testing.assert_allclose(lr[: turn_step + 1], np.geomspace(1e-4, 1.0, 60)[: turn_step + 1], rtol=1e-5)
    assert lr[turn_step + 1] == pytest.approx(0.02)
    assert np.all(np.diff(lr[turn_step + 1 :]) <= 1e-9)  # annealing only
    assert lr[-1] == pytest.approx(0.0, abs=1e-9)
    momentum = schedules.evaluate(turned["momentum"], 200)
    assert momentum[turn_step] == pytest.approx(PLAN.momentum_at(turn_step))
    assert momentum[turn_step + 1] == pytest.approx(0.85)
    assert momentum[-1] == pytest.approx(0.95)


def test_without_a_momentum_range_there_is_no_momentum_schedule():
    plan = WarmupPlan((1e-4, 1.0), None, 0.3, 0.0, total_steps=50)
    assert plan.planned()["momentum"] is None
    assert plan.turned(3, 0.01)["momentum"] is None
