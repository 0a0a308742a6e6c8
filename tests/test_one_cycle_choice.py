"""The one-cycle choice as pure functions of a range test's arrays."""

import itertools

import numpy as np
import pytest

from keras_one_cycle_clr import suggest
from keras_one_cycle_clr.one_cycle_choice import (
    ONE_CYCLE_PEAK_DIVISOR,
    choose_one_cycle,
    one_cycle_divisor,
    weight_decay_choice,
)
from keras_one_cycle_clr.range_test_result import RangeTestResult

LR = np.geomspace(1e-4, 1.0, 40)
BOWL = 1.0 + (np.log10(LR) + 1.5) ** 2  # lowest at lr = 10**-1.5


def test_the_peak_divisor_grows_with_the_cycle_length_from_a_floor_of_two_up_to_3000_steps():
    lengths = [1, 100, 250, 300, 635, 1000, 3000]
    divisors = [one_cycle_divisor(t) for t in lengths]
    assert divisors[:3] == [2.0, 2.0, 2.0]
    assert all(a < b for a, b in itertools.pairwise(divisors[2:]))
    assert one_cycle_divisor(635) == pytest.approx(4.0, rel=0.01)
    assert one_cycle_divisor(3000) == pytest.approx(30**0.75)
    # No extrapolation past the suite's longest cycles: level beyond 3,000 steps.
    assert one_cycle_divisor(3001) == one_cycle_divisor(30000) == one_cycle_divisor(3000)
    assert one_cycle_divisor(None) == ONE_CYCLE_PEAK_DIVISOR
    with pytest.raises(ValueError, match="`total_steps`"):
        one_cycle_divisor(0)


def test_the_choice_is_a_function_of_the_arrays_alone():
    loss = np.stack([BOWL + 0.3, BOWL], 1)
    val_loss = np.stack([BOWL, BOWL + 0.3], 1)
    choice = choose_one_cycle(LR, loss, [0.0, 1e-3], val_loss=val_loss, total_steps=500)
    result = RangeTestResult(LR, loss, val_loss, [0.0, 1e-3])
    assert choice == result.choose_one_cycle(total_steps=500)
    assert choice.weight_decay == 0.0  # the validation loss chooses when there is some
    assert choose_one_cycle(LR, loss, [0.0, 1e-3], val_loss=val_loss, wd_loss=loss).weight_decay == 1e-3
    lrs, smoothed = suggest.trim(LR, suggest.smooth(BOWL + 0.3), len(LR) // 10)
    assert choice.peak == pytest.approx(lrs[np.argmin(smoothed)] / one_cycle_divisor(500))
    assert weight_decay_choice(loss, [0.0, 1e-3]).column == 1


def test_a_sweep_that_never_falls_beyond_its_noise_cannot_choose():
    from keras_one_cycle_clr.one_cycle_choice import FALL_SIGMAS, CannotChooseError

    lr = np.geomspace(1e-5, 10, 100)
    noise = np.random.default_rng(3).normal(0, 0.01, 100)
    flat = 0.69 + noise  # a model that did not learn in the sweep: its lowest point is noise
    with pytest.raises(CannotChooseError, match=rf"never fell more than .* a fall of {FALL_SIGMAS:g}"):
        choose_one_cycle(lr, flat[:, None])
    # The same noise on a loss that falls by 0.2 (many times its noise) up to lr 0.01 and rises
    # past 0.1: chosen, a quarter of the way down from the lowest point.
    falling = 0.69 - 0.2 * np.clip((np.log10(lr) + 5) / 3, 0, 1) + np.clip(np.log10(lr) + 1, 0, None) + noise
    choice = choose_one_cycle(lr, falling[:, None])
    assert 1e-3 <= choice.peak <= 3e-2
