"""When an exponential warm-up should turn: a pure function of the losses it has seen.

No Keras here: `WarmupWatch` is fed `(learning_rate, loss)` in the order training saw them, while the
learning rate rises geometrically, and says when the rise should stop and at which learning rate the
cycle should peak. `AdaptiveOneCycle` (`keras_one_cycle_clr.adaptive`) wires it into `fit`.

The rule (after AutoWU, Kim et al. 2021, https://arxiv.org/abs/2107.05855, with two changes a probe
on short budgets needed: issue 23):

1. The loss is averaged over a centred window of `2 * half_width + 1` observations: its value at an
   observation is known `half_width` observations later, without the lag of an exponential average,
   whose minimum sits 2-4x in learning rate past the loss's.
2. The warm-up turns at the first of: a loss that is not finite; the centred loss risen beyond noise
   above its minimum (`RISE_SIGMAS` standard deviations of a centred mean, and `RISE_FRACTION` of
   the minimum); no new minimum while the learning rate grew `patience_factor`-fold. While the
   minimum's learning rate is below `min_peak`, patience does not turn it and a rise must reach
   `DIVERGENCE_FACTOR` times the minimum: at rates too small to move the loss, a noisy flat curve has
   minima anywhere. With `learned_fraction`, the same holds until the centred loss has fallen below
   `learned_fraction` of its first centred window: a plateau before the loss starts falling does not
   turn the warm-up.
3. The peak is the learning rate at the centred loss's minimum, times `peak_factor`, and at least
   `min_peak`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from keras_one_cycle_clr import _checks

RISE_SIGMAS = 3.0
RISE_FRACTION = 0.05
# Below `min_peak`, a rise turns the warm-up only when the centred loss is this many times its minimum:
# on 39 tasks the first version (any rise beyond noise) turned 7 warm-ups within their first 25
# updates, at rates too small to have moved the loss, and lost 2-70 points there (issue 23).
DIVERGENCE_FACTOR = 2.0


@dataclasses.dataclass(frozen=True)
class Turn:
    """Where a warm-up turned and why.

    Attributes:
        index: The observation at which the watch turned (0-based).
        best_index: The observation at the centre of the lowest centred window.
        best_learning_rate: The learning rate there.
        peak: `best_learning_rate x peak_factor`, at least `min_peak`: where the cycle should peak.
        reason: One sentence saying why it turned.
    """

    index: int
    best_index: int
    best_learning_rate: float
    peak: float
    reason: str


class WarmupWatch:
    """Watches a warm-up's losses; `add` says when to turn and `turn` says where.

    Example:

    >>> import numpy as np
    >>> lrs = np.geomspace(1e-4, 1.0, 200)
    >>> losses = 1 + (np.log10(lrs) + 2) ** 2 / 4 + np.random.default_rng(0).normal(0, 0.01, 200)
    >>> watch = WarmupWatch(half_width=5, patience_factor=3.0, min_peak=1e-3)
    >>> turned = next(i for i, (lr, loss) in enumerate(zip(lrs, losses)) if watch.add(lr, loss))
    >>> 0.005 < watch.turn.peak < 0.02  # the loss's minimum is at lr 0.01
    True

    Args:
        half_width: A Python int >= 1: the centred window holds `2 * half_width + 1` observations.
        patience_factor: A Python float > 1: turn when the learning rate has grown this many times
            since the centred loss's minimum without a new one.
        min_peak: A Python float > 0: the smallest peak, and the smallest minimum's learning rate at
            which patience may turn.
        peak_factor: A Python float in (0, 1]: the peak is the minimum's learning rate times this.
            Defaults to 1.
        learned_fraction: A Python float in (0, 1), or None: until the centred loss's minimum is
            below this fraction of the first centred window, only a loss that is not finite or a
            divergence (`DIVERGENCE_FACTOR` times the minimum) turns the warm-up. None: no such
            guard. Defaults to None.
    """

    def __init__(self, half_width, patience_factor, min_peak, peak_factor=1.0, learned_fraction=None):
        self.half_width = _checks.check_count("half_width", half_width)
        self.patience_factor = _checks.check_number(
            "patience_factor", patience_factor, low=1.0, low_inclusive=False
        )
        self.min_peak = _checks.check_positive("min_peak", min_peak)
        self.peak_factor = _checks.check_number(
            "peak_factor", peak_factor, low=0.0, high=1.0, low_inclusive=False
        )
        if learned_fraction is not None:
            learned_fraction = _checks.check_fraction("learned_fraction", learned_fraction)
        self.learned_fraction = learned_fraction
        self.learning_rates = []
        self.losses = []
        self.turn = None  # a Turn, once turned
        self._best = (math.inf, None)  # (centred loss, its centre's index)
        self._first_centred = None  # the first complete window's mean

    def add(self, learning_rate, loss):
        """Takes the next observation; True when the warm-up should turn here (then see `turn`)."""
        if self.turn is not None:
            return True
        self.learning_rates.append(float(learning_rate))
        self.losses.append(float(loss))
        index = len(self.losses) - 1
        if not math.isfinite(loss):
            return self._turn(index, f"the loss was {loss} at learning rate {learning_rate:.3g}")
        window = 2 * self.half_width + 1
        if len(self.losses) < window:
            return False
        centre = index - self.half_width
        centred = float(np.mean(self.losses[-window:]))
        if self._first_centred is None:
            self._first_centred = centred
        best, best_index = self._best
        if centred < best:
            self._best = (centred, centre)
            return False
        best_lr = self.learning_rates[best_index]
        learning = best_lr >= self.min_peak and self._has_learned(best)
        margin = max(RISE_SIGMAS * self.centred_noise(), RISE_FRACTION * abs(best))
        if not learning:  # at rates this small, or before the loss fell, only a divergence turns
            margin = max(margin, (DIVERGENCE_FACTOR - 1.0) * abs(best))
        if centred > best + margin:
            rise = (centred - best) / abs(best) if best else math.inf
            return self._turn(
                index,
                f"the centred loss rose {rise:.0%} above its minimum, beyond noise (margin {margin:.3g})",
            )
        grown = self.learning_rates[centre] / best_lr
        if learning and grown >= self.patience_factor:
            return self._turn(
                index, f"no new minimum of the centred loss while the learning rate grew {grown:.2g}x"
            )
        return False

    def _has_learned(self, best):
        """Whether the centred loss's minimum `best` is below `learned_fraction` of the first
        window's (always, without the guard, or for a first window that is not positive)."""
        first = self._first_centred
        if self.learned_fraction is None or first is None or first <= 0:
            return True
        return best < self.learned_fraction * first

    @property
    def best_index(self):
        """The observation at the centre of the lowest centred window so far, or None."""
        return self._best[1]

    def centred_noise(self):
        """The standard deviation of a centred mean from the observations' scatter: a robust
        standard deviation of step-to-step differences (`1.4826 x median |diff| / sqrt(2)`) over
        `sqrt(2 * half_width + 1)`."""
        finite = np.asarray(self.losses, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if len(finite) < 3:
            return math.inf
        scatter = 1.4826 * float(np.median(np.abs(np.diff(finite)))) / math.sqrt(2.0)
        return scatter / math.sqrt(2 * self.half_width + 1)

    def _turn(self, index, why):
        best_index = self.best_index
        if best_index is None:  # no complete window yet: the first observation's rate
            best_index = 0
        best_lr = self.learning_rates[best_index]
        peak = max(best_lr * self.peak_factor, self.min_peak)
        if peak > best_lr * self.peak_factor:
            why += f"; the minimum's learning rate {best_lr:.3g} raised to min_peak"
        self.turn = Turn(index, best_index, best_lr, peak, why)
        return True
