"""The sweep's helpers: when a sweep stops, and each learning rate's mean loss, without Keras."""

import numpy as np
import pytest

from keras_one_cycle_clr._sweep import LearningRateMean, SweepWatch


def test_per_learning_rate_means_weigh_batches_by_their_samples_across_restarts():
    per_step = LearningRateMean()
    # lr 0: batches of 4 at 2.0 and 2 at 5.0 (a short one): (8 + 10) / 6 = 3.
    per_step.add(running_mean=2.0, count=4)
    per_step.add(running_mean=(8 + 10) / 6, count=6)
    assert per_step.take() == pytest.approx(3.0)
    # lr 1 spans an epoch's end, where Keras restarts its running mean: 4 at 1.0, then 4 at 3.0.
    per_step.add(running_mean=(18 + 4) / 10, count=10)
    per_step.restart()
    per_step.add(running_mean=3.0, count=4)
    assert per_step.take() == pytest.approx(2.0)
    assert np.isnan(per_step.take())  # nothing since


def stop_step(losses, threshold_multiplier=5):
    """The index of the loss at which a sweep of these losses stops, or None."""
    watch = SweepWatch(threshold_multiplier)
    return next((i for i, loss in enumerate(losses) if watch.diverged(loss)), None)


def test_a_sweep_stops_on_a_loss_not_finite_or_over_the_threshold_times_its_lowest():
    learning = [2.3, 1.5, 1.0, 0.5, 0.6]
    assert stop_step([*learning, 2.6, 0.4]) == 5  # 2.6 > 5 x 0.5
    assert stop_step([*learning, 2.4], threshold_multiplier=4) == 5
    assert stop_step([*learning, float("nan")]) == 5
    assert stop_step([*learning, float("inf")]) == 5
    assert stop_step(learning) is None


def test_a_sweep_back_at_its_first_loss_after_learning_stops_within_a_few_learning_rates():
    # Learned down to 0.5, then stuck at chance level (2.4), under 5 x 0.5: the relapse rule alone.
    losses = [2.3, 1.5, 1.0, 0.5, 0.5, *[2.4] * 20]
    assert 5 < stop_step(losses) <= 5 + 8
    assert stop_step([2.3, 1.5, 1.0, 0.5, 0.5, *[2.0] * 20]) is None  # not back at the first


def test_noise_alone_never_counts_as_learning_then_relapsing():
    # A regression's per-lr losses before it learns: 10% noise around 1.1 (bench/tasks.py,
    # friedman2_adam, where single values 20% under the first stopped sweeps at lr 1e-4).
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert stop_step(1.1 + 0.11 * rng.standard_normal(30)) is None
    recorded = [1.072, 1.083, 1.128, 1.061, 1.118, 1.217, 1.018, 1.002, 1.111, 0.973, 1.104, 1.235]
    assert stop_step([*recorded, 1.184, 0.857, 1.204, 1.1]) is None  # stopped at 1.204 before
