"""What a learning-rate range test found, and what to make of it: `RangeTestResult`.

No Keras here: a result is its arrays (`lr`, `loss`, `val_loss`, `wd_list`) and pure functions of
them (the suggestion rules of `suggest`, the weight-decay choice, the plot), so it can be built from
saved arrays and tested without training.
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


# How far apart two sweeps' lowest smoothed losses must be before the lower one counts as better:
# two standard deviations of that difference, and at least 5% of the best. Sweeps run on other
# batches from the same start, and on the suite's tune tasks their minima differed by 2-15% between
# weight decays that trained alike, far more than the per-step scatter says.
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
# A sweep whose smoothed loss went below this fraction of its first loss, and that is back at its
# first, is diverging: stuck at chance level, the loss no longer grows to `threshold_multiplier` x
# the best.
LEARNED_FRACTION = 0.8
# That rule reads a debiased EMA of the per-learning-rate losses, not single values: on a noisy loss
# (a regression's, 5 batches per learning rate) one value 20% under the first and a later one above
# it stopped sweeps at lr 1e-4, before they had learned anything (bench/tasks.py, friedman2_adam).
# 0.7 keeps about three learning rates' memory: a sweep back at chance stops within about 8 more.
RELAPSE_SMOOTHING = 0.7


class SweepWatch:
    """Whether a range-test sweep stops, fed the losses of its learning rates in order.

    A sweep stops at a loss that is not finite or above `threshold_multiplier` x its lowest, or
    when its smoothed loss (a debiased EMA, `RELAPSE_SMOOTHING`) is back at or above its first loss
    after having gone below `LEARNED_FRACTION` of it: stuck at chance level after learning.

    Example:

    >>> watch = SweepWatch(threshold_multiplier=5)
    >>> [watch.diverged(loss) for loss in (2.3, 1.0, 0.5, 0.5, 2.6)]  # over 5 x the lowest
    [False, False, False, False, True]
    >>> watch = SweepWatch(threshold_multiplier=5)
    >>> stops = [watch.diverged(loss) for loss in (2.3, 1.0, 0.5, *[2.4] * 8)]  # back at chance
    >>> stops.index(True)  # the 7th learning rate back at 2.4
    9
    >>> watch = SweepWatch(threshold_multiplier=5)
    >>> any(watch.diverged(loss) for loss in (1.1, 1.0, 1.2, 0.85, 1.2, 1.05))  # noise alone
    False

    Args:
        threshold_multiplier: A Python float > 1.
    """

    def __init__(self, threshold_multiplier):
        self.threshold_multiplier = threshold_multiplier
        self.first = math.nan  # the loss at the sweep's first learning rate
        self.best = math.inf  # the lowest loss so far
        self.best_smoothed = math.inf  # the lowest smoothed loss so far
        self._losses = []  # at most a sweep's learning rates: smoothed whole at each new one
        self.smoothed = math.nan  # the smoothed loss at the last learning rate

    def diverged(self, loss):
        """Takes the next learning rate's loss; whether the sweep stops here."""
        if not math.isfinite(loss):
            return True
        if not self._losses:
            self.first = loss
        self._losses.append(loss)
        smoothed = self.smoothed = float(suggest.smooth(self._losses, RELAPSE_SMOOTHING)[-1])
        self.best = min(self.best, loss)
        self.best_smoothed = min(self.best_smoothed, smoothed)
        relapsed = self.best_smoothed < LEARNED_FRACTION * self.first and smoothed >= self.first
        return loss > self.threshold_multiplier * self.best or relapsed


class CannotChooseError(ValueError):
    """A range test whose curves cannot show where a one cycle should peak.

    Raised by `RangeTestResult.choose_one_cycle` (and so by `fit_one_cycle` and
    `OneCycle.from_range_test`) for a sweep that stopped before it showed a minimum, or whose loss
    was lowest at the very start of the range and only rose after.
    """


# The rules read a sweep without its first `steps // 10` and last `TRIM_END` reached learning rates
# (`suggest.trim`, as fastai does); a sweep needs `MIN_READ` more to show a minimum.
TRIM_END = 5
MIN_READ = 2


def minimum_learning_rates(steps):
    """The learning rates a sweep of `steps` must reach before its curve can show a minimum.

    Example:

    >>> minimum_learning_rates(100), minimum_learning_rates(10)
    (17, 8)
    """
    return steps // 10 + TRIM_END + MIN_READ


