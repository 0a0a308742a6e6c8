"""`OneCycle` and `CLR`: callbacks that wire the package's schedules into `model.fit`.

The callbacks resolve how many steps the fit runs, build the schedules from `keras_one_cycle_clr.schedules`
for that length, and install them into the optimizer's compiled step through
`keras_one_cycle_clr.hyperparams`. They keep no step counter of their own: the optimizer's `iterations`
says where the cycle stands. What they add on top is observation: `log` (every `record_frq`
iterations), `log_ep` (every epoch) and `learning_rate` / `momentum` in the epoch logs.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings

import keras
import numpy as np

from keras_one_cycle_clr import _checks, _data, _fit_callbacks, hyperparams, schedules
from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr._in_step_callback import InStepCallback
from keras_one_cycle_clr._policy_records import PolicyRecords
from keras_one_cycle_clr.range_test import LrRangeTest
from keras_one_cycle_clr.range_test_result import RangeTestResult

# CLR's "cosine" mode rises over this fraction of a cycle by default, as the 2019 library did; the
# paper's triangular modes default to symmetric cycles (0.5).
COSINE_PHASE_ONE_FRACTION = 0.3


@dataclasses.dataclass(frozen=True)
class _Cycle:
    """Where a cycle lies on the optimizer's step counter. It outlives a fit when
    `reset_on_train_begin=False`; the optimizer's `iterations` says where training stands in it."""

    updates: int  # its length, in optimizer updates
    batches_per_update: int = 1  # the optimizer's gradient_accumulation_steps, or 1
    start_batch: int | None = None  # the optimizer's raw step (batches) at its start; set at install

    @property
    def batches(self):
        return self.updates * self.batches_per_update


@dataclasses.dataclass(frozen=True)
class _FitSpan:
    """Where one fit begins in its cycle."""

    first_epoch: int  # the fit's first epoch (`initial_epoch`)
    start_batch: int  # batches into the cycle when the fit began
    batches_per_epoch: int

    def epoch_start(self, epoch):
        """Batches into the cycle when `epoch` begins."""
        return self.start_batch + (epoch - self.first_epoch) * self.batches_per_epoch


