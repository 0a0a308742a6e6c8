"""Suggestion rules are pure functions of (lrs, losses): tested without any training."""

import math

import numpy as np
import pytest

from keras_one_cycle_clr import suggest

LRS = np.geomspace(1e-5, 10.0, 61)
# A textbook range-test curve: flat, a long descent, a minimum near lr=0.3, then a blow-up.
LOSSES = (
    2.0 - 1.5 / (1 + np.exp(-3 * (np.log10(LRS) + 2.5))) + np.where(LRS > 0.3, 40 * (LRS - 0.3) ** 2, 0.0)
)


def reference_valley(lrs, losses):
    """fastai's `valley`, verbatim in logic."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return lrs[max_start + int(sections) + int(sections / 2)]


def test_smooth_is_the_debiased_exponential_average():
    losses = [4.0, 2.0, 3.0]
    beta = 0.9
    expected, average = [], 0.0
    for i, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        expected.append(average / (1 - beta**i))
    np.testing.assert_allclose(suggest.smooth(losses, beta), expected)


def test_smooth_skips_nan_without_spreading_it():
    out = suggest.smooth([1.0, math.nan, 1.0])
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [1.0, 1.0])


def test_valley_matches_fastai():
    assert suggest.valley(LRS, LOSSES) == pytest.approx(reference_valley(LRS, LOSSES))


def test_steepest_is_where_the_loss_falls_fastest_against_log_lr():
    lr = suggest.steepest(LRS, LOSSES)
    assert lr == pytest.approx(LRS[np.argmin(np.diff(LOSSES) / np.diff(np.log(LRS)))])
    assert 1e-3 < lr < 1e-2  # the sigmoid's centre is at 10**-2.5


def reference_slide(lrs, losses, lr_diff=15, thresh=0.005):
    """fastai's `slide`, verbatim in logic."""
    loss_grad = np.gradient(losses)
    r_idx = -1
    l_idx = r_idx - lr_diff
    local_min_lr = lrs[l_idx]
    while (l_idx >= -len(losses)) and (abs(loss_grad[r_idx] - loss_grad[l_idx]) > thresh):
        local_min_lr = lrs[l_idx]
        r_idx -= 1
        l_idx -= 1
    return float(local_min_lr)


def test_slide_matches_fastai():
    assert suggest.slide(LRS, LOSSES) == pytest.approx(reference_slide(LRS, LOSSES))
    assert suggest.slide(LRS, LOSSES) < LRS[np.argmin(LOSSES)]


def test_minimum_is_a_tenth_of_the_best_lr():
    assert suggest.minimum(LRS, LOSSES) == pytest.approx(LRS[np.argmin(LOSSES)] / 10)


def test_rules_ignore_steps_never_reached():
    losses = LOSSES.copy()
    losses[40:] = np.nan
    for rule in suggest.RULES.values():
        assert rule(LRS, losses) <= LRS[39]


def test_rules_need_two_finite_losses():
    with pytest.raises(ValueError, match="at least 2 finite"):
        suggest.valley([1e-3, 1e-2], [math.nan, 1.0])


def test_rules_need_matching_shapes():
    with pytest.raises(ValueError, match="one length"):
        suggest.minimum([1e-3, 1e-2, 1e-1], [1.0, 2.0])


def test_smooth_checks_beta():
    with pytest.raises(ValueError, match="`beta`"):
        suggest.smooth([1.0], beta=1.0)


def test_trim_drops_the_biased_start_and_the_diverged_end_of_the_reached_steps():
    losses = LOSSES.copy()
    losses[50:] = np.nan
    lrs, kept = suggest.trim(LRS, losses, skip_start=6)
    np.testing.assert_array_equal(lrs, LRS[6:45])
    np.testing.assert_array_equal(kept, losses[6:45])
    short_lrs, _ = suggest.trim(LRS[:8], LOSSES[:8], skip_start=6)
    assert len(short_lrs) == 8  # too few to trim: kept whole
