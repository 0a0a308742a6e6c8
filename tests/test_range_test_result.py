"""RangeTestResult: a range test's results and the choices read from them, without Keras."""

import numpy as np
import pytest

from keras_one_cycle_clr import suggest
from keras_one_cycle_clr.range_test_result import RangeTestResult, one_cycle_divisor

LR = np.geomspace(1e-4, 1.0, 40)
BOWL = 1.0 + (np.log10(LR) + 1.5) ** 2  # lowest at lr = 10**-1.5


def test_the_best_weight_decay_is_the_sweep_with_the_lowest_smoothed_loss():
    result = RangeTestResult(LR, np.stack([BOWL + 0.2, BOWL, BOWL + 0.1], 1), wd_list=[0.0, 1e-4, 1e-3])
    assert result.best_wd == 1e-4
    assert result.sweep_labels == ["wd=0", "wd=0.0001", "wd=0.001"]
    # The suggestion reads the best sweep's curve, as the rule does on its own.
    expected = suggest.minimum(*suggest.trim(LR, suggest.smooth(BOWL), len(LR) // 10))
    assert result.suggest("minimum") == pytest.approx(expected)


def test_without_a_grid_there_is_one_sweep_and_no_weight_decay_to_choose():
    result = RangeTestResult(LR, BOWL[:, None])
    assert (result.n_wd, result.sweep_labels, result.best_wd) == (1, ["loss"], None)


def test_validation_losses_are_asked_for_by_name_and_refused_without_them():
    result = RangeTestResult(LR, BOWL[:, None])
    with pytest.raises(ValueError, match="only with validation_data"):
        result.suggest(set="valid")
    with pytest.raises(ValueError, match="has not run yet"):
        RangeTestResult(LR, None).suggest()


def test_no_suggestion_lies_past_the_lowest_loss():
    # A curve that falls gently to its lowest point, then rises, with one batch far below the rest on
    # the rising side: the steepest smoothed descent is there, past the lowest loss.
    lr = np.geomspace(1e-4, 10, 60)
    loss = np.where(lr < 1e-2, 2.0 - 0.1 * np.log10(lr / 1e-4), 1.8 + 0.5 * np.log10(lr / 1e-2))
    loss[45] -= 6.0
    result = RangeTestResult(lr, loss[:, None])
    lrs, smoothed = suggest.trim(lr, suggest.smooth(loss), len(lr) // 10)
    at_lowest = lrs[np.argmin(smoothed)]
    for method in suggest.RULES:
        assert result.suggest(method) <= at_lowest * (1 + 1e-9), method
    assert suggest.steepest(lrs, smoothed) > 10 * at_lowest  # the check can fail: the rule alone does


def test_the_chosen_peak_is_the_lowest_smoothed_loss_over_the_divisor_of_the_cycle_length():
    result = RangeTestResult(LR, BOWL[:, None])
    lrs, smoothed = suggest.trim(LR, suggest.smooth(BOWL), len(LR) // 10)
    lowest = lrs[np.argmin(smoothed)]
    for total_steps in (None, 200, 2000):
        choice = result.choose_one_cycle(total_steps=total_steps)
        assert choice.peak == pytest.approx(lowest / one_cycle_divisor(total_steps))
        assert choice.divisor == pytest.approx(one_cycle_divisor(total_steps))
        assert choice.total_steps == total_steps
    assert "for a cycle of 2000 steps" in result.choose_one_cycle(total_steps=2000).reason
    given = result.choose_one_cycle(3.0, total_steps=2000)  # a divisor given wins over the length
    assert given.peak == pytest.approx(lowest / 3.0)
    with pytest.raises(ValueError, match="`total_steps`"):
        result.choose_one_cycle(3.0, total_steps=-1)


def test_the_peak_stops_where_the_validation_loss_has_risen_a_fifth_over_its_minimum():
    # The training loss falls all the way to lr 1 (its minimum at the end), while the validation loss,
    # lowest at 1e-3, climbs from there (what BatchNormalization with Adam showed): the peak is the
    # first learning rate where the smoothed validation loss is 20% over its minimum.
    train = 2.0 - 0.2 * np.log10(LR / 1e-4)
    val = 1.0 + np.maximum(0.0, np.log10(LR / 1e-3))
    result = RangeTestResult(LR, train[:, None], val[:, None])
    lrs, smoothed = suggest.trim(LR, suggest.smooth(val), len(LR) // 10)
    lowest = int(np.argmin(smoothed))
    limit = lrs[lowest + np.flatnonzero(smoothed[lowest:] > 1.2 * smoothed[lowest])[0]]
    choice = result.choose_one_cycle(total_steps=300)
    assert choice.validation_limit == pytest.approx(limit)
    assert 1e-3 < limit < 1e-2
    assert choice.peak == pytest.approx(limit)  # far below the training minimum / 2.3
    assert "capped at" in choice.reason
    assert "validation loss 20% over its minimum" in choice.reason


def test_a_validation_loss_that_does_not_rise_a_fifth_leaves_the_peak_alone():
    lr = np.geomspace(1e-4, 1.0, 100)  # a range test's default 100 learning rates
    bowl = 1.0 + (np.log10(lr) + 1.5) ** 2
    flat = RangeTestResult(lr, bowl[:, None], (bowl * 0.01 + 1.0)[:, None])  # rises 10% at most
    rising = 1.0 + 50 * np.maximum(0.0, np.log10(lr / 0.3))  # diverging past the training minimum
    alone = RangeTestResult(lr, bowl[:, None])
    expected = alone.choose_one_cycle(total_steps=300).peak
    assert flat.choose_one_cycle(total_steps=300).validation_limit is None
    assert flat.choose_one_cycle(total_steps=300).peak == pytest.approx(expected)
    # A validation loss that rises only where training diverges: a limit beyond the peak, unused.
    diverging = RangeTestResult(lr, bowl[:, None], rising[:, None]).choose_one_cycle(total_steps=300)
    assert diverging.validation_limit > 2 * expected
    assert diverging.peak == pytest.approx(expected)
    assert "capped" not in diverging.reason
    assert alone.choose_one_cycle(total_steps=300).validation_limit is None


# -- issue 21: one weight-decay answer, a choice inside the tested range, a reason that reads right --
def test_best_wd_is_the_weight_decay_the_choice_trains_with():
    # wd=1e-3 is 1% lower than wd=0: within noise, so the rule takes the smallest; best_wd agrees.
    result = RangeTestResult(LR, np.stack([BOWL + 0.01, BOWL], 1), wd_list=[0.0, 1e-3])
    assert result.choose_one_cycle().weight_decay == 0.0
    assert result.best_wd == 0.0


def test_a_sweep_that_stopped_within_its_first_learning_rates_cannot_choose():
    from keras_one_cycle_clr.range_test_result import CannotChooseError

    lr = np.geomspace(1e-5, 10, 100)
    loss = np.full((100, 1), np.nan)
    loss[:7, 0] = [2.30, 2.31, 2.29, 2.30, 2.28, 2.31, 2.30]  # stopped after 7 of 100
    with pytest.raises(CannotChooseError, match="reached 7 of its 100 learning rates"):
        RangeTestResult(lr, loss).choose_one_cycle()


def test_a_loss_that_only_rises_from_the_start_cannot_choose():
    from keras_one_cycle_clr.range_test_result import CannotChooseError

    lr = np.geomspace(1e-5, 10, 100)
    rising = (1.0 + np.log10(lr / 1e-5))[:, None]
    expected = r"lowest at the start.*start `lr_range` lower.*learning rates read of 100"
    with pytest.raises(CannotChooseError, match=expected):
        RangeTestResult(lr, rising).choose_one_cycle(total_steps=3000)


@pytest.mark.parametrize("centre", [-4.6, -4.0, -2.0, 0.5])
def test_a_choice_is_never_outside_the_tested_range(centre):
    from keras_one_cycle_clr.range_test_result import CannotChooseError

    lr = np.geomspace(1e-5, 10, 100)
    noise = np.random.default_rng(1).normal(0, 0.01, 100)
    bowl = (1.0 + (np.log10(lr) - centre) ** 2 + noise)[:, None]
    for total_steps in (None, 100, 3000):
        try:
            peak = RangeTestResult(lr, bowl).choose_one_cycle(total_steps=total_steps).peak
        except CannotChooseError:
            continue
        assert lr[0] <= peak <= lr[-1]


def test_the_reason_names_the_learning_rate_and_the_peak():
    choice = RangeTestResult(LR, BOWL[:, None]).choose_one_cycle(total_steps=635)
    assert choice.reason.startswith(f"peak {choice.peak:.3g} = ")
    assert "(the learning rate at the lowest smoothed loss)" in choice.reason


def test_the_legend_says_why_each_weight_decay_is_tied_or_not():
    pytest.importorskip("matplotlib")
    result = RangeTestResult(LR, np.stack([BOWL + 0.02, BOWL + 0.3, BOWL], 1), wd_list=[0.0, 1e-3, 1e-2])
    fig = result.plot(total_steps=500)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "wd=0 (chosen: smallest tied)"
    # The margins are relative to the lowest smoothed loss (smoothing lags: about 2.3 here, not 1).
    smoothed_min = np.nanmin(suggest.smooth(BOWL))
    assert labels[1] == f"wd=0.001 (not tied: +{0.3 / smoothed_min:.0%}, beyond the noise margin 5%)"
    assert labels[2] == "wd=0.01 (tied: +0% within the noise margin 5%)"


def test_a_result_that_knows_its_trained_choice_marks_that_peak_and_says_so():
    pytest.importorskip("matplotlib")
    result = RangeTestResult(LR, BOWL[:, None])
    trained = result.choose_one_cycle(total_steps=898)
    known = result.with_one_cycle_choice(trained)
    assert f"peak {trained.peak:.3g} for 898 steps" in repr(known)
    assert "depends on the cycle's length" in repr(result)
    (line,) = [ln for ln in known.plot().axes[0].lines if ln.get_label().startswith("one-cycle peak")]
    assert line.get_xdata()[0] == pytest.approx(trained.peak)
    assert line.get_label() == f"one-cycle peak {trained.peak:.3g} (trained, 898 steps)"
    assert trained.peak != pytest.approx(result.choose_one_cycle().peak)  # what main's plot marked
