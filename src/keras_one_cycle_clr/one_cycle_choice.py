"""The one cycle a range test points to: its peak learning rate and weight decay, and how sure it is.

Pure functions of a range test's arrays (`lr`, the losses, `wd_list`), without Keras and without a
result object, so each rule can be tested on made-up curves. `RangeTestResult.choose_one_cycle` and
`RangeTestResult.best_wd` call them; `OneCycle.from_range_test` and `fit_one_cycle` train with what
they choose.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from keras_one_cycle_clr import _checks, suggest

# The one-cycle peak is the range test's smoothed minimum divided by a divisor that grows with the
# cycle's length T (optimizer steps): max(BUDGET_MIN_DIVISOR, (T / BUDGET_REFERENCE_STEPS) **
# BUDGET_EXPONENT), 2 up to 250 steps, 4 at 635, 12 at 2,850. A longer cycle spends more steps near
# its peak, where a rate that a short sweep tolerated keeps the loss from settling. Written from the
# ten tune and holdout tasks of bench/tasks.py, tested on five fresh ones (BENCHMARKS.md, section 5).
# The suite's longest cycles are about 3,000 steps: past BUDGET_MAX_STEPS the divisor stays at its
# value there (12.8) rather than extrapolate a trend that no task measured (and that the digits CNN
# already did not follow between 340 and 1,020 steps); at 30,000 steps it would be 72.
BUDGET_MIN_DIVISOR = 2.0
BUDGET_REFERENCE_STEPS = 100.0
BUDGET_EXPONENT = 0.75
BUDGET_MAX_STEPS = 3000
# The divisor when the cycle's length is not known: the budget rule's at about 635 steps.
ONE_CYCLE_PEAK_DIVISOR = 4.0
# How far apart two sweeps' lowest smoothed losses must be before the lower one counts as better:
# two standard deviations of that difference, and at least 5% of the best. Sweeps run on other
# batches from the same start, and on the suite's tune tasks their minima differed by 2-15% between
# weight decays that trained alike, far more than the scatter between learning rates says.
WD_NOISE_SIGMAS = 2.0
WD_RELATIVE_TIE = 0.05
_SMOOTHING = 0.98  # suggest.smooth's beta
# The peak never goes past the learning rate where the chosen sweep's smoothed validation loss has
# risen this fraction above its minimum: there the model, evaluated as it will be used (inference
# mode), is getting worse while the training loss may still fall. With BatchNormalization and Adam
# the training loss kept falling up to lr 0.3 while the validation loss rose from 0.001 (its moving
# statistics lag weights that move fast): the minimum / divisor gave 0.06, the best peak was 0.0035
# (bench/tasks.py, hastie_bn_adamw, 2.5 points lost). On the 15 earlier tasks it binds only on one
# seed of motif_conv1d; fractions 0.05 to 0.3 did alike there.
VALIDATION_RISE = 0.2
# A sweep whose smoothed loss never falls more than FALL_SIGMAS times its noise (`_lowest_point_noise`)
# down to its lowest point is flat: its lowest point is where the noise put it, and it shows no peak.
# A sweep too short to train the model does that: adding_gru and sine_gru_adam read at one batch per
# learning rate (100 batches) fell 3.4 and 1.8 times their noise, and the peaks chosen there (2e-5)
# trained nothing. Every default range test saved by bench/tasks.py (287, 100 x 5 batches) fell more
# than 6.9 times, and every other sweep of one batch per learning rate more than 10 (BENCHMARKS.md
# section 9).
FALL_SIGMAS = 5.0
# The rules read a sweep without its first `len(lr) // 10` and last `TRIM_END` reached learning
# rates (`suggest.trim`, as fastai does); a sweep needs `MIN_READ` more to show a minimum.
TRIM_END = 5
MIN_READ = 2


def one_cycle_divisor(total_steps=None):
    """How far below the range test's smoothed minimum a one cycle of `total_steps` steps peaks.

    Example:

    >>> [round(one_cycle_divisor(t), 1) for t in (100, 300, 1000, 3000, 30000)]
    [2.0, 2.3, 5.6, 12.8, 12.8]
    >>> one_cycle_divisor(None) == ONE_CYCLE_PEAK_DIVISOR
    True

    Args:
        total_steps: A Python int >= 1: the cycle's length in optimizer steps, or None when unknown.

    Returns:
        A Python float >= 2.
    """
    if total_steps is None:
        return ONE_CYCLE_PEAK_DIVISOR
    total_steps = _checks.check_count("total_steps", total_steps)
    steps = min(total_steps, BUDGET_MAX_STEPS)  # no extrapolation past the suite's longest cycles
    return max(BUDGET_MIN_DIVISOR, (steps / BUDGET_REFERENCE_STEPS) ** BUDGET_EXPONENT)


class CannotChooseError(ValueError):
    """A range test whose curves cannot show where a one cycle should peak.

    Raised by `RangeTestResult.choose_one_cycle` (and so by `fit_one_cycle` and
    `OneCycle.from_range_test`) for a sweep that stopped before it showed a minimum, or whose loss
    was lowest at the very start of the range and only rose after, or that never fell beyond its
    noise (`FALL_SIGMAS`); and by a range test whose loss is not finite within its first learning
    rates.
    """


def minimum_learning_rates(learning_rates):
    """The learning rates a sweep of `learning_rates` must reach before its curve can show a minimum.

    Example:

    >>> minimum_learning_rates(100), minimum_learning_rates(10)
    (17, 8)
    """
    return learning_rates // 10 + TRIM_END + MIN_READ


def unread_learning_rates(learning_rates):
    """The first learning rates of a sweep of `learning_rates`, which the rules do not read
    (`suggest.trim`): a loss that is not finite there is not the sweep's divergence but bad data or a
    range that starts too high.

    Example:

    >>> unread_learning_rates(100), unread_learning_rates(10)
    (11, 2)
    """
    return max(1, learning_rates // 10 + 1)


@dataclasses.dataclass(frozen=True)
class OneCycleChoice:
    """What a range test chose for one cycle: the peak, the weight decay, and how sure it was.

    Attributes:
        peak: The peak learning rate.
        weight_decay: The weight decay, or None without a grid (keep the optimizer's own).
        weight_decays_tied: The weight decays whose sweeps were within noise of the lowest; the
            choice among them is the rule's, not the data's, when there is more than one.
        reason: One sentence saying how both were chosen.
        divisor: The divisor of the range test's smoothed minimum: the peak is their quotient, or
            `validation_limit` when that is lower.
        total_steps: The cycle's length the peak was chosen for, or None when unknown.
        validation_limit: The learning rate where the chosen sweep's smoothed validation loss had
            risen `VALIDATION_RISE` above its minimum (the peak's upper limit), or None without
            validation losses or when it never rose that far.
    """

    peak: float
    weight_decay: float | None
    weight_decays_tied: tuple
    reason: str
    divisor: float = ONE_CYCLE_PEAK_DIVISOR
    total_steps: int | None = None
    validation_limit: float | None = None


@dataclasses.dataclass(frozen=True)
class WeightDecayChoice:
    """Which sweep the weight-decay rule chose (steps 1 and 2 of `choose_one_cycle`), and why.

    Attributes:
        column: The chosen sweep's column (0 without a grid).
        tied: The columns whose lowest smoothed loss is within noise of the best, in order.
        lowest: Each sweep's lowest smoothed loss (inf for a sweep with none finite).
        spread: Each sweep's margin over the best within which it counts as tied.
    """

    column: int
    tied: tuple
    lowest: np.ndarray
    spread: np.ndarray


def choose_one_cycle(lr, loss, wd_list=(), *, val_loss=None, wd_loss=None, divisor=None, total_steps=None):
    """The one-cycle peak and weight decay a range test's losses point to, knowing their noise.

    The rule:

    1. For every sweep, the lowest loss of its smoothed curve (of `wd_loss`), and the noise of that
       lowest point: the sweep's scatter (a robust standard deviation of the differences between
       consecutive learning rates' losses over the first half of the sweep, where the learning rate
       is too small to move the loss) times the share of it that the smoothing lets through.
    2. The weight decays whose lowest loss is within `WD_NOISE_SIGMAS` standard deviations of the
       best one, or within `WD_RELATIVE_TIE` of it (sweeps run on other batches, which moves their
       minima more than that scatter shows), are tied: the data cannot tell them apart.
       Among them, the smallest is chosen (the least change to what the user built); a single one
       is chosen because it is lower.
    3. The peak is the learning rate at the lowest point of the chosen sweep's smoothed training
       loss (trimmed as fastai's rules see it, `suggest.trim`), divided by `divisor`, by default
       `one_cycle_divisor(total_steps)`: 2 for a cycle of up to 250 steps, growing as
       `(total_steps / 100) ** 0.75` (4 at 635 steps, 12 at 2,850) up to 3,000 steps (12.8) and
       level beyond, and 4 when the length is unknown. The curve's minimum is already past the
       best peak, and the longer the cycle stays near its peak, the further (bench/tasks.py,
       BENCHMARKS.md).
    4. With validation losses, the peak is at most the learning rate where the chosen sweep's
       smoothed validation loss, past its minimum, first rises `VALIDATION_RISE` (20%) above it:
       beyond, the model as it will be evaluated gets worse (with BatchNormalization, its moving
       statistics lag weights that move fast), whatever the training loss does.

    Example:

    >>> import numpy as np
    >>> lr = np.geomspace(1e-4, 1, 50)
    >>> bowl = 1 + (np.log10(lr) + 1) ** 2
    >>> noisy = bowl[:, None] + np.random.default_rng(0).normal(0, 0.01, (50, 2))
    >>> choice = choose_one_cycle(lr, noisy, [0.0, 1e-3])
    >>> choice.weight_decay, choice.weight_decays_tied, choice.divisor
    (0.0, (0.0, 0.001), 4.0)

    Args:
        lr: A 1-D array: the learning rates, increasing.
        loss: An array `(len(lr), n_wd)`: the mean training loss at `lr[i]` under `wd_list[j]`; NaN
            where the sweep never got.
        wd_list: The weight decays, one per column, or () for one sweep without a grid.
        val_loss: The same for the validation loss, or None.
        wd_loss: The losses that choose the weight decay. Defaults to `val_loss` when given, else
            `loss`.
        divisor: A Python float >= 1, or None for `one_cycle_divisor(total_steps)`. Defaults to None.
        total_steps: A Python int >= 1: the length of the cycle to configure, in optimizer steps
            (epochs x steps per epoch), or None when unknown. Defaults to None.

    Returns:
        A `OneCycleChoice`.

    Raises:
        CannotChooseError: for a chosen sweep that stopped too early to show a minimum, whose
            smoothed loss was lowest where the rules start reading, or that never fell beyond its
            noise (`FALL_SIGMAS`).
    """
    if divisor is None:
        divisor = one_cycle_divisor(total_steps)
    else:
        divisor = _checks.check_number("divisor", divisor, low=1.0)
        if total_steps is not None:
            _checks.check_count("total_steps", total_steps)
    if wd_loss is None:
        wd_loss = loss if val_loss is None else val_loss
    rule = weight_decay_choice(wd_loss, wd_list)
    chosen = rule.column
    if wd_list:
        weight_decay = wd_list[chosen]
        tied_wds = tuple(sorted(wd_list[j] for j in rule.tied))
    else:
        weight_decay, tied_wds = None, ()
    sweep = f"sweep wd={weight_decay:g}" if wd_list else "the sweep"
    at_lowest = _lowest_loss_learning_rate(lr, np.asarray(loss)[:, chosen], sweep)
    peak = at_lowest / divisor
    limit = None if val_loss is None else _validation_limit(lr, np.asarray(val_loss)[:, chosen])
    capped = ""
    if limit is not None and limit < peak:
        peak = limit
        capped = f", capped at {limit:.3g} (validation loss {VALIDATION_RISE:.0%} over its minimum there)"
    if not wd_list:
        how = "no weight-decay grid"
    elif len(rule.tied) > 1:
        how = f"weight decays {list(tied_wds)} within noise of each other: the smallest"
    else:
        how = f"weight decay {weight_decay:g} lowest beyond noise"
    length = "" if total_steps is None else f", for a cycle of {total_steps} steps"
    reason = (
        f"peak {peak:.3g} = {at_lowest:.3g} (the learning rate at the lowest smoothed loss) / "
        f"{divisor:.3g}{length}{capped}; {how}"
    )
    return OneCycleChoice(float(peak), weight_decay, tied_wds, reason, float(divisor), total_steps, limit)


def weight_decay_choice(losses, wd_list=()):
    """Steps 1 and 2 of `choose_one_cycle`: which sweep of `losses` (one column a weight decay) is
    chosen, which are tied with it, and why, as a `WeightDecayChoice`. Without a grid, the one sweep.
    """
    losses = np.asarray(losses, dtype=np.float64)
    sweeps = range(losses.shape[1])
    smoothed = np.stack([suggest.smooth(losses[:, j], _SMOOTHING) for j in sweeps], 1)
    lowest = np.array([np.nanmin(c) if np.isfinite(c).any() else np.inf for c in smoothed.T])
    noise = np.array([_lowest_point_noise(losses[:, j]) for j in sweeps])
    best = int(np.argmin(lowest))
    spread = np.maximum(
        WD_NOISE_SIGMAS * np.sqrt(noise**2 + noise[best] ** 2), WD_RELATIVE_TIE * abs(lowest[best])
    )
    tied = tuple(j for j in sweeps if lowest[j] <= lowest[best] + spread[j])
    column = min(tied, key=lambda j: wd_list[j]) if wd_list else 0
    return WeightDecayChoice(column, tied, lowest, spread)


def weight_decay_labels(losses, wd_list, labels, chosen, on_validation=False):
    """Legend labels saying that `chosen` is the weight decay chosen and why each other one is tied
    with the best of `losses` or not: `labels` (one per sweep) with the reason appended."""
    if not wd_list:
        return list(labels)
    rule = weight_decay_choice(losses, wd_list)
    best = float(np.min(rule.lowest))
    on = " on the validation loss" if on_validation else ""
    explained = []
    for j, label in enumerate(labels):
        over = (rule.lowest[j] - best) / abs(best) if best else 0.0
        margin = rule.spread[j] / abs(best) if best else 0.0
        if wd_list[j] == chosen:
            why = "smallest tied" if len(rule.tied) > 1 else "lowest"
            explained.append(f"{label} (chosen: {why}{on})")
        elif j in rule.tied:
            explained.append(f"{label} (tied: +{over:.0%} within the noise margin {margin:.0%})")
        else:
            explained.append(f"{label} (not tied: +{over:.0%}, beyond the noise margin {margin:.0%})")
    return explained


def rules_view(lr, losses):
    """`(lrs, curve)`: one sweep's losses smoothed and trimmed as fastai's rules see them (the first
    `len(lr) // 10` and the last `TRIM_END` reached learning rates dropped, `suggest.trim`)."""
    return suggest.trim(lr, suggest.smooth(losses, _SMOOTHING), len(lr) // 10, TRIM_END)


def _lowest_loss_learning_rate(lr, losses, sweep):
    """The learning rate at the lowest point of a sweep's smoothed training loss, as the rules see it
    (`rules_view`); a `CannotChooseError` when the sweep cannot show one."""
    reached = int(np.isfinite(losses).sum())
    needed = minimum_learning_rates(len(lr))
    if reached < min(needed, len(lr)):  # a sweep that ran to its end is never too short
        where = f" (up to lr {lr[reached - 1]:.3g})" if reached else ""
        msg = (
            f"The range test cannot choose a one-cycle peak: {sweep} reached {reached} of its "
            f"{len(lr)} learning rates{where} before it stopped, too few to show a minimum "
            f"(it needs {needed}). Its loss diverged or was not finite at once: look for NaN or "
            "infinite values in the data, or start `lr_range` lower."
        )
        raise CannotChooseError(msg)
    lrs, curve = rules_view(lr, losses)
    lowest = int(np.argmin(curve))
    if lowest == 0:
        msg = (
            f"The range test cannot choose a one-cycle peak: the smoothed loss of {sweep} was "
            f"lowest at the start of the learning rates it reads ({lrs[0]:.3g}) and never lower "
            f"after: either the range starts too high to show a minimum (start `lr_range` lower; "
            f"received lr_range=({lr[0]:.3g}, {lr[-1]:.3g})), or the loss did not fall anywhere in "
            f"it, which a short, noisy sweep can show by chance ({len(lrs)} learning rates read of "
            f"{len(lr)}; more `steps` or `batches_per_step` average the noise down)."
        )
        raise CannotChooseError(msg)
    fall = float(np.max(curve[: lowest + 1]) - curve[lowest])
    noise = _lowest_point_noise(losses)
    if math.isfinite(noise) and fall < FALL_SIGMAS * noise:
        msg = (
            f"The range test cannot choose a one-cycle peak: the smoothed loss of {sweep} never fell "
            f"more than {fall / noise:.1f} times its noise ({noise:.2g}), where a choice needs a fall "
            f"of {FALL_SIGMAS:g} times it: its lowest point, at lr {lrs[lowest]:.3g}, is where the "
            "noise put it. A sweep too short to train the model shows this: more `batches_per_step` "
            "(or `steps`) give the model more batches to learn in."
        )
        raise CannotChooseError(msg)
    return float(lrs[lowest])


def _validation_limit(lr, val_losses):
    """The first learning rate past the minimum of a sweep's smoothed validation loss (as the rules
    see it, `rules_view`) where it is `VALIDATION_RISE` above that minimum, or None."""
    lrs, curve = rules_view(lr, val_losses)
    if len(curve) == 0:
        return None
    lowest = int(np.argmin(curve))
    if curve[lowest] <= 0:  # a rise relative to a minimum needs a positive loss
        return None
    risen = np.flatnonzero(curve[lowest:] > (1 + VALIDATION_RISE) * curve[lowest])
    return float(lrs[lowest + risen[0]]) if len(risen) else None


def _lowest_point_noise(losses):
    """The standard deviation of a smoothed curve's value from one sweep's scatter.

    The scatter is a robust standard deviation of the differences between consecutive learning
    rates' losses over the first half of the reached ones (`1.4826 x median |diff| / sqrt(2)`); the
    debiased exponential smoothing of `suggest.smooth` lets through `sqrt((1 - beta) / (1 + beta))`
    of it at its steady state.
    """
    reached = np.asarray(losses, dtype=np.float64)
    reached = reached[np.isfinite(reached)]
    half = reached[: max(3, len(reached) // 2)]
    if len(half) < 3:
        return math.inf
    scatter = 1.4826 * float(np.median(np.abs(np.diff(half)))) / math.sqrt(2.0)
    return scatter * math.sqrt((1 - _SMOOTHING) / (1 + _SMOOTHING))
