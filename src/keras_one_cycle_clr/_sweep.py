"""What runs while a range test sweeps: each learning rate's mean loss and validation loss, whether
a sweep stops, and the progress shown.

`LrRangeTest` feeds these as its batches end; none of it is kept in the result.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from keras_one_cycle_clr import _fit_callbacks, hyperparams, suggest
from keras_one_cycle_clr import _keras_compat as compat

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


class LearningRateMean:
    """The mean loss of each learning rate's batches, from Keras's running loss mean.

    Keras's running loss is a `Mean` of batch losses weighted by batch size since it was last
    reset; with its sample count, `mean x count` is a running sum. Differences of the sums across
    a learning rate's batches give its sample-weighted mean, also for a short batch; the pieces are
    summed in float64. Precision: Keras's float32 sums, about 1e-7 x (the sum since the reset / the
    learning rate's own sum), relative: `RunningLoss` restarts the mean at every learning rate.

    Example:

    >>> means = LearningRateMean()
    >>> means.add(running_mean=2.0, count=4)   # a batch of 4 at loss 2
    >>> means.add(running_mean=1.5, count=8)   # then a batch of 4 at loss 1
    >>> means.take()                            # that learning rate's mean
    1.5
    >>> means.add(running_mean=1.25, count=12)  # the next learning rate: a batch at 0.75
    >>> means.take()
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


class RunningLoss:
    """Each learning rate's mean training loss during a fit, from Keras's running loss mean.

    The running mean is restarted at every learning rate's start (`compat.LossMeanRestart`), as
    Keras restarts it at every epoch's start, so that each read sums one learning rate's batches at
    most: Keras's float32 sums then lose about 1e-7 of that learning rate's own loss, not of the
    losses summed since the epoch began (a loss falling 1e5 across one epoch lost 2% before). The
    pieces of a learning rate whose batches span an epoch's end are summed in float64
    (`LearningRateMean`). The mean comes from `logs`, its sample count from the compiled step (`_LossCount`):
    no read of the model's state, no sync of JAX's.

    Args:
        model: A compiled model during its `fit`.
    """

    def __init__(self, model):
        self._count = _LossCount(model)
        self._restart = compat.LossMeanRestart(model)
        self._mean = LearningRateMean()

    def install(self, patches):
        """Sets up the restarts (on JAX, around the model's train function as it is now)."""
        self._restart.install(patches)

    def epoch_restarted(self):
        """Keras reset its metrics: an epoch begins."""
        self._mean.restart()

    def add(self, logs):
        """Banks the running mean since its last restart: before the epoch ends, or at every batch
        end when the epoch's length is unknown."""
        self._mean.add(float(logs["loss"]), self._count.read())

    def take(self, logs):
        """The mean loss of the learning rate whose last batch ended with `logs`; the next learning
        rate's mean starts from zero."""
        self.add(logs)
        loss = self._mean.take()
        self.restart()
        return loss

    def restart(self):
        """Restarts the running mean (after a Keras call that counted another batch in it, too)."""
        self._restart.request()
        self._mean.restart()


class _LossCount:
    """Reads the sample count of a model's running loss mean (Keras's `Mean` loss tracker).

    With the running mean from `logs`, it gives the running sum of batch loss x batch size. On
    TensorFlow and JAX the compiled step reports it (`hyperparams.last_loss_count`): no read of its
    own, no sync of JAX's state. Elsewhere (PyTorch, tf.distribute, a train function that is not
    ours) the variable is read, on JAX after syncing the trainer's state into it.
    """

    def __init__(self, model):
        self.model = model  # the model itself: a callback's `self.model` syncs JAX's state
        self.variable = compat.loss_tracker_count(model)
        if self.variable is None:
            msg = (
                "LrRangeTest reads the sample count of Keras's running loss mean "
                f"(`model._loss_tracker`, a Mean metric), which this Keras ({keras.__version__}) lacks."
            )
            raise RuntimeError(msg)

    def read(self):
        count = hyperparams.last_loss_count(self.model)
        if count is not None:
            return count
        compat.sync_jax_state(self.model)  # mid-fit the variable lags the trainer's state
        return float(self.variable.numpy())