def unread_learning_rates(steps):
    """The first learning rates of a sweep of `steps`, which the rules do not read (`suggest.trim`):
    a loss that is not finite there is not the sweep's divergence but bad data or a range that starts
    too high.

    Example:

    >>> unread_learning_rates(100), unread_learning_rates(10)
    (11, 2)
    """
    return max(1, steps // 10 + 1)


@dataclasses.dataclass(frozen=True)
class _WeightDecayChoice:
    """Which sweep the weight-decay rule chose (`column`), the sweeps tied with it, and each
    sweep's lowest smoothed loss and the margin within which it counts as tied, on loss `set`."""

    column: int
    tied: tuple
    lowest: np.ndarray
    spread: np.ndarray
    set: str


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


class RangeTestResult:
    """The losses of a range test, one column per weight decay, and the choices read from them.

    Example:

    >>> import numpy as np
    >>> lr = np.geomspace(1e-4, 1, 20)
    >>> loss = np.stack([2 - np.log10(lr) ** 2 / 8 + (lr > 0.3), 2.1 - np.log10(lr) ** 2 / 8], 1)
    >>> result = RangeTestResult(lr, loss, wd_list=[0.0, 1e-3])
    >>> result.sweep_labels, result.best_wd
    (['wd=0', 'wd=0.001'], 0.0)

    Args:
        lr: A 1-D array: the learning rates, increasing.
        loss: An array `(len(lr), n_wd)`: `loss[i, j]` is the mean training loss at `lr[i]` under
            `wd_list[j]`; NaN where the sweep never got.
        val_loss: The same for the validation loss, or None.
        wd_list: The weight decays, one per column, or () for one sweep without a grid.
        one_cycle_choice: The `OneCycleChoice` a one cycle trained with, when one did (the result
            `fit_one_cycle` returns as `history.range_test`): `plot()` then marks that peak, and
            the result's repr names it. Defaults to None.
    """

    def __init__(self, lr, loss, val_loss=None, wd_list=(), *, one_cycle_choice=None):
        self.lr = np.asarray(lr)
        self.loss = None if loss is None else np.asarray(loss, dtype=np.float64)
        self.val_loss = None if val_loss is None else np.asarray(val_loss, dtype=np.float64)
        self.wd_list = tuple(wd_list)
        if one_cycle_choice is not None and not isinstance(one_cycle_choice, OneCycleChoice):
            _checks.fail("one_cycle_choice", "a OneCycleChoice, or None", one_cycle_choice, TypeError)
        self.one_cycle_choice = one_cycle_choice

    def with_one_cycle_choice(self, choice):
        """The same arrays with the choice that a one cycle trained with (a new result)."""
        return RangeTestResult(self.lr, self.loss, self.val_loss, self.wd_list, one_cycle_choice=choice)

    def __repr__(self):
        sweeps = f"wd_list={list(self.wd_list)}" if self.wd_list else "one sweep"
        text = (
            f"RangeTestResult({len(self.lr)} learning rates {self.lr[0]:.3g} to {self.lr[-1]:.3g}, {sweeps}"
        )
        if self.loss is None:
            return text + ", not run)"
        choice = self.one_cycle_choice
        if choice is not None:
            steps = "" if choice.total_steps is None else f" for {choice.total_steps} steps"
            wd = "" if choice.weight_decay is None else f", weight decay {choice.weight_decay:g}"
            return text + f"; the one cycle trained with peak {choice.peak:.3g}{steps}{wd})"
        return text + "; the one-cycle peak depends on the cycle's length: choose_one_cycle(total_steps=...))"

    @property
    def n_wd(self):
        """The number of sweeps: one per weight decay, or one without a grid."""
        return max(1, len(self.wd_list))

    @property
    def sweep_labels(self):
        """One label per sweep: `"wd=..."`, or `"loss"` without a weight-decay grid."""
        return [f"wd={wd:g}" for wd in self.wd_list] or ["loss"]

    def losses(self, set="train"):
        """The loss array of `set` (`"train"` or `"valid"`)."""
        _checks.check_choice("set", set, ("train", "valid"))
        if self.loss is None:
            msg = "The range test has not run yet: fit a model with it as a callback, or use lr_find."
            raise ValueError(msg)
        if set == "valid":
            if self.val_loss is None:
                msg = "Argument `set` can be 'valid' only with validation_data. Received: set='valid'"
                raise ValueError(msg)
            return self.val_loss
        return self.loss

    @property
    def best_wd(self):
        """The weight decay the range test chooses: the one `choose_one_cycle` trains with.

        The smallest of the weight decays whose sweeps reached a lowest smoothed loss (validation
        loss if given) within noise of the best (see `choose_one_cycle`, steps 1 and 2). None
        without a weight-decay grid.
        """
        if not self.wd_list:
            return None
        return self.wd_list[self._weight_decay_choice(None).column]

    def _weight_decay_choice(self, set):
        """Steps 1 and 2 of `choose_one_cycle`: which sweep, which are tied, and why."""
        if set is None:
            set = "valid" if self.val_loss is not None else "train"
        losses = self.losses(set)
        smoothed = np.stack([suggest.smooth(losses[:, j], _SMOOTHING) for j in range(self.n_wd)], 1)
        lowest = np.array([np.nanmin(c) if np.isfinite(c).any() else np.inf for c in smoothed.T])
        noise = np.array([_lowest_point_noise(losses[:, j]) for j in range(self.n_wd)])
        best = int(np.argmin(lowest))
        spread = np.maximum(
            WD_NOISE_SIGMAS * np.sqrt(noise**2 + noise[best] ** 2), WD_RELATIVE_TIE * abs(lowest[best])
        )
        tied = tuple(j for j in range(self.n_wd) if lowest[j] <= lowest[best] + spread[j])
        column = min(tied, key=lambda j: self.wd_list[j]) if self.wd_list else 0
        return _WeightDecayChoice(column, tied, lowest, spread, set)

    def choose_one_cycle(self, divisor=None, set=None, total_steps=None):
        """The one-cycle peak and weight decay this range test points to, knowing its noise.

        The rule:

        1. For every sweep, the lowest loss of its smoothed curve (validation loss when there is
           some, else training loss), and the noise of that lowest point: the sweep's per-step
           scatter (a robust standard deviation of its step-to-step differences over the first half
           of the sweep, where the learning rate is too small to move the loss) times the share of
           it that the smoothing lets through.
        2. The weight decays whose lowest loss is within `WD_NOISE_SIGMAS` standard deviations of
           the best one, or within `WD_RELATIVE_TIE` of it (sweeps run on other batches, which moves
           their minima more than the per-step scatter shows), are tied: the data cannot tell them
           apart. Among them, the smallest is chosen (the least change to what the user built);
           a single one is chosen because it is lower.
        3. The peak is the learning rate at the lowest point of the chosen sweep's smoothed
           training loss (trimmed as fastai's rules see it, `suggest.trim`), divided by
           `divisor`, by default `one_cycle_divisor(total_steps)`: 2 for a cycle of up to 250
           steps, growing as `(total_steps / 100) ** 0.75` (4 at 635 steps, 12 at 2,850) up to
           3,000 steps (12.8) and level beyond, and 4 when the length is unknown. The curve's
           minimum is already past the best peak, and the longer the cycle stays near its peak,
           the further (bench/tasks.py, BENCHMARKS.md).
        4. With validation losses, the peak is at most the learning rate where the chosen sweep's
           smoothed validation loss, past its minimum, first rises `VALIDATION_RISE` (20%) above
           it: beyond, the model as it will be evaluated gets worse (with BatchNormalization, its
           moving statistics lag weights that move fast), whatever the training loss does.

        Example:

        >>> import numpy as np
        >>> lr = np.geomspace(1e-4, 1, 50)
        >>> bowl = 1 + (np.log10(lr) + 1) ** 2
        >>> noisy = bowl[:, None] + np.random.default_rng(0).normal(0, 0.01, (50, 2))
        >>> choice = RangeTestResult(lr, noisy, wd_list=[0.0, 1e-3]).choose_one_cycle()
        >>> choice.weight_decay, choice.weight_decays_tied
        (0.0, (0.0, 0.001))
        >>> choice.divisor
        4.0
        >>> result = RangeTestResult(lr, noisy, wd_list=[0.0, 1e-3])
        >>> round(result.choose_one_cycle(total_steps=3000).divisor, 1)
        12.8

        Args:
            divisor: A Python float >= 1, or None for `one_cycle_divisor(total_steps)`. Defaults to
                None.
            set: `"train"` or `"valid"`: the loss that chooses the weight decay. Defaults to the
                validation loss when there is some.
            total_steps: A Python int >= 1: the length of the cycle to configure, in optimizer
                steps (epochs x steps per epoch), or None when unknown. Defaults to None.

        Returns:
            A `OneCycleChoice`.
        """
        if divisor is None:
            divisor = one_cycle_divisor(total_steps)
        else:
            divisor = _checks.check_number("divisor", divisor, low=1.0)
            if total_steps is not None:
                _checks.check_count("total_steps", total_steps)
        if set is not None:
            _checks.check_choice("set", set, ("train", "valid"))
        wd_choice = self._weight_decay_choice(set)
        chosen, tied = wd_choice.column, wd_choice.tied
        if self.wd_list:
            weight_decay = self.wd_list[chosen]
            tied_wds = tuple(sorted(self.wd_list[j] for j in tied))
        else:
            weight_decay, tied_wds = None, ()
        at_lowest = self._lowest_loss_lr(chosen)
        peak = at_lowest / divisor
        limit = None if self.val_loss is None else self._validation_limit(chosen)
        capped = ""
        if limit is not None and limit < peak:
            peak = limit
            capped = f", capped at {limit:.3g} (validation loss {VALIDATION_RISE:.0%} over its minimum there)"
        if not self.wd_list:
            how = "no weight-decay grid"
        elif len(tied) > 1:
            how = f"weight decays {list(tied_wds)} within noise of each other: the smallest"
        else:
            how = f"weight decay {weight_decay:g} lowest beyond noise"
        length = "" if total_steps is None else f", for a cycle of {total_steps} steps"
        reason = (
            f"peak {peak:.3g} = {at_lowest:.3g} (the learning rate at the lowest smoothed loss) / "
            f"{divisor:.3g}{length}{capped}; {how}"
        )
        return OneCycleChoice(float(peak), weight_decay, tied_wds, reason, float(divisor), total_steps, limit)

    def _lowest_loss_lr(self, column):
        """The learning rate at the lowest point of a sweep's smoothed training loss, as the rules
        see it (`_rules_view`); a `CannotChooseError` when the sweep cannot show one."""
        losses = self.losses("train")[:, column]
        reached = int(np.isfinite(losses).sum())
        sweep = f"sweep {self.sweep_labels[column]}" if self.wd_list else "the sweep"
        needed = minimum_learning_rates(len(self.lr))
        if reached < min(needed, len(self.lr)):  # a sweep that ran to its end is never too short
            where = f" (up to lr {self.lr[reached - 1]:.3g})" if reached else ""
            msg = (
                f"The range test cannot choose a one-cycle peak: {sweep} reached {reached} of its "
                f"{len(self.lr)} learning rates{where} before it stopped, too few to show a minimum "
                f"(it needs {needed}). Its loss diverged or was not finite at once: look for NaN or "
                "infinite values in the data, or start `lr_range` lower."
            )
            raise CannotChooseError(msg)
        lrs, curve = self._rules_view(losses)
        lowest = int(np.argmin(curve))
        if lowest == 0:
            msg = (
                f"The range test cannot choose a one-cycle peak: the smoothed loss of {sweep} was "
                f"lowest at the start of the learning rates it reads ({lrs[0]:.3g}) and only rose "
                f"after: the range starts too high to show a minimum. Start `lr_range` lower "
                f"(received lr_range=({self.lr[0]:.3g}, {self.lr[-1]:.3g}))."
            )
            raise CannotChooseError(msg)
        return float(lrs[lowest])

    def _rules_view(self, losses):
        """`(lrs, curve)`: one sweep's losses smoothed and trimmed as fastai's rules see them (the
        first `len(lr) // 10` and the last 5 reached steps dropped, `suggest.trim`)."""
        return suggest.trim(self.lr, suggest.smooth(losses, _SMOOTHING), len(self.lr) // 10, TRIM_END)

    def _validation_limit(self, column):
        """The first learning rate past the minimum of a sweep's smoothed validation loss (as the
        rules see it, `_rules_view`) where it is `VALIDATION_RISE` above that minimum, or None."""
        lrs, curve = self._rules_view(self.val_loss[:, column])
        if len(curve) == 0:
            return None
        lowest = int(np.argmin(curve))
        if curve[lowest] <= 0:  # a rise relative to a minimum needs a positive loss
            return None
        risen = np.flatnonzero(curve[lowest:] > (1 + VALIDATION_RISE) * curve[lowest])
        return float(lrs[lowest + risen[0]]) if len(risen) else None

    def suggest(self, method="valley", set="train", **rule_kwargs):
        """A learning rate suggested from the smoothed loss of the best weight decay's sweep.

        As in fastai, the rule sees the smoothed loss without its first `len(lr) // 10` and its last
        5 reached steps (see `suggest.trim`). A suggestion past the lowest smoothed loss, where the
        loss rises towards divergence (fastai's `slide` and `valley` can land there), is brought back
        to the learning rate at that lowest loss.

        Args:
            method: `"valley"` (fastai's default), `"steepest"` (steepest descent against log lr),
                `"minimum"` (a tenth of the lr at the lowest loss) or `"slide"`. Defaults to
                `"valley"`. These are rules for a constant learning rate; for a one-cycle peak use
                `OneCycle.from_range_test`.
            set: `"train"` or `"valid"`. Defaults to `"train"`.
            **rule_kwargs: Passed to the rule, e.g. `divisor=` for `"minimum"`.

        Returns:
            A Python float.
        """
        rule = suggest.RULES[_checks.check_choice("method", method, tuple(suggest.RULES))]
        losses = self.losses(set)
        column = 0 if self.best_wd is None else self.wd_list.index(self.best_wd)
        lrs, smoothed = self._rules_view(losses[:, column])
        # Never past the lowest loss: beyond it the loss is rising towards divergence.
        return min(rule(lrs, smoothed, **rule_kwargs), float(lrs[int(np.argmin(smoothed))]))

    def plot(
        self,
        set="train",
        x_scale="log",
        y_scale="linear",
        ma=True,
        window=5,
        mark=None,
        mark_label=None,
        total_steps=None,
    ):
        """Plots loss against learning rate, one curve per weight decay; returns the Figure.

        By default the legend shows what `choose_one_cycle` chose: the weight decay ("chosen" beside
        its sweep, "tied" beside sweeps within noise of the best, "not tied" with the margin that
        decided it) and the one-cycle peak, marked with a vertical line. The peak depends on the
        cycle's length: it is the one of `total_steps` when given, the one a one cycle trained with
        for a result that knows it (`fit_one_cycle`'s `history.range_test`), and otherwise a shaded
        band from the peak of a long cycle to that of a short one. A range test that cannot choose
        (`CannotChooseError`) is plotted without marks, its title saying so.

        Args:
            set: `"train"` or `"valid"`. Defaults to `"train"`.
            x_scale: matplotlib scale of the lr axis. Defaults to `"log"`.
            y_scale: matplotlib scale of the loss axis. Defaults to `"linear"`.
            ma: A Python bool: draw a trailing moving average of `window` steps. Defaults to True.
            window: A Python int >= 1. Defaults to 5.
            mark: A learning rate > 0 to mark with a vertical line instead of the one-cycle peak, e.g.
                `result.suggest("valley")` for a constant rate. Defaults to None.
            mark_label: Its legend label. Defaults to "one-cycle peak ..." or "suggested lr ...".
            total_steps: A Python int >= 1: the length of the cycle whose peak is marked (see
                `choose_one_cycle`), or None. Defaults to None.
        """
        from keras_one_cycle_clr import plot

        losses = self.losses(set)
        ma = _checks.check_bool("ma", ma)
        if total_steps is not None:
            total_steps = _checks.check_count("total_steps", total_steps)
        labels = list(self.sweep_labels)
        span = None
        title = None
        if mark is None:
            try:
                choice = self._plotted_choice(total_steps)
            except CannotChooseError:
                choice, title = None, "Learning-rate range test (no one-cycle choice: see choose_one_cycle)"
            if choice is not None:
                labels = self._weight_decay_labels(choice)
                wd = "" if choice.weight_decay is None else f", wd {choice.weight_decay:g}"
                if choice.total_steps is not None:
                    mark = choice.peak
                    trained = "trained, " if choice is self.one_cycle_choice and total_steps is None else ""
                    mark_label = (
                        mark_label
                        or f"one-cycle peak {choice.peak:.3g} ({trained}{choice.total_steps} steps{wd})"
                    )
                else:
                    short, long = (self.choose_one_cycle(total_steps=t).peak for t in (1, BUDGET_MAX_STEPS))
                    span = (
                        long,
                        short,
                        f"one-cycle peak by cycle length: {short:.3g} (short) to {long:.3g} "
                        f"({BUDGET_MAX_STEPS}+ steps){wd}; pass total_steps",
                    )
        else:
            mark = _checks.check_positive("mark", mark)
        return plot.plot_range_test(
            self.lr,
            losses,
            labels,
            suggestion=mark,
            suggestion_label=mark_label,
            window=_checks.check_count("window", window) if ma else None,
            x_scale=x_scale,
            y_scale=y_scale,
            ylabel="validation loss" if set == "valid" else "training loss",
            span=span,
            title=title,
        )

    def _plotted_choice(self, total_steps):
        """The choice a plot marks: for `total_steps`, else the one a cycle trained with, else one
        for an unknown length (its weight decay; the plot shows its peak as a band)."""
        if total_steps is None and self.one_cycle_choice is not None:
            return self.one_cycle_choice
        return self.choose_one_cycle(total_steps=total_steps)

    def _weight_decay_labels(self, choice):
        """Legend labels saying which weight decay was chosen and why each other one is tied or not."""
        if not self.wd_list:
            return list(self.sweep_labels)
        rule = self._weight_decay_choice(None)
        best = float(np.min(rule.lowest))
        on = " on the validation loss" if rule.set == "valid" else ""
        labels = []
        for j, label in enumerate(self.sweep_labels):
            over = (rule.lowest[j] - best) / abs(best) if best else 0.0
            margin = rule.spread[j] / abs(best) if best else 0.0
            if self.wd_list[j] == choice.weight_decay:
                why = "smallest tied" if len(rule.tied) > 1 else "lowest"
                labels.append(f"{label} (chosen: {why}{on})")
            elif j in rule.tied:
                labels.append(f"{label} (tied: +{over:.0%} within the noise margin {margin:.0%})")
            else:
                labels.append(f"{label} (not tied: +{over:.0%}, beyond the noise margin {margin:.0%})")
        return labels


class PerStepMean:
    """The mean loss of each learning rate's batches, from Keras's running loss mean.

    Keras's running loss is a `Mean` of batch losses weighted by batch size since it was last
    reset; with its sample count, `mean x count` is a running sum. Differences of the sums across
    a learning rate's batches give its sample-weighted mean exactly, also for a short batch.
    Precision: float32 sums, about 1e-7 x (the sum since the reset / the learning rate's own sum),
    relative.

    Example:

    >>> per_step = PerStepMean()
    >>> per_step.add(running_mean=2.0, count=4)   # a batch of 4 at loss 2
    >>> per_step.add(running_mean=1.5, count=8)   # then a batch of 4 at loss 1
    >>> per_step.take()                            # that learning rate's mean
    1.5
    >>> per_step.add(running_mean=1.25, count=12)  # the next learning rate: a batch at 0.75
    >>> per_step.take()
    0.75
    """

    def __init__(self):
        self._mark = (0.0, 0.0)  # (sum, count) of the running mean when last read
        self._piece = (0.0, 0.0)  # (sum, count) of the current learning rate so far

    def restart(self):
        """The running mean restarted (Keras resets it at every epoch's start; so does a sweep)."""
        self._mark = (0.0, 0.0)

    def add(self, running_mean, count):
        """Adds what the running mean gained since the last call to the current learning rate."""
        sums = (running_mean * count, count)
        total, samples = self._piece
        self._piece = (total + sums[0] - self._mark[0], samples + sums[1] - self._mark[1])
        self._mark = sums

    def take(self):
        """The current learning rate's mean loss (NaN without samples); the next one starts."""
        total, samples = self._piece
        self._piece = (0.0, 0.0)
        return total / samples if samples else float("nan")


def _lowest_point_noise(losses):
    """The standard deviation of a smoothed curve's value from one sweep's per-step scatter.

    The scatter is a robust standard deviation of the step-to-step differences over the first half
    of the reached steps (`1.4826 x median |diff| / sqrt(2)`); the debiased exponential smoothing
    of `suggest.smooth` lets through `sqrt((1 - beta) / (1 + beta))` of it at its steady state.
    """
    reached = np.asarray(losses, dtype=np.float64)
    reached = reached[np.isfinite(reached)]
    half = reached[: max(3, len(reached) // 2)]
    if len(half) < 3:
        return math.inf
    scatter = 1.4826 * float(np.median(np.abs(np.diff(half)))) / math.sqrt(2.0)
    return scatter * math.sqrt((1 - _SMOOTHING) / (1 + _SMOOTHING))
