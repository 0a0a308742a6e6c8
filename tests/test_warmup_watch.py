"""WarmupWatch: when an exponential warm-up turns, and at which learning rate, without Keras."""

import math

import numpy as np
import pytest

from keras_one_cycle_clr.warmup_watch import WarmupWatch

LRS = np.geomspace(1e-4, 10.0, 300)


def bowl(centre, noise=0.01, seed=0):
    """A loss lowest at lr = 10**centre, with per-step noise."""
    rng = np.random.default_rng(seed)
    return 1.0 + (np.log10(LRS) - centre) ** 2 / 4 + rng.normal(0.0, noise, len(LRS))


def first_turn(watch, losses):
    return next(
        (i for i, (lr, loss) in enumerate(zip(LRS, losses, strict=True)) if watch.add(lr, loss)), None
    )


@pytest.mark.parametrize("centre", [-2.5, -2.0, -1.0, 0.0])
def test_the_peak_is_the_learning_rate_where_the_loss_turns(centre):
    watch = WarmupWatch(half_width=6, patience_factor=3.0, min_peak=1e-3)
    turned = first_turn(watch, bowl(centre))
    assert turned is not None
    # Within a factor 2 of the true minimum, and the turn itself came after it.
    assert 10**centre / 2 <= watch.turn.peak <= 10**centre * 2
    assert LRS[turned] > watch.turn.peak
    assert watch.turn.best_learning_rate == LRS[watch.turn.best_index]


def test_a_loss_that_is_not_finite_turns_at_once_at_the_best_so_far():
    losses = bowl(0.0)
    losses[150] = math.nan
    watch = WarmupWatch(half_width=3, patience_factor=100.0, min_peak=1e-4)
    assert first_turn(watch, losses) == 150
    assert "nan" in watch.turn.reason
    assert watch.turn.best_index < 150


def test_patience_waits_for_min_peak_on_a_flat_noisy_start():
    # Flat (noise only) until lr 0.01, then falling to a minimum at lr 1: an early noisy dip must
    # not end the warm-up (a probe turned at step 75 of 1,512 with a peak of 3e-4 so).
    rng = np.random.default_rng(3)
    falling = 2.0 - 0.5 * np.log10(LRS / 1e-2)
    losses = np.where(LRS < 1e-2, 2.0, falling + (np.log10(LRS) > 0) * 3 * np.log10(LRS))
    losses = losses + rng.normal(0.0, 0.05, len(LRS))
    watch = WarmupWatch(half_width=4, patience_factor=3.0, min_peak=1e-2)
    first_turn(watch, losses)
    assert 0.3 <= watch.turn.peak <= 3.0
    early = WarmupWatch(half_width=4, patience_factor=3.0, min_peak=1e-4)
    first_turn(early, losses)
    assert early.turn.peak < 1e-2  # what the floor prevents


def test_a_rise_below_min_peak_still_turns_and_the_peak_is_min_peak():
    watch = WarmupWatch(half_width=6, patience_factor=3.0, min_peak=1e-2)
    first_turn(watch, bowl(-3.0))  # lowest at 1e-3, rising beyond
    assert "rose" in watch.turn.reason
    assert watch.turn.peak == 1e-2
    assert watch.turn.best_learning_rate < 1e-2
    assert "raised to min_peak" in watch.turn.reason


def test_patience_is_counted_in_learning_rate():
    # A loss that falls and then stays level: no rise, so patience turns it, 3x past the minimum.
    losses = np.maximum(1.0 - np.log10(LRS / 1e-4) / 4, 0.0) + 0.5
    watch = WarmupWatch(half_width=2, patience_factor=3.0, min_peak=1e-4)
    turned = first_turn(watch, losses)
    assert "grew" in watch.turn.reason
    centre = turned - 2
    assert LRS[centre] / watch.turn.best_learning_rate == pytest.approx(3.0, rel=0.1)


def test_peak_factor_scales_the_peak():
    full = WarmupWatch(half_width=6, patience_factor=3.0, min_peak=1e-3)
    half = WarmupWatch(half_width=6, patience_factor=3.0, min_peak=1e-3, peak_factor=0.5)
    first_turn(full, bowl(-1.0))
    first_turn(half, bowl(-1.0))
    assert half.turn.peak == pytest.approx(full.turn.peak / 2)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"half_width": 0}, "half_width"),
        ({"patience_factor": 1.0}, "patience_factor"),
        ({"min_peak": 0.0}, "min_peak"),
        ({"peak_factor": 1.5}, "peak_factor"),
        ({"learned_fraction": 1.0}, "learned_fraction"),
    ],
)
def test_bad_arguments_are_named(kwargs, named):
    arguments = {"half_width": 3, "patience_factor": 3.0, "min_peak": 1e-3, **kwargs}
    with pytest.raises(ValueError, match=f"`{named}`"):
        WarmupWatch(**arguments)


def test_a_noisy_bump_below_min_peak_does_not_turn_the_warm_up():
    # The first version turned 7 of 39 tasks' warm-ups within 25 updates on bumps like this one.
    losses = bowl(-1.0, noise=0.01)
    losses[20:32] += 0.3  # +25% for a dozen observations at lr ~2e-4
    watch = WarmupWatch(half_width=3, patience_factor=3.0, min_peak=1e-3)
    first_turn(watch, losses)
    assert 0.05 <= watch.turn.peak <= 0.2


def plateau_then_bowl():
    """Flat at 2.0 up to lr 0.01 (noise, and a 10% bump at lr 3e-3: the plateau before learning that
    turned v2 on four tasks), then falling to a minimum at lr 0.3 and rising past it."""
    rng = np.random.default_rng(5)
    log_lr = np.log10(LRS)
    falling = np.where(log_lr < -2.0, 2.0, 2.0 - (log_lr + 2.0))  # 0.5 at lr 0.3 (-0.5)
    losses = falling + np.where(log_lr > -0.5, 3.0 * (log_lr + 0.5), 0.0)
    losses[np.abs(log_lr + 2.5) < 0.1] += 0.2
    return losses + rng.normal(0.0, 0.02, len(LRS))


def test_learned_fraction_keeps_a_plateau_before_learning_from_turning_the_warm_up():
    losses = plateau_then_bowl()
    guarded = WarmupWatch(half_width=4, patience_factor=3.0, min_peak=1e-3, learned_fraction=0.8)
    first_turn(guarded, losses)
    assert 0.1 <= guarded.turn.peak <= 0.6  # the minimum at 0.3
    unguarded = WarmupWatch(half_width=4, patience_factor=3.0, min_peak=1e-3)
    first_turn(unguarded, losses)
    assert unguarded.turn.peak < 0.01  # what the guard prevents: a turn on the plateau


def test_learned_fraction_still_turns_on_a_divergence_before_learning():
    # The loss never falls 20%: it only doubles at lr 0.1; the guard does not stop that turn.
    losses = np.where(LRS < 0.1, 1.0, 3.0) + np.random.default_rng(6).normal(0.0, 0.01, len(LRS))
    watch = WarmupWatch(half_width=3, patience_factor=3.0, min_peak=1e-3, learned_fraction=0.8)
    turned = first_turn(watch, losses)
    assert turned is not None
    assert LRS[turned] < 0.2
    assert watch.turn.peak < 0.1
