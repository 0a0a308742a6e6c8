"""What runs while a range test sweeps: whether a sweep stops, and each learning rate's mean loss.

`LrRangeTest` feeds these as its batches end; none of it is kept in the result.
"""

from __future__ import annotations

import math

from keras_one_cycle_clr import suggest

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