class _PolicyCallback(InStepCallback):
    """What OneCycle and CLR share: step resolution, installation, recording.

    Its nineteen methods are Keras's six hooks, the 2019 library's public members (`schedule_values`,
    `test_run`, `cycle_updates`, `log`, `log_ep`), the three a subclass fills in (`_build_schedules`,
    `_rise_end_batch`, `_label`) and five helpers of the hooks; the lifecycle it shares with the range
    test is `InStepCallback`'s, its records are `PolicyRecords`, the cycle's place a `_Cycle`.
    """

    # The batch-end hook only records what it is given; every state change happens in begin hooks,
    # so Keras may dispatch batch ends on its background thread.
    async_safe = True

    def __init__(self, momentum_range, reset_on_train_begin, record_frq, verbose):
        super().__init__()
        self.momentum_range = _checks.check_momentum_range("momentum_range", momentum_range)
        self.reset_on_train_begin = _checks.check_bool("reset_on_train_begin", reset_on_train_begin)
        self.record_frq = _checks.check_count("record_frq", record_frq)
        self.verbose = bool(verbose)
        self._records = PolicyRecords(self.record_frq)
        self._cycle = None  # _Cycle: decided by on_train_begin, placed by the first install
        self._fit = None  # _FitSpan: this fit's, set when its first epoch begins
        self._momentum_attribute = None  # "momentum", "beta_1" or None
        # This epoch: what the batch hooks compare with, worked out once per epoch.
        self._epoch_start_batch = None  # batches into the cycle at this epoch's start
        self._stop_batch = None  # from this batch index on, the cycle ends within the execution
        self._early_stopping = []  # the fit's EarlyStopping callbacks, until the first epoch begins

    # -- schedules -------------------------------------------------------------------------------
    def _build_schedules(self, total_steps):
        """{"lr": schedule, "momentum": schedule or None} for a cycle of `total_steps` steps."""
        raise NotImplementedError

    def schedule_values(self, n_iter):
        """The learning rate and momentum that training applies at steps `0 .. n_iter - 1`.

        Args:
            n_iter: A Python int. The total number of training steps (epochs x steps per epoch).

        Returns:
            `{"lr": np.ndarray, "momentum": np.ndarray or None}`, each of shape `(n_iter,)`.
        """
        n_iter = _checks.check_count("n_iter", n_iter)
        built = self._build_schedules(n_iter)
        return {
            "lr": schedules.evaluate(built["lr"], n_iter),
            "momentum": None if built["momentum"] is None else schedules.evaluate(built["momentum"], n_iter),
        }

    def test_run(self, n_iter=None):
        """Plots the learning rate (and momentum) against the iteration; returns the Figure, titled
        with the policy and its ranges.

        Args:
            n_iter: A Python int. The number of iterations to show. Defaults to the length of the last
                fit's cycle, or 1000 before any fit.
        """
        from keras_one_cycle_clr import plot

        if n_iter is None:
            n_iter = self.cycle_updates or 1000
        return plot.plot_schedule(self.schedule_values(n_iter), title=self._title())

    def _label(self):
        return type(self).__name__

    def _title(self):
        low, high = self.lr_range
        title = f"{self._label()}: lr {low:g} to {high:g}"  # the axis shows the iterations
        if self.momentum_range is not None:
            title += f", momentum {self.momentum_range[0]:g} to {self.momentum_range[1]:g}"
        return title

    @property
    def cycle_updates(self):
        """The cycle's length in optimizer updates (batches, without gradient accumulation), as the
        latest `fit` decided it; None before any fit."""
        return None if self._cycle is None else self._cycle.updates

    # -- records ---------------------------------------------------------------------------------
    @property
    def log(self):
        """Per-iteration records, every `record_frq` iterations: `{"iter": [...], "lr": [...], ...}`.

        Metric values are those Keras reports at the end of that batch (running means over the epoch).
        """
        return self._records.table()

    @property
    def log_ep(self):
        """Per-epoch records: `{"epoch": [...], "lr": [...], "momentum": [...], "loss": [...], ...}`."""
        return self._records.by_epoch

    def _values_at(self, cycle_batch):
        """`{"lr": ..., "momentum": ...}` at `cycle_batch` batches into the cycle: the values the
        optimizer's step computes there (an update's value holds for its batches)."""
        values = self._injection.values_at(self._cycle.start_batch + cycle_batch)
        record = {"lr": values["learning_rate"]}
        if self._momentum_attribute is not None:
            record["momentum"] = values[self._momentum_attribute]
        return record

    # -- Keras hooks -----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if not self.params or self.model is None:
            msg = (
                f"{type(self).__name__} needs `set_model(model)` and `set_params({{'epochs': ..., "
                "'steps': ...})` before its hooks, as `fit` calls them: call those first in a loop of "
                "your own."
            )
            raise RuntimeError(msg)
        # Before anything else: the first of ours in the list raises before any of ours acts.
        others = self._begin_fit()
        self._early_stopping = [other for other in others if isinstance(other, keras.callbacks.EarlyStopping)]
        batches_per_epoch = self._batches_per_epoch
        if batches_per_epoch is None:
            msg = (
                f"{type(self).__name__} needs the number of batches per epoch, which Keras does not "
                "know for this input. Pass `steps_per_epoch` to `model.fit`."
            )
            raise ValueError(msg)
        optimizer = self.model.optimizer
        self._momentum_attribute = (
            None if self.momentum_range is None else hyperparams.momentum_attribute(optimizer)
        )
        # With gradient accumulation the schedule advances once per applied update.
        batches_per_update = int(hyperparams.innermost_optimizer(optimizer).gradient_accumulation_steps or 1)
        if self.reset_on_train_begin or self._cycle is None:
            updates = self.params["epochs"] * batches_per_epoch // batches_per_update
            if updates < 1:
                msg = (
                    f"{type(self).__name__} needs at least one optimizer update, but this fit runs "
                    f"{self.params['epochs'] * batches_per_epoch} batches with gradient_accumulation_steps="
                    f"{batches_per_update}."
                )
                raise ValueError(msg)
            self._cycle = _Cycle(updates, batches_per_update)
            self._records.clear()
        else:
            self._cycle = dataclasses.replace(self._cycle, batches_per_update=batches_per_update)
            if self._cycle.start_batch is not None:
                done = hyperparams.raw_step(optimizer) - self._cycle.start_batch
                if done >= self._cycle.batches:
                    msg = (
                        f"This {type(self).__name__} callback's cycle of {self._cycle.updates} steps "
                        f"has ended ({done} steps run). Use a new callback, or "
                        "reset_on_train_begin=True, to train another cycle."
                    )
                    raise ValueError(msg)
        self._fit = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._fit is None:
            self._install(epoch)
        # The batch hooks run every step: they only compare with what is worked out here.
        self._epoch_start_batch = self._fit.epoch_start(epoch)
        # The batch of this epoch at which the cycle ends. An execution never runs past its epoch's
        # end, so with steps_per_execution above the epoch's batches, one that would reach the
        # cycle's end in a later epoch must not stop the fit.
        cycle_end = self._cycle.batches - self._epoch_start_batch
        if cycle_end <= self._batches_per_epoch:
            self._stop_batch = cycle_end - self._batches_per_execution
        else:
            self._stop_batch = math.inf

    def _install(self, epoch):
        # The first epoch of this fit: the counter tells where training stands, also after a resume
        # with `initial_epoch`. Installing here, before the first step, lets the trace see it all.
        if self._cycle is None:
            msg = f"{type(self).__name__}.on_train_begin must run before its other hooks, as in `fit`."
            raise RuntimeError(msg)
        raw_step = hyperparams.raw_step(self.model.optimizer)
        if self._cycle.start_batch is None:
            self._cycle = dataclasses.replace(
                self._cycle, start_batch=raw_step - epoch * self._batches_per_epoch
            )
        self._fit = _FitSpan(epoch, raw_step - self._cycle.start_batch, self._batches_per_epoch)
        built = self._build_schedules(self._cycle.updates)
        scheduled = {"learning_rate": built["lr"]}
        if self._momentum_attribute is not None:
            scheduled[self._momentum_attribute] = built["momentum"]
        self._install_schedules(scheduled, start_step=self._cycle.start_batch)
        early_stopping, self._early_stopping = self._early_stopping, []
        for callback in early_stopping:
            _warn_if_stopped_early(self, callback, epoch)

    def _rise_end_batch(self):
        """The batch into the cycle at which the learning rate stops rising for the first time, if
        stopping before it defeats the policy; else None."""
        return None

    def _require_epoch(self, hook):
        if self._stop_batch is None:
            msg = (
                f"{type(self).__name__}.{hook} needs on_train_begin and on_epoch_begin to have run "
                "first, as `fit` calls them: call those first in a loop of your own (and "
                "on_train_end last, which removes the schedules from the optimizer)."
            )
            raise RuntimeError(msg)

    def on_train_batch_begin(self, batch, logs=None):
        self._require_epoch("on_train_batch_begin")
        self._guard_batch_begin(batch)
        if batch >= self._stop_batch:  # the cycle ends within this execution
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self._require_epoch("on_train_batch_end")
        self._guard_batch_end(batch)
        # With steps_per_execution, Keras reports the end of a short last chunk past the epoch's end.
        batch = compat.batch_end_step(batch, self._batches_per_execution)
        end = self._epoch_start_batch + min(batch, self._batches_per_epoch - 1)
        self._records.add_batch_end(end, self._batches_per_execution, self._values_at, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._require_epoch("on_epoch_end")
        self._guard_epoch_end()
        last_batch = hyperparams.raw_step(self.model.optimizer) - 1 - self._cycle.start_batch
        values = self._values_at(last_batch)
        if logs is not None:
            logs["learning_rate"] = values["lr"]
            if "momentum" in values:
                logs["momentum"] = values["momentum"]
        self._records.add_epoch_end(epoch, values, logs)
        if self.verbose:
            shown = f"learning rate {values['lr']:.4g}"
            if "momentum" in values:
                shown += f", momentum {values['momentum']:.4g}"
            _fit_callbacks.print_message(
                self, f"Epoch {epoch + 1}/{self.params['epochs']}: {type(self).__name__} {shown}"
            )

    def on_train_end(self, logs=None):
        self._remove_schedules()  # the model gets its own train function back
        self._stop_batch = None
        self._early_stopping = []


def _warn_if_stopped_early(policy, early_stopping, first_epoch):
    """Warns when `early_stopping` can stop the fit while `policy` still raises the learning rate."""
    rise_end = policy._rise_end_batch()
    if rise_end is None:
        return
    epochs = policy.params["epochs"]

    def batches_done_after(epoch):  # into the cycle, at the end of `epoch`
        return policy._fit.epoch_start(epoch + 1)

    earliest = compat.earliest_early_stop(early_stopping, first_epoch)
    if earliest >= epochs - 1 or batches_done_after(earliest) >= rise_end:
        return
    rise_end_epoch = next(
        (e for e in range(first_epoch, epochs) if batches_done_after(e) >= rise_end), epochs - 1
    )
    warnings.warn(
        f"EarlyStopping(patience={early_stopping.patience}, "
        f"start_from_epoch={early_stopping.start_from_epoch}) can stop this fit after epoch "
        f"{earliest + 1}, while {type(policy).__name__} is still raising the learning rate (until "
        f"epoch {rise_end_epoch + 1} of {epochs}): training would then end at a high learning "
        "rate, without the annealing that one cycle trains for. Pass "
        f"EarlyStopping(start_from_epoch={rise_end_epoch}) or more (Keras counts it from 0).",
        stacklevel=2,
    )


class OneCycle(_PolicyCallback):
    """The one-cycle policy as a callback: one `fit` call is one cycle.

    The learning rate rises from `lr_range[0]` to `lr_range[1]` over the first
    `phase_one_fraction` of the fit's steps (epochs x steps per epoch), then anneals to `final_lr`;
    momentum (`momentum` of SGD and RMSprop, `beta_1` of the Adam family) goes the other way,
    `momentum_range[0] -> [1] -> [0]`. Both are computed inside the compiled train step from the
    optimizer's step counter, on every backend. Training stops when the cycle ends.

    `anneal="linear"` and `three_phase=True` follow `torch.optim.lr_scheduler.OneCycleLR`: with
    `lr_range=(max_lr / div_factor, max_lr)`, `final_lr=max_lr / div_factor / final_div_factor`,
    `phase_one_fraction=pct_start` and `momentum_range=(max_momentum, base_momentum)`, both give the
    same learning rate and momentum at every step.

    Example:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    >>> ocp = kclr.OneCycle(lr_range=(0.01, 0.1), momentum_range=(0.95, 0.85))
    >>> history = model.fit(np.ones((64, 4)), np.ones((64, 1)), epochs=2, callbacks=[ocp], verbose=0)
    >>> sorted(k for k in history.history if k != "loss")
    ['learning_rate', 'momentum']

    How long the cycle is. The cycle is `epochs x steps per epoch` steps, `epochs` being `fit`'s
    argument, which Keras counts from epoch 0 whatever `initial_epoch` is: a model reloaded from a
    mid-cycle checkpoint resumes with `fit(epochs=20, initial_epoch=12)` and a new callback, which
    runs epochs 12 to 19 of a 20-epoch cycle. With `reset_on_train_begin=True` (the default) every
    `fit` decides its cycle so. With `reset_on_train_begin=False` only the first `fit` does: later
    fits continue that cycle from where the optimizer's step counter stands, whatever their `epochs`
    and `initial_epoch`, stop when it ends, and raise if it has ended before they start. So
    `fit(epochs=2)` then `fit(epochs=4, initial_epoch=2)` is one cycle of 2 epochs, which the first
    fit finishes; to split a 4-epoch cycle over two fits, give the first one `epochs=4` and stop it
    after 2:

    >>> x, y = np.ones((64, 4)), np.ones((64, 1))  # 2 batches of 32 per epoch
    >>> ocp = kclr.OneCycle((0.01, 0.1), reset_on_train_begin=False)
    >>> _ = model.fit(x, y, epochs=2, callbacks=[ocp], verbose=0)
    >>> ocp.cycle_updates  # decided by the first fit: 2 epochs x 2 batches
    4
    >>> model.fit(x, y, epochs=4, initial_epoch=2, callbacks=[ocp], verbose=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: This OneCycle callback's cycle of 4 steps has ended (4 steps run). ...
    >>> ocp = kclr.OneCycle((0.01, 0.1), reset_on_train_begin=False)
    >>> stop = keras.callbacks.LambdaCallback(
    ...     on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", epoch == 1))
    >>> _ = model.fit(x, y, epochs=4, callbacks=[ocp, stop], verbose=0)  # the first half of 8 steps
    >>> history = model.fit(x, y, epochs=4, initial_epoch=2, callbacks=[ocp], verbose=0)
    >>> ocp.cycle_updates, history.epoch, round(history.history["learning_rate"][-1], 6)
    (8, [2, 3], 0.0)

    With other callbacks: one that also sets the learning rate in the same `fit`
    (`LearningRateScheduler`, `ReduceLROnPlateau`, another `OneCycle`, `CLR` or `LrRangeTest`) is
    refused when `fit` starts, since its values would be overwritten at the next step; a callback
    of your own that assigns `optimizer.learning_rate` mid-fit is overwritten likewise, silently. An
    `EarlyStopping` that can stop the fit while the learning rate still rises is warned about; see
    `start_from_epoch` there, and the page "With other callbacks and loops" of the docs.

    Args:
        lr_range: A pair of Python floats `(start, peak)`, `0 < start < peak`.
        momentum_range: A pair of Python floats in [0, 1) `(start, low)`: the momentum at the start
            and at the peak learning rate: unlike `lr_range`, normally the larger value first. A pair
            with the smaller first is taken as given, without a warning: momentum then rises with the
            learning rate, the opposite of the paper's cyclical momentum. None to leave momentum
            alone. Defaults to None.
        phase_one_fraction: A Python float in (0, 1) (below 0.5 with `three_phase`): the fraction of
            the cycle spent rising. Defaults to 0.3.
        reset_on_train_begin: A Python bool. True: every `fit` call is a new cycle. False: the first
            `fit` decides the cycle; later ones continue it where the previous one stopped (see
            above). Defaults to True.
        record_frq: A Python int >= 1. Record into `log` every this many iterations. Defaults to 10.
        verbose: Print the learning rate and momentum at the end of every epoch, as Keras's own
            callbacks print (`Epoch 3/20: OneCycle learning rate 0.0812, momentum 0.8624`).
            Defaults to False.
        final_lr: A Python float >= 0. The learning rate at the end of the cycle. Defaults to 0.0.
        anneal: `"cos"` or `"linear"`. Defaults to `"cos"`.
        three_phase: A Python bool: PyTorch's three-phase variant. Defaults to False.

    Raises:
        ValueError, TypeError: for an argument outside the ranges above, at construction; at the
            start of `fit`, before any training step, for an input of unknown length without
            `steps_per_epoch`, an optimizer without momentum buffers (`SGD(momentum=0.0)`) given a
            `momentum_range`, another callback of the same `fit` that sets the learning rate, or,
            with `reset_on_train_begin=False`, a cycle that has ended.
        RuntimeError: for hooks called by hand out of `fit`'s order.
    """

    def __init__(
        self,
        lr_range,
        momentum_range=None,
        phase_one_fraction=0.3,
        reset_on_train_begin=True,
        record_frq=10,
        verbose=False,
        *,
        final_lr=0.0,
        anneal="cos",
        three_phase=False,
    ):
        super().__init__(momentum_range, reset_on_train_begin, record_frq, verbose)
        self.lr_range = _checks.check_lr_range("lr_range", lr_range)
        self.final_lr = _checks.check_number("final_lr", final_lr, low=0.0)
        self.anneal = _checks.check_choice("anneal", anneal, schedules.ANNEALS)
        self.three_phase = _checks.check_bool("three_phase", three_phase)
        self.phase_one_fraction = _checks.check_rise_fraction(
            "phase_one_fraction", phase_one_fraction, self.three_phase
        )
        # From `from_range_test`: the range test's choice, made again for each cycle's length.
        self.one_cycle_choice = None
        self._range_test = None  # (result, set, div_factor) while the peak follows the length

    @classmethod
    def from_range_test(cls, lrrt, divisor=None, div_factor=25.0, set=None, **kwargs):
        """A OneCycle whose `lr_range` a finished range test chooses.

        The peak is `lrrt.choose_one_cycle(divisor, set, total_steps).peak` (see
        `RangeTestResult.choose_one_cycle`: the learning rate at the lowest smoothed loss divided by
        `divisor`), and the cycle starts at `peak / div_factor`. With `divisor=None` the divisor
        grows with the cycle's length (`one_cycle_divisor`), which `fit` decides: the peak is then
        chosen again whenever a cycle is built (at the start of each `fit`, and by
        `schedule_values(n_iter)` for `n_iter` steps), and `lr_range` and `one_cycle_choice` hold
        the latest choice; before any, the choice for an unknown length (divisor 4). Use the same
        choice's `weight_decay` as the optimizer's, or let `fit_one_cycle` do all of it.

        Example:

        >>> import keras, numpy as np
        >>> import keras_one_cycle_clr as kclr
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
        >>> x, y = np.random.rand(256, 4), np.random.rand(256, 1)
        >>> lrrt = kclr.lr_find(model, x, y, lr_range=(1e-4, 10), steps=40)
        >>> ocp = kclr.OneCycle.from_range_test(lrrt, momentum_range=(0.95, 0.85))
        >>> _ = model.fit(x, y, epochs=5, callbacks=[ocp], verbose=0)  # 5 x 8 batches of 32
        >>> ocp.lr_range[1] == lrrt.choose_one_cycle(total_steps=40).peak
        True
        >>> ocp.one_cycle_choice.total_steps
        40

        Args:
            lrrt: What a finished range test found: `lr_find`'s `RangeTestResult`, or an
                `LrRangeTest` that ran in a `fit`.
            divisor: A Python float >= 1, or None for the divisor of the cycle's length
                (`one_cycle_divisor`). Defaults to None.
            div_factor: A Python float > 1: the start of the cycle is `peak / div_factor`. Defaults
                to 25, PyTorch's `OneCycleLR` default.
            set: `"train"`, `"valid"` or None: the loss that chooses the weight decay (None: the
                validation loss when there is some). Defaults to None.
            **kwargs: The other arguments of `OneCycle`.

        Returns:
            A `OneCycle`.

        Raises:
            ValueError, TypeError: for an `lrrt` that is not a finished range test, or an argument
                outside the ranges above.
        """
        if isinstance(lrrt, LrRangeTest):
            lrrt = lrrt.result
        if not isinstance(lrrt, RangeTestResult):
            _checks.fail("lrrt", "an LrRangeTest or the RangeTestResult of lr_find", lrrt, TypeError)
        if lrrt.loss is None:
            _checks.fail("lrrt", "a range test that has run (lr_find, or a fit with it as a callback)", lrrt)
        div_factor = _checks.check_number("div_factor", div_factor, low=1.0, low_inclusive=False)
        if set is not None:
            _checks.check_choice("set", set, ("train", "valid"))
        choice = lrrt.choose_one_cycle(divisor, set)
        one_cycle = cls(lr_range=(choice.peak / div_factor, choice.peak), **kwargs)
        one_cycle.one_cycle_choice = choice
        if divisor is None:
            one_cycle._range_test = (lrrt, set, div_factor)
        return one_cycle

    def _build_schedules(self, total_steps):
        if self._range_test is not None:  # the peak follows the cycle's length
            result, set, div_factor = self._range_test
            self.one_cycle_choice = result.choose_one_cycle(None, set, total_steps=total_steps)
            self.lr_range = (self.one_cycle_choice.peak / div_factor, self.one_cycle_choice.peak)
        shape = {
            "total_steps": total_steps,
            "pct_start": self.phase_one_fraction,
            "anneal": self.anneal,
            "three_phase": self.three_phase,
        }
        lr = schedules.OneCycleSchedule(*self.lr_range, self.final_lr, **shape)
        momentum = None
        if self.momentum_range is not None:
            start, low = self.momentum_range
            momentum = schedules.OneCycleSchedule(start, low, start, **shape)
        return {"lr": lr, "momentum": momentum}

    def _rise_end_batch(self):
        # The first phase: what an EarlyStopping stopping inside it would cut short.
        return self.phase_one_fraction * self._cycle.batches


class CLR(_PolicyCallback):
    """Cyclical learning rates as a callback: `cyc` cycles over the steps of one `fit` call.

    Every cycle rises from `lr_range[0]` to `lr_range[1]` over its first `phase_one_fraction` and
    falls back; momentum goes the other way. `mode="cosine"` is the 2019 library's shape, with
    `amplitude_fn(cycle_index)` scaling each cycle's height, rising over the first 30% of a cycle by
    default; `"triangular"`, `"triangular2"` and `"exp_range"` (with `gamma`) are the CLR paper's
    (https://arxiv.org/abs/1506.01186), symmetric by default (`phase_one_fraction=0.5`), as in the
    paper and in `torch.optim.lr_scheduler.CyclicLR`, which they then match with
    `step_size_up = total_steps / (2 * cyc)`.

    Example:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> clr = kclr.CLR(cyc=3, lr_range=(1e-2 / 5, 1e-2), momentum_range=(0.95, 0.85),
    ...                amplitude_fn=lambda x: np.power(1.0 / 3, x))
    >>> values = clr.schedule_values(600)  # new cycles start at iterations 0, 200 and 400
    >>> [round(float(values["lr"][i]), 4) for i in (0, 200, 400)]
    [0.002, 0.002, 0.002]
    >>> kclr.CLR(3, (0.002, 0.01), mode="triangular2").phase_one_fraction  # symmetric by default
    0.5

    Args:
        cyc: A Python int >= 1. The number of cycles in one fit.
        lr_range: A pair of Python floats `(base, peak)`, `0 < base < peak`.
        momentum_range: A pair of Python floats in [0, 1) `(start, low)`: the momentum at each
            cycle's start and at its peak learning rate, normally the larger first; a pair with the
            smaller first is taken as given, without a warning (momentum then rises with the
            learning rate). None to leave momentum alone. Defaults to None.
        phase_one_fraction: A Python float in (0, 1): the rising fraction of each cycle, or None
            for the mode's own: 0.3 for `"cosine"` (the 2019 default), 0.5 for `"triangular"`,
            `"triangular2"` and `"exp_range"` (symmetric triangles). Defaults to None.
        amplitude_fn: A callable taking the cycle index (0, 1, ...) and returning a float >= 0 that
            scales that cycle's height, or None. Only with `"cosine"` and `"triangular"`. It is
            called once per cycle when the callback is created. Defaults to None.
        reset_on_train_begin: A Python bool. Defaults to True.
        record_frq: A Python int >= 1. Defaults to 10.
        verbose: Defaults to False.
        mode: One of `"cosine"`, `"triangular"`, `"triangular2"`, `"exp_range"`. Defaults to
            `"cosine"`.
        gamma: A Python float in (0, 1]: the per-step decay of `"exp_range"`. Defaults to 1.0.

    Raises:
        ValueError, TypeError: for an argument outside the ranges above.
    """

    def __init__(
        self,
        cyc,
        lr_range,
        momentum_range=None,
        phase_one_fraction=None,
        amplitude_fn=None,
        reset_on_train_begin=True,
        record_frq=10,
        verbose=False,
        *,
        mode="cosine",
        gamma=1.0,
    ):
        super().__init__(momentum_range, reset_on_train_begin, record_frq, verbose)
        self.cyc = _checks.check_count("cyc", cyc)
        self.lr_range = _checks.check_lr_range("lr_range", lr_range)
        self.mode = _checks.check_choice("mode", mode, schedules.CYCLIC_MODES)
        if phase_one_fraction is None:
            phase_one_fraction = COSINE_PHASE_ONE_FRACTION if mode == "cosine" else 0.5
        self.phase_one_fraction = _checks.check_fraction("phase_one_fraction", phase_one_fraction)
        self.gamma = _checks.check_number("gamma", gamma, low=0.0, high=1.0, low_inclusive=False)
        if amplitude_fn is not None and (not callable(amplitude_fn) or not _takes_one_argument(amplitude_fn)):
            _checks.fail("amplitude_fn", "a callable f(cycle_index) -> float", amplitude_fn, TypeError)
        if amplitude_fn is not None and self.mode in schedules.MODES_WITH_OWN_AMPLITUDE:
            _checks.fail("amplitude_fn", f"None with mode={mode!r} (it sets the amplitude)", amplitude_fn)
        self.amplitude_fn = amplitude_fn
        self._amplitudes = None
        if amplitude_fn is not None:
            self._amplitudes = [
                _checks.check_number(f"amplitude_fn({i})", _as_float(amplitude_fn(i)), low=0.0)
                for i in range(self.cyc)
            ]

    def _label(self):
        return f"CLR ({self.cyc} cycle{'s' if self.cyc > 1 else ''}, {self.mode})"

    def _build_schedules(self, total_steps):
        shape = {
            "cycle_steps": total_steps / self.cyc,
            "pct_up": self.phase_one_fraction,
            "mode": self.mode,
            "gamma": self.gamma,
            "amplitudes": self._amplitudes,
        }
        lr = schedules.CyclicSchedule(*self.lr_range, **shape)
        momentum = None
        if self.momentum_range is not None:
            momentum = schedules.CyclicSchedule(*self.momentum_range, **shape)
        return {"lr": lr, "momentum": momentum}

    def find_n_epoch(self, dataset, batch_size=None):
        """The fewest epochs for which every one of the `cyc` cycles spans whole epochs: `cyc`.

        The fit's `epochs` set the cycle length (`epochs / cyc` epochs per cycle); any multiple of the
        value returned keeps cycle boundaries on epoch boundaries. `dataset` (NumPy arrays with
        `batch_size`, `PyDataset`, `tf.data.Dataset`, torch `DataLoader`) is checked to have a known
        number of batches, which the callback needs.
        """
        _data.steps_per_epoch(dataset, batch_size)
        return self.cyc


def _takes_one_argument(function):
    try:
        inspect.signature(function).bind(0)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): let the call itself tell
        return True
    return True


def _as_float(value):
    array = np.asarray(value)
    return float(array) if array.shape == () and np.issubdtype(array.dtype, np.number) else value
