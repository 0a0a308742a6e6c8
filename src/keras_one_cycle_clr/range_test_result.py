"""What a learning-rate range test found: `RangeTestResult`, its arrays and what is read from them.

No Keras here: a result is its arrays (`lr`, `loss`, `val_loss`, `wd_list`); what it answers comes
from pure functions of them (the suggestion rules of `suggest`, the one-cycle choice of
`one_cycle_choice`, the plot of `plot`), so it can be built from saved arrays and tested without
training.
"""

from __future__ import annotations

import numpy as np

from keras_one_cycle_clr import _checks, suggest
from keras_one_cycle_clr import one_cycle_choice as choice_rules

# Importable from here, as before the choice and the sweep's helpers had modules of their own.
from keras_one_cycle_clr._sweep import LearningRateMean
from keras_one_cycle_clr._sweep import SweepWatch as SweepWatch
from keras_one_cycle_clr.one_cycle_choice import ONE_CYCLE_PEAK_DIVISOR as ONE_CYCLE_PEAK_DIVISOR
from keras_one_cycle_clr.one_cycle_choice import CannotChooseError, OneCycleChoice
from keras_one_cycle_clr.one_cycle_choice import one_cycle_divisor as one_cycle_divisor

PerStepMean = LearningRateMean  # its name before it said what it averages over


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

    # Its twelve methods are the questions the 2019 library's callback answered (`best_wd`,
    # `suggest`, `plot`, ...) plus the one-cycle choice; each reads the arrays and calls the pure
    # functions of `one_cycle_choice`, `suggest` or `plot`, which hold the rules.

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
        rule = choice_rules.weight_decay_choice(self._weight_decay_losses(None), self.wd_list)
        return self.wd_list[rule.column]

    def _weight_decay_losses(self, set):
        """The losses that choose the weight decay: of `set`, by default the validation loss when
        there is some."""
        if set is None:
            set = "valid" if self.val_loss is not None else "train"
        return self.losses(set)

    def choose_one_cycle(self, divisor=None, set=None, total_steps=None):
        """The one-cycle peak and weight decay this range test points to, knowing its noise.

        The rule is `one_cycle_choice.choose_one_cycle`'s: the weight decays whose sweeps' lowest
        smoothed loss are within noise of the best are tied, and the smallest of them is chosen; the
        peak is the learning rate at the lowest point of the chosen sweep's smoothed training loss
        divided by `one_cycle_divisor(total_steps)` (or `divisor`), and with validation losses at
        most where the smoothed validation loss has risen `VALIDATION_RISE` over its minimum.

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

        Raises:
            CannotChooseError: when the curves cannot show a peak (see `one_cycle_choice`).
        """
        if set is not None:
            _checks.check_choice("set", set, ("train", "valid"))
        return choice_rules.choose_one_cycle(
            self.lr,
            self.losses("train"),
            self.wd_list,
            val_loss=self.val_loss,
            wd_loss=self._weight_decay_losses(set),
            divisor=divisor,
            total_steps=total_steps,
        )

    def suggest(self, method="valley", set="train", **rule_kwargs):
        """A learning rate suggested from the smoothed loss of the best weight decay's sweep.

        As in fastai, the rule sees the smoothed loss without its first `len(lr) // 10` and its last
        5 reached learning rates (see `suggest.trim`). A suggestion past the lowest smoothed loss, where the
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
        lrs, smoothed = choice_rules.rules_view(self.lr, losses[:, column])
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
            ma: A Python bool: draw a trailing moving average of `window` learning rates. Defaults to True.
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
                labels = choice_rules.weight_decay_labels(
                    self._weight_decay_losses(None),
                    self.wd_list,
                    self.sweep_labels,
                    choice.weight_decay,
                    on_validation=self.val_loss is not None,
                )
                wd = "" if choice.weight_decay is None else f", wd {choice.weight_decay:g}"
                if choice.total_steps is not None:
                    mark = choice.peak
                    trained = "trained, " if choice is self.one_cycle_choice and total_steps is None else ""
                    mark_label = (
                        mark_label
                        or f"one-cycle peak {choice.peak:.3g} ({trained}{choice.total_steps} steps{wd})"
                    )
                else:
                    longest = choice_rules.BUDGET_MAX_STEPS
                    short, long = (self.choose_one_cycle(total_steps=t).peak for t in (1, longest))
                    span = (
                        long,
                        short,
                        f"one-cycle peak by cycle length: {short:.3g} (short) to {long:.3g} "
                        f"({longest}+ steps){wd}; pass total_steps",
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