class SweepValidation:
    """A range test's validation loss at the live weights, per learning rate: the mean loss over the
    samples of the first `batches` batches of `validation_data`, the same ones every time, evaluated
    as one batch.

    Args:
        validation_data: A checked tuple `(x_val, y_val)` of arrays of one length.
        batch_size: A Python int >= 1.
        batches: A Python int >= 1.
    """

    def __init__(self, validation_data, batch_size, batches):
        x_val, y_val = validation_data
        rows = np.concatenate(
            [np.arange(k * batch_size, (k + 1) * batch_size) % len(x_val) for k in range(batches)]
        )
        self.x, self.y = np.asarray(x_val)[rows], np.asarray(y_val)[rows]
        self._model = None
        self._function = None  # the validation loss at the live weights, or None
        self._restart_running_loss = None

    def start(self, model, running_loss):
        """Before a fit's first step. `running_loss` restarts after a validation that counted in it."""
        self._model = model
        self._function = compat.validation_loss_function(model, self.x, self.y)
        self._restart_running_loss = running_loss.restart

    def loss(self):
        """The validation loss at the live weights, as a Python float."""
        if self._function is not None:
            return self._function()
        # Where the live weights cannot be evaluated apart (tf.distribute): Keras's own call, which
        # counts its batch in the running loss mean.
        loss = compat.test_on_batch_loss(self._model, self.x, self.y)
        self._restart_running_loss()
        return loss

    def check_per_learning_rate(self, loss):
        """Once, at the sweep's second learning rate: evaluated again at the same weights, the
        validation loss must be `loss` again. A running mean over earlier evaluations (what
        `test_on_batch` gave before Keras 3.15) moves towards this one and differs."""
        again = self.loss()
        if not np.isclose(again, loss, rtol=1e-5, atol=0.0, equal_nan=True):
            what = (
                "the range test's validation loss is not the loss at the current weights alone: "
                f"evaluated twice at the same weights it gave {loss!r} and then {again!r} (a running "
                "mean over earlier evaluations)"
            )
            raise compat.incompatible(what)


class SweepProgress:
    """With a range test's `verbose`, a line naming each sweep and a progress bar over its learning
    rates with the current learning rate and smoothed loss; without it, nothing.

    Args:
        test: The `LrRangeTest`.
    """

    def __init__(self, test):
        self._test = test
        self._bar = None  # the current sweep's keras.utils.Progbar

    def describe(self, sweep_index):
        """`", weight decay ..."` for a sweep of a weight-decay grid, else `""`."""
        wd_list = self._test.wd_list
        return f", weight decay {wd_list[sweep_index]:g}" if wd_list else ""

    def start(self, sweep_index):
        test = self._test
        if not test.verbose:
            return
        low, high = test.lr_range
        _fit_callbacks.print_message(
            test,
            f"Range test sweep {sweep_index + 1}/{test.n_wd}{self.describe(sweep_index)}: {test.steps} "
            f"learning rates from {low:.3g} to {high:.3g}, {test.batches_per_step} batches each",
        )
        self._bar = keras.utils.Progbar(
            test.steps, stateful_metrics=["lr", "smoothed loss"], unit_name="learning rate"
        )

    def update(self, learning_rates_done, smoothed_loss):
        if self._bar is not None:
            lr = self._test.lr[learning_rates_done - 1]
            self._bar.update(learning_rates_done, [("lr", lr), ("smoothed loss", smoothed_loss)])

    def end(self, learning_rates_done, diverged):
        if self._bar is None:
            return
        self._bar.update(learning_rates_done, finalize=True)
        self._bar = None
        if diverged:
            lr = self._test.lr[learning_rates_done - 1]
            _fit_callbacks.print_message(
                self._test, f"  stopped early at learning rate {lr:.3g}: the loss diverged"
            )
