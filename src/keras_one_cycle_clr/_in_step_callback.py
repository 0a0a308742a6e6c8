"""`InStepCallback`: the lifecycle shared by the callbacks whose schedules run inside the train step.

`OneCycle`, `CLR` (through `callbacks._PolicyCallback`) and `LrRangeTest` each fill in what is
theirs (which schedules, from which step, what to record); this base owns what they do alike, as
PyTorch's scheduler base owns `step()` and each subclass fills in `get_lr()`:

1. `_begin_fit()`, first in `on_train_begin`: refuse another callback of the same fit that sets the
   learning rate, before any of ours acts, and read the fit's batches per epoch.
2. `_install_schedules(...)`: the schedules go into the optimizer's compiled step
   (`hyperparams.ScheduleInjection`); the fit's `steps_per_execution` is read there.
3. The guard, once per fit: after the fit's first execution, the learning rate the step applied
   must be the schedule's, and the batch number Keras gives that execution's `on_train_batch_end`
   must map to the last step it ran (`compat.batch_end_step`), or the fit stops with a
   `KerasCompatibilityError`. Its states are `Guard`; the subclasses call `_guard_batch_begin`,
   `_guard_batch_end` and `_guard_epoch_end` from the hooks of those names.
4. `_remove_schedules()`: the optimizer and the model get their own step back.
"""

from __future__ import annotations

import dataclasses
import enum

import keras

from keras_one_cycle_clr import _fit_callbacks, hyperparams
from keras_one_cycle_clr import _keras_compat as compat


class Guard(enum.Enum):
    """Where the once-per-fit check of the first execution stands."""

    OFF = "no schedules installed"
    PENDING = "installed; the fit's first execution has not begun"
    RAN = "the first execution ran; nothing checked yet"
    APPLIED = "the applied learning rate checked; the batch numbering not yet"
    CHECKED = "both checked"


@dataclasses.dataclass
class FirstExecution:
    """What the guard learns of the fit's first execution, hook by hook."""

    install_step: int  # the optimizer's raw step when the schedules were installed
    begin: int | None = None  # the batch its on_train_batch_begin was given
    end: int | None = None  # ... and its on_train_batch_end (possibly on Keras's thread pool)
    ran: int | None = None  # the steps the optimizer counted in it
    stray_end: int | None = None  # a batch-end hook's batch given before the first execution's


def steps_per_execution(model):
    """The model's `steps_per_execution`, as a Python int."""
    return int(getattr(model, "steps_per_execution", 1) or 1)


class InStepCallback(keras.callbacks.Callback):
    """A callback whose schedules the optimizer's compiled step evaluates (see the module)."""

    _sets_learning_rate_in_step = True  # another learning-rate callback in the same fit is refused

    def __init__(self):
        super().__init__()
        self._injection = None  # the schedules, installed in the optimizer's step
        self._guard = Guard.OFF
        self._first = None  # FirstExecution, once installed
        self._batches_per_epoch = None  # this fit's, or None when Keras does not know it
        self._batches_per_execution = 1  # the model's steps_per_execution, read at install

    # -- the lifecycle ---------------------------------------------------------------------------
    def _begin_fit(self):
        """Refuses another learning-rate callback of this fit (ValueError); reads the batches per
        epoch. Returns the fit's other callbacks."""
        others = _fit_callbacks.other_callbacks(self)
        _fit_callbacks.check_sole_learning_rate_callback(self, others)
        self._batches_per_epoch = self.params.get("steps")
        return others

    def _install_schedules(self, scheduled, start_step, on_abandon=None):
        """Installs `scheduled` (`{name: schedule or value}`, steps counted from the optimizer's raw
        step `start_step`) into the model's train step, and arms the guard."""
        model = self.model
        self._batches_per_execution = steps_per_execution(model)
        self._injection = hyperparams.ScheduleInjection(model.optimizer, scheduled, start_step=start_step)
        self._injection.install(model, on_abandon=on_abandon)
        self._first = FirstExecution(install_step=hyperparams.raw_step(model.optimizer))
        self._guard = Guard.PENDING

    def _remove_schedules(self):
        """Gives the optimizer and the model their own step back; safe to call twice."""
        if self._injection is not None:
            self._injection.remove()
            self._injection = None
        self._guard = Guard.OFF

    # -- the guard -------------------------------------------------------------------------------
    def _guard_batch_begin(self, batch):
        """From `on_train_batch_begin`, on the fit's thread: the checks whose inputs have arrived,
        and the first execution's start."""
        if self._guard in (Guard.OFF, Guard.CHECKED):
            return
        self._guard_check()
        if self._guard is Guard.PENDING:
            self._guard = Guard.RAN  # the step after this hook is the fit's first
            self._first.begin = batch

    def _guard_batch_end(self, batch):
        """From `on_train_batch_end`, which Keras may run on its thread pool: records only."""
        first = self._first
        if self._guard is Guard.CHECKED or first is None or first.begin is None or first.end is not None:
            return
        # The first execution's end, under either numbering (the next one's begins at
        # first.begin + steps_per_execution).
        if batch < first.begin + self._batches_per_execution:
            first.end = batch
        elif first.stray_end is None:
            first.stray_end = batch

    def _guard_epoch_end(self):
        """From `on_epoch_end`, when Keras has run every batch-end hook of the epoch: an epoch of one
        execution is checked here, and a first execution whose end hook never came fails."""
        self._guard_check()
        if self._guard is Guard.APPLIED and self._first.stray_end is not None:
            what = (
                f"with steps_per_execution={self._batches_per_execution}, on_train_batch_end was "
                f"given batch {self._first.stray_end} but no batch of the first execution, which "
                f"began at batch {self._first.begin}"
            )
            raise compat.incompatible(what)

    def _guard_check(self):
        if self._guard is Guard.RAN:
            model = self.model  # on JAX, syncs the trainer's state: once per fit
            self._injection.check_applied(model)
            self._first.ran = hyperparams.raw_step(model.optimizer) - self._first.install_step
            self._guard = Guard.APPLIED
        if self._guard is Guard.APPLIED and self._batch_numbering_checked():
            self._guard = Guard.CHECKED

    def _batch_numbering_checked(self):
        """Whether the batch number of the first execution's `on_train_batch_end` has been checked.

        With steps_per_execution > 1, Keras passes that hook the first or the last step of an
        execution depending on its release (`compat.batch_end_step`); records and losses are placed
        by it. The step it maps to must be the last the optimizer counted in that execution. False
        while the hook, which Keras may run on its thread pool, has not run yet.

        Raises:
            KerasCompatibilityError: on a mismatch, naming the Keras version and both steps.
        """
        spe, first = self._batches_per_execution, self._first
        if spe == 1:
            return True  # first and last step are one: nothing to tell apart
        if first.end is None:
            return False
        mapped = compat.batch_end_step(first.end, spe)
        if self._batches_per_epoch is not None:
            mapped = min(mapped, self._batches_per_epoch - 1)  # a short last chunk reports past the end
        counted = first.begin + first.ran - 1
        if mapped != counted:
            what = (
                f"with steps_per_execution={spe}, on_train_batch_end was given batch {first.end} after "
                f"an execution that began at batch {first.begin} and ran {first.ran} steps: read as "
                f"batch {mapped}, the optimizer counted up to batch {counted} "
                f"(`_keras_compat.BATCH_END_IS_FIRST_STEP` is {compat.BATCH_END_IS_FIRST_STEP})"
            )
            raise compat.incompatible(what)
        return True
