"""`AdaptiveOneCycle`: a one cycle whose warm-up finds its own peak while it trains.

The learning rate rises geometrically from `lr_range[0]` towards the ceiling `lr_range[1]` over at
most `warmup_fraction` of the cycle, momentum falling linearly as it rises. `WarmupWatch` reads the
training loss along the way; when it says the loss no longer falls, the model and its optimizer's
state are rolled back to an in-memory snapshot taken at or before the learning rate it chose as the
peak, and the rest of the cycle anneals from that peak to `final_lr` (cosine), momentum rising back.
The turn is an assignment to the schedules' packed numbers (`ScheduleInjection.set_schedules`): no
retrace. A warm-up that reaches the ceiling without turning peaks there.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
import warnings

import keras

from keras_one_cycle_clr import _checks, _fit_callbacks, hyperparams
from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr._warmup_plan import WarmupPlan
from keras_one_cycle_clr.callbacks import OneCycle
from keras_one_cycle_clr.range_test import TrainingState
from keras_one_cycle_clr.warmup_watch import WarmupWatch

# The centred window spans this factor of learning rate, and snapshots are taken every half of it.
SMOOTHING_FACTOR = 1.25
MIN_HALF_WIDTH = 2  # and at least five observations
CEILING = "the warm-up reached its ceiling"  # the reason of a warm-up that never turned
# Where the warm-up's state goes beside a BackupAndRestore's checkpoint, written at every epoch end.
STATE_FILE = "adaptive_one_cycle.json"
# At most this many snapshots over a whole warm-up (each a copy of the model and optimizer state): the
# rollback lands within 1/50 of the warm-up's learning-rate span (a factor 1.23 over 4.5 decades).
SNAPSHOTS_PER_WARMUP = 50


@dataclasses.dataclass(frozen=True)
class AdaptiveChoice:
    """Where an adaptive warm-up turned, what it chose and what the turn cost.

    Attributes:
        peak: The peak learning rate the cycle annealed from.
        turn_step: The cycle's step (update) after which the warm-up turned.
        best_step: The step at the centre of the lowest centred loss window.
        restored_step: The step of the snapshot the model was rolled back to, or None (no rollback:
            the warm-up reached its ceiling).
        steps_lost: `turn_step + 1 - restored_step`: updates undone by the rollback.
        reason: One sentence saying why it turned where it did.
    """

    peak: float
    turn_step: int
    best_step: int
    restored_step: int | None
    steps_lost: int
    reason: str


class AdaptiveOneCycle(OneCycle):
    """A one cycle whose warm-up keeps rising while the training loss keeps falling (issue 23).

    The warm-up raises the learning rate geometrically from `lr_range[0]` to the ceiling
    `lr_range[1]` over `warmup_fraction` of the cycle; `WarmupWatch` turns it when the centred
    training loss stops falling (see `keras_one_cycle_clr.warmup_watch`), the model is rolled back to
    a snapshot taken at or before the chosen peak (weights and optimizer slots, in memory; the step
    counter keeps counting, so the cycle keeps its length), and the rest of the cycle anneals from the
    peak to `final_lr`. `adaptive_choice` says what it chose and why; `learning_rate` and `momentum`
    in the logs and `schedule_values` show the cycle as it really ran.

    Example:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    >>> x = np.random.default_rng(0).normal(size=(512, 4))
    >>> y = x @ np.ones((4, 1))
    >>> adaptive = kclr.AdaptiveOneCycle(momentum_range=(0.95, 0.85))
    >>> _ = model.fit(x, y, epochs=10, batch_size=16, callbacks=[adaptive], verbose=0)
    >>> adaptive.adaptive_choice.peak < 3.0
    True

    Args:
        lr_range: A pair of Python floats `(start, ceiling)`, `0 < start < ceiling`: the warm-up's
            first learning rate and the highest it may reach. Defaults to (1e-4, 3.0).
        momentum_range: As for `OneCycle`. Defaults to None.
        warmup_fraction: A Python float in (0, 1): the longest the warm-up may take, as a fraction
            of the cycle. Defaults to 0.3.
        patience_factor: A Python float > 1: turn when the learning rate grew this many times since
            the centred loss's minimum without a new one. Defaults to 3.
        min_peak: A Python float > 0, or None for `10 x lr_range[0]`: the lowest peak, and the
            lowest minimum at which patience turns the warm-up (a rising or non-finite loss turns it
            at any rate). Defaults to None.
        peak_factor: A Python float in (0, 1]: the peak is the minimum's learning rate times this.
            Defaults to 1.
        learned_fraction: A Python float in (0, 1), or None: until the centred training loss has
            fallen below this fraction of where it started, only a divergence (twice its minimum) or
            a loss that is not finite turns the warm-up (`WarmupWatch`). None: no such guard.
            Defaults to None.
        final_lr: A Python float >= 0: the learning rate at the end of the cycle. Defaults to 0.
        record_frq: As for `OneCycle`. Defaults to 10.
        verbose: Print the turn when it happens, and the learning rate every epoch. Defaults to False.
        resume_state: A dict from `state()` saved with a checkpoint, or None: a fit that resumes
            from that checkpoint (`initial_epoch`) continues the warm-up's watch, or the cycle as it
            turned. Defaults to None. With `keras.callbacks.BackupAndRestore` in the same `fit`, the
            state is saved beside its checkpoint at every epoch end (`STATE_FILE` in its
            `backup_dir`) and read back on resume, with nothing to pass. The in-memory snapshots
            are not saved: a warm-up resumed before its turn rolls back to one taken after the
            resume, or to none.

    Raises:
        ValueError, TypeError: for an argument outside the ranges above, at construction; at the
            start of `fit` for what `OneCycle` refuses, and for gradient accumulation.
    """

    # Its sixteen methods: four Keras hooks over OneCycle's, the schedules' three slots, resuming
    # (`state`, `_resume`) and the turn's five steps; the schedules' math is `WarmupPlan`'s, the
    # decision `WarmupWatch`'s, the rollback `_Snapshots`'.

    # Batch ends read the losses, and the turn rolls the model back: on the fit's own thread.
    async_safe = False

    def __init__(
        self,
        lr_range=(1e-4, 3.0),
        momentum_range=None,
        warmup_fraction=0.3,
        *,
        patience_factor=3.0,
        min_peak=None,
        peak_factor=1.0,
        learned_fraction=None,
        final_lr=0.0,
        record_frq=10,
        verbose=False,
        resume_state=None,
    ):
        warmup_fraction = _checks.check_fraction("warmup_fraction", warmup_fraction)
        super().__init__(
            lr_range,
            momentum_range,
            phase_one_fraction=warmup_fraction,
            record_frq=record_frq,
            verbose=verbose,
            final_lr=final_lr,
        )
        self.warmup_fraction = self.phase_one_fraction
        if min_peak is None:
            min_peak = 10.0 * self.lr_range[0]
        # The watch's settings are checked where they are defined: by WarmupWatch (its window, set
        # per fit, is a placeholder here).
        watch = WarmupWatch(1, patience_factor, min_peak, peak_factor, learned_fraction)
        self.patience_factor, self.min_peak = watch.patience_factor, watch.min_peak
        self.peak_factor, self.learned_fraction = watch.peak_factor, watch.learned_fraction
        if resume_state is not None and not isinstance(resume_state, dict):
            _checks.fail(
                "resume_state", "a dict from AdaptiveOneCycle.state(), or None", resume_state, TypeError
            )
        self.resume_state = resume_state
        self.adaptive_choice = None
        self._turned = None  # the schedules as they ran, once turned: {"lr": Piecewise, ...}
        self._watch = None
        self._snapshots = _Snapshots(every=1)  # the rollback's, made again for each fit
        self._last_end = None  # (batch, running mean) of the last batch end this epoch

    # -- schedules -------------------------------------------------------------------------------
    def _plan(self, total_steps):
        settings = (self.lr_range, self.momentum_range, self.warmup_fraction, self.final_lr)
        return WarmupPlan(*settings, total_steps)

    def _build_schedules(self, total_steps):
        if self._turned is not None and self._turned["total_steps"] == total_steps:
            return {"lr": self._turned["lr"], "momentum": self._turned["momentum"]}
        return self._plan(total_steps).planned()

    def _rise_end_batch(self):
        return self._plan(self._cycle.updates).warmup_steps

    def _label(self):
        return "AdaptiveOneCycle"

    # -- Keras hooks -----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._cycle.batches_per_update != 1:
            msg = (
                "AdaptiveOneCycle reads the loss of every update, which gradient accumulation mixes "
                "across batches: create the optimizer without `gradient_accumulation_steps`. "
                f"Received: gradient_accumulation_steps={self._cycle.batches_per_update}"
            )
            raise ValueError(msg)
        self.adaptive_choice = None
        self._turned = None
        warmup = self._plan(self._cycle.updates).warmup_steps
        low, high = self.lr_range
        half_width = max(
            MIN_HALF_WIDTH, round(warmup * math.log(SMOOTHING_FACTOR) / math.log(high / low) / 2)
        )
        self._snapshots = _Snapshots(every=max(half_width, math.ceil(warmup / SNAPSHOTS_PER_WARMUP)))
        self._watch = WarmupWatch(
            half_width, self.patience_factor, self.min_peak, self.peak_factor, self.learned_fraction
        )

    def on_epoch_begin(self, epoch, logs=None):
        if self._fit is None:  # after every on_train_begin: a BackupAndRestore has restored
            self._resume(self.resume_state or _read_state(_backup_dir(self)))
        super().on_epoch_begin(epoch, logs)
        self._last_end = (-1, 0.0)  # Keras restarts its running loss mean every epoch

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        _write_state(_backup_dir(self), self.state())  # BackupAndRestore saves at epoch ends too

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self._turned is not None or logs is None or "loss" not in logs:
            return
        batch = min(compat.batch_end_step(batch, self._batches_per_execution), self._batches_per_epoch - 1)
        step = self._epoch_start_batch + batch  # the cycle's step (update) just run
        plan = self._plan(self._cycle.updates)
        if step >= plan.warmup_steps - 1:
            self._turn_at_ceiling(step)
            return
        before, mean_before = self._last_end
        mean = float(logs["loss"])
        self._last_end = (batch, mean)
        if batch == before:
            return
        loss = ((batch + 1) * mean - (before + 1) * mean_before) / (batch - before)
        middle = step - (batch - before - 1) / 2  # the observation's learning rate: its middle step
        if self._watch.add(plan.learning_rate_at(middle), loss):
            self._turn(step)
            return
        if len(self._watch.losses) % self._snapshots.every == 0:
            self._snapshots.take(step, self.model)  # `self.model` syncs JAX's state
        self._snapshots.keep_from(self._step_of(self._watch.best_index, step))

    def _step_of(self, index, step):
        """The cycle step of observation `index`, the latest (`step`) being the last one."""
        return None if index is None else step - (len(self._watch.losses) - 1 - index)

    # -- resuming --------------------------------------------------------------------------------
    def state(self):
        """What a resumed fit needs to continue this cycle: a JSON-able dict (see `resume_state`)."""
        watch = self._watch
        return {
            "step": hyperparams.raw_step(self.model.optimizer),
            "cycle_updates": self._cycle.updates,
            "choice": None if self.adaptive_choice is None else dataclasses.asdict(self.adaptive_choice),
            "observations": None if watch is None else [watch.learning_rates, watch.losses],
        }

    def _resume(self, state):
        """Continues a saved cycle when the model stands where the state was saved."""
        if state is None:
            return
        step = hyperparams.raw_step(self.model.optimizer)
        if state.get("step") != step or state.get("cycle_updates") != self._cycle.updates:
            warnings.warn(
                f"AdaptiveOneCycle's saved state (step {state.get('step')}, a cycle of "
                f"{state.get('cycle_updates')} steps) does not match this fit (the optimizer at step "
                f"{step}, a cycle of {self._cycle.updates} steps): the warm-up starts afresh.",
                stacklevel=2,
            )
            return
        for learning_rate, loss in zip(*(state.get("observations") or ([], [])), strict=True):
            self._watch.add(learning_rate, loss)  # the same observations: the same watch
        if state.get("choice") is not None:
            choice = AdaptiveChoice(**state["choice"])
            self.adaptive_choice = choice
            self._set_turned(None if choice.reason == CEILING else choice)

    # -- the turn --------------------------------------------------------------------------------
    def _set_turned(self, choice):
        """The schedules as they run from the turn on: the plan's own for a warm-up that reached its
        ceiling (`choice` None), else turned at `choice.turn_step` to `choice.peak`."""
        plan = self._plan(self._cycle.updates)
        running = plan.planned() if choice is None else plan.turned(choice.turn_step, choice.peak)
        self._turned = {**running, "total_steps": plan.total_steps}

    def _turn(self, step):
        turn = self._watch.turn
        best_step = self._step_of(turn.best_index, step)
        model = self.model  # on JAX, syncs the trainer's state: the restore and the new schedules land
        restored_step = self._snapshots.restore_at_or_before(best_step, model)
        peak = min(max(turn.peak, self.lr_range[0]), self.lr_range[1])
        self._record_choice(peak, step, best_step, restored_step, turn.reason)
        self._set_turned(self.adaptive_choice)
        scheduled = {"learning_rate": self._turned["lr"]}
        if self._momentum_attribute is not None:
            scheduled[self._momentum_attribute] = self._turned["momentum"]
        self._injection.set_schedules(scheduled)

    def _turn_at_ceiling(self, step):
        # The planned schedules already anneal from the ceiling: nothing to change in the step.
        self._record_choice(self.lr_range[1], step, step, None, CEILING)
        self._set_turned(None)

    def _record_choice(self, peak, step, best_step, restored_step, reason):
        lost = 0 if restored_step is None else step + 1 - restored_step
        self.adaptive_choice = AdaptiveChoice(
            float(peak), int(step), int(best_step), restored_step, lost, reason
        )
        self._snapshots.clear()
        if self.verbose:
            undone = "" if restored_step is None else f", rolled back {lost} steps to step {restored_step}"
            _fit_callbacks.print_message(
                self, f"AdaptiveOneCycle turned after step {step}: peak {peak:.3g} ({reason}{undone})"
            )


class _Snapshots:
    """In-memory copies of the model (`TrainingState`) taken every `every` observations of a
    warm-up: the latest at or before the centred loss's minimum, and those after it."""

    def __init__(self, every):
        self.every = every
        self._held = collections.deque()  # (step, TrainingState), oldest first

    def clear(self):
        self._held.clear()

    def take(self, step, model):
        self._held.append((step, TrainingState(model)))

    def keep_from(self, best_step):
        """Drops the snapshots that a later one at or before `best_step` (None: none yet) replaces."""
        while best_step is not None and len(self._held) > 1 and self._held[1][0] <= best_step:
            self._held.popleft()

    def restore_at_or_before(self, step, model):
        """Restores the latest snapshot at or before `step`, the optimizer's step counter kept (the
        cycle keeps its place); returns its step, or None when there is none (nothing restored)."""
        usable = [(taken, state) for taken, state in self._held if taken <= step]
        if not usable:  # the minimum came before any snapshot
            return None
        taken, state = usable[-1]
        state.restore(model, keep_step=True)
        return taken


def _backup_dir(callback):
    """The `backup_dir` of a `BackupAndRestore` in the same fit, or None."""
    for other in _fit_callbacks.other_callbacks(callback):
        if isinstance(other, keras.callbacks.BackupAndRestore):
            return other.backup_dir
    return None


def _read_state(backup_dir):
    path = None if backup_dir is None else os.path.join(backup_dir, STATE_FILE)
    if path is None or not os.path.exists(path):
        return None
    with open(path) as file:
        return json.load(file)


def _write_state(backup_dir, state):
    if backup_dir is None:
        return
    os.makedirs(backup_dir, exist_ok=True)
    with open(os.path.join(backup_dir, STATE_FILE), "w") as file:
        json.dump(state, file)
