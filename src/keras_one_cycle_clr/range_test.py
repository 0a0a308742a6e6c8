"""The learning-rate range test, with a weight-decay grid: `LrRangeTest` and `lr_find`.

The sweep's learning rates and the sweep's weight decay are installed into the optimizer's compiled
step as schedules held in a variable (`keras_one_cycle_clr.hyperparams`), so neither a learning rate
nor a weight decay costs a recompile: one compiled step serves every sweep, and later range tests and
one-cycle fits on the same model reuse it. What runs during a sweep (the loss arithmetic, the
validation loss, the stop rule, the progress bar) is in `_sweep`; the results are a `RangeTestResult`.
Model weights and every optimizer variable (its step counter included) are copied in memory before
the test and put back after every sweep and at the end, also when the test stops early. No file is
written.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import warnings

import keras
import numpy as np

from keras_one_cycle_clr import _checks, _data, hyperparams, schedules
from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr._in_step_callback import InStepCallback, steps_per_execution
from keras_one_cycle_clr._patches import Patches
from keras_one_cycle_clr._sweep import RunningLoss, SweepProgress, SweepValidation, SweepWatch
from keras_one_cycle_clr.one_cycle_choice import CannotChooseError, unread_learning_rates
from keras_one_cycle_clr.range_test_result import RangeTestResult


class TrainingState:
    """An in-memory copy of a model's weights and its optimizer's variables.

    Restoring it makes the model and optimizer bit-identical to when it was taken, step counter and
    learning rate included.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.Adam(), "mse")
    >>> model.optimizer.build(model.trainable_variables)
    >>> state = TrainingState(model)
    >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), verbose=0)
    >>> state.restore(model)
    >>> int(model.optimizer.iterations.numpy())
    0

    Args:
        model: A compiled Keras model whose optimizer is built.
    """

    def __init__(self, model):
        self.weights = [np.array(w, copy=True) for w in model.get_weights()]
        self.optimizer_variables = model.optimizer.variables
        self.optimizer_values = [np.array(v.numpy(), copy=True) for v in self.optimizer_variables]

    def restore(self, model, keep_step=False):
        """Puts the weights and optimizer variables back.

        Args:
            model: The model the state was taken from.
            keep_step: A Python bool. True leaves the optimizer's step counter where it stands (a
                schedule's place in its cycle with it): only the weights and the optimizer's slots
                go back. Defaults to False.
        """
        kept = set()
        if keep_step:
            optimizer = model.optimizer
            kept = {id(optimizer.iterations), id(hyperparams.innermost_optimizer(optimizer).iterations)}
        model.set_weights(self.weights)
        for variable, value in zip(self.optimizer_variables, self.optimizer_values, strict=True):
            if id(variable) not in kept:
                variable.assign(value)


def _of_the_result(name):
    """`RangeTestResult`'s property or method `name`, read from the range test's `result`, with its
    documentation."""
    member = getattr(RangeTestResult, name)
    if isinstance(member, property):
        return property(lambda test: getattr(test.result, name), doc=member.__doc__)

    @functools.wraps(member)
    def method(test, *args, **kwargs):
        return getattr(test.result, name)(*args, **kwargs)

    return method


class LrRangeTest(InStepCallback):
    """The learning-rate range test (Smith, https://arxiv.org/abs/1506.01186), with a weight-decay grid.

    `steps` learning rates from `lr_range[0]` to `lr_range[1]` (geometric for `sweep="exp"`, evenly
    spaced for `"linear"`), each held for `batches_per_step` batches. The sweep is repeated for every
    weight decay in `wd_list` (Keras 3's decoupled `weight_decay` of the optimizer, applied inside the
    compiled step), each sweep starting from the same weights and optimizer state. A sweep stops early
    when the loss is not finite, exceeds `threshold_multiplier` times the best loss of that sweep, or
    when its smoothed loss is back at its first learning rate's loss after going below
    `LEARNED_FRACTION` of it (`SweepWatch`);
    `fit` stops after the last sweep; the model and optimizer are restored after every sweep and at
    the end.

    Results, as arrays: `lr` of shape `(steps,)`; `loss` of shape `(steps, n_wd)` where `loss[i, j]`
    is the mean training loss of the batches run at `lr[i]` under `wd_list[j]` (weighted by batch
    size, as Keras's epoch loss is: a short batch counts for its samples);
    `val_loss` likewise, the mean loss over the samples of the first `batches_per_val` validation
    batches, evaluated in one call after those batches. NaN marks learning rates a sweep never
    reached. With an
    empty `wd_list`, there is one sweep with the optimizer's own weight decay (`n_wd = 1`).

    Cost: one compiled train step serves every learning rate and weight decay, and each learning
    rate's loss is read from Keras's running loss mean, restarted at every learning rate without a
    sync of the model's state, so a sweep costs about what a plain `fit` over the same batches costs
    (BENCHMARKS.md). While it runs, `logs["loss"]` is the mean since the current learning rate began.

    Example:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> x, y = np.random.rand(64, 4), np.random.rand(64, 1)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    >>> lrrt = kclr.LrRangeTest(lr_range=(1e-3, 1), wd_list=[0, 1e-3], steps=10, batches_per_step=2)
    >>> n_epoch = lrrt.find_n_epoch(x, batch_size=16)
    >>> _ = model.fit(x, y, batch_size=16, epochs=n_epoch, verbose=0, callbacks=[lrrt])
    >>> lrrt.loss.shape
    (10, 2)

    Args:
        lr_range: A pair of Python floats `(start, end)`, `0 < start < end`. Defaults to (1e-5, 10).
        wd_list: A sequence of weight decays >= 0, one sweep each. Defaults to () (one sweep).
        steps: A Python int >= 2: the number of learning rates. Defaults to 100.
        batches_per_step: A Python int >= 1: batches per learning rate; a multiple of the model's
            `steps_per_execution`. Defaults to 5.
        threshold_multiplier: A Python float > 1: stop a sweep when the loss exceeds this times its
            best loss. Defaults to 5.
        validation_data: A tuple `(x_val, y_val)` of arrays with one length, or None. Defaults to None.
        validation_batch_size: A Python int >= 1. Defaults to 16.
        batches_per_val: A Python int >= 1: validation batches evaluated per learning rate (the same
            first batches every time). Defaults to 10.
        verbose: Show each sweep's progress: a line naming the sweep (weight decay j of n) and a
            progress bar over its learning rates with the current learning rate and smoothed loss.
            Defaults to False.
        sweep: `"exp"` or `"linear"`. Defaults to `"exp"`.

    Raises:
        ValueError, TypeError: for an argument outside the ranges above, at construction.
    """

    # Its fourteen methods: Keras's six hooks, the 2019 library's public members (`result`,
    # `batches_needed`, `find_n_epoch`, `restore`), `__init__` and three steps of a sweep; what a
    # result says is `RangeTestResult`'s (read through `_of_the_result`), what runs during a sweep is
    # `_sweep`'s, and the lifecycle is `InStepCallback`'s.

    def __init__(
        self,
        lr_range=(1e-5, 10),
        wd_list=(),
        steps=100,
        batches_per_step=5,
        threshold_multiplier=5,
        validation_data=None,
        validation_batch_size=16,
        batches_per_val=10,
        verbose=False,
        *,
        sweep="exp",
    ):
        super().__init__()
        self.lr_range = _checks.check_lr_range("lr_range", lr_range)
        if isinstance(wd_list, (str, bytes)) or not hasattr(wd_list, "__iter__"):
            _checks.fail("wd_list", "a sequence of weight decays >= 0", wd_list, TypeError)
        self.wd_list = tuple(
            _checks.check_number(f"wd_list[{i}]", wd, low=0.0) for i, wd in enumerate(wd_list)
        )
        self.steps = _checks.check_count("steps", steps, minimum=2)  # the number of learning rates
        self.batches_per_step = _checks.check_count("batches_per_step", batches_per_step)
        self.threshold_multiplier = _checks.check_number(
            "threshold_multiplier", threshold_multiplier, low=1.0, low_inclusive=False
        )
        self.validation_batch_size = _checks.check_count("validation_batch_size", validation_batch_size)
        self.batches_per_val = _checks.check_count("batches_per_val", batches_per_val)
        self.validation_data = _check_validation_data(validation_data)
        self.verbose = bool(verbose)
        self.sweep = _checks.check_choice("sweep", sweep, schedules.SWEEP_SPACINGS)
        # The learning rates the compiled step applies, from the schedule it evaluates.
        per_batch = schedules.evaluate(
            self._schedules(0)["learning_rate"], self.steps * self.batches_per_step
        )
        self.lr = per_batch[:: self.batches_per_step]
        self.loss = None
        self.val_loss = None
        self._validation = None  # the validation losses: SweepValidation, with validation_data
        if self.validation_data is not None:
            self._validation = SweepValidation(
                self.validation_data, self.validation_batch_size, self.batches_per_val
            )
        self._progress = SweepProgress(self)
        # Set at the start of each fit: see on_train_begin.
        self._state = None  # the model and optimizer as they were: TrainingState
        self._running_loss = None  # each learning rate's mean loss: RunningLoss
        self._patches = Patches()  # the running loss mean's restarts (on JAX, around the train function)
        self._watch = SweepWatch(self.threshold_multiplier)  # whether the current sweep stops
        self._start_batch = None  # the optimizer's raw step (batches) when the test began
        self._position = _Position()
        self._validation_checked = False  # the guard's check of the validation loss, once per fit

    @property
    def result(self):
        """The results so far, as a `RangeTestResult` (the same arrays, not a copy)."""
        return RangeTestResult(self.lr, self.loss, self.val_loss, self.wd_list)

    # What the results say, read on the callback as the 2019 API did (`lrrt.plot()`, `lrrt.best_wd`).
    n_wd = _of_the_result("n_wd")
    """The number of sweeps: `RangeTestResult.n_wd`."""
    sweep_labels = _of_the_result("sweep_labels")
    """One label per sweep: `RangeTestResult.sweep_labels`."""
    best_wd = _of_the_result("best_wd")
    """The weight decay the range test chooses: `RangeTestResult.best_wd`."""
    choose_one_cycle = _of_the_result("choose_one_cycle")
    """The one-cycle peak and weight decay: `RangeTestResult.choose_one_cycle`."""
    suggest = _of_the_result("suggest")
    """A learning rate for a constant rate: `RangeTestResult.suggest`."""
    plot = _of_the_result("plot")
    """Plots loss against learning rate: `RangeTestResult.plot`."""

    @property
    def batches_needed(self):
        """The number of training batches all sweeps take when none stops early."""
        return self.steps * self.batches_per_step * self.n_wd

    def find_n_epoch(self, dataset, batch_size=None):
        """The epochs `fit` needs to run every sweep to its end.

        Args:
            dataset: The training input: NumPy arrays (with `batch_size`), a `keras.utils.PyDataset`,
                a `tf.data.Dataset` of known length or a torch `DataLoader`.
            batch_size: The `batch_size` given to `fit` for arrays. Defaults to Keras's 32.

        Returns:
            A Python int.
        """
        return math.ceil(self.batches_needed / _data.steps_per_epoch(dataset, batch_size))

    # -- Keras hooks -----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        # Before anything else: the first of ours in the list raises before any of ours acts.
        self._begin_fit()
        model = self.model
        _check_fit(model, self.batches_per_step, self._batches_per_epoch)
        self._running_loss = RunningLoss(model)
        optimizer = model.optimizer
        if not optimizer.built:  # TensorFlow builds it in the first step: too late for the snapshot
            optimizer.build(model.trainable_variables)
        self.loss = np.full((self.steps, self.n_wd), np.nan)
        self.val_loss = None if self._validation is None else np.full((self.steps, self.n_wd), np.nan)
        self._state = TrainingState(model)
        if self._validation is not None:
            self._validation.start(model, self._running_loss)
        self._start_batch = hyperparams.raw_step(optimizer)
        self._position = _Position()
        self._watch = SweepWatch(self.threshold_multiplier)
        self._validation_checked = False
        self._install_schedules(self._schedules(0), start_step=self._start_batch, on_abandon=self.restore)
        self._running_loss.install(self._patches)  # around the train function just installed
        self._progress.start(0)

    def on_epoch_begin(self, epoch, logs=None):
        self._position.last_batch = -1
        if self._running_loss is not None:
            self._running_loss.epoch_restarted()  # Keras resets its metrics at every epoch's start

    def on_train_batch_begin(self, batch, logs=None):
        self._guard_batch_begin(batch)

    def on_train_batch_end(self, batch, logs=None):
        position = self._position
        if position.sweep >= self.n_wd:
            return
        self._guard_batch_end(batch)
        batch = compat.batch_end_step(batch, self._batches_per_execution)
        if self._batches_per_epoch is not None:
            batch = min(batch, self._batches_per_epoch - 1)  # a short last chunk reports past the epoch's end
        position.batches += batch - position.last_batch
        position.last_batch = batch
        if position.batches < self.batches_per_step:
            if self._batches_per_epoch is None or batch == self._batches_per_epoch - 1:
                self._running_loss.add(logs)  # the epoch may end here; its metrics restart next one
            return
        self._record(self._running_loss.take(logs))

    def on_epoch_end(self, epoch, logs=None):
        self._guard_epoch_end()  # an epoch of one execution

    def on_train_end(self, logs=None):
        if self._position.sweep < self.n_wd:
            warnings.warn(
                f"The range test ran out of batches in sweep {self._position.sweep + 1} of {self.n_wd}; "
                f"the learning rates it did not reach are NaN. Fit for {self.batches_needed} batches "
                "(see find_n_epoch).",
                stacklevel=2,
            )
        self.restore()

    def restore(self):
        """Puts the model and optimizer back as they were before the test; safe to call twice."""
        self._patches.undo()  # first: the injection reverts the train function only if it finds its own
        self._remove_schedules()
        if self._state is not None:
            self._state.restore(self.model)

    # -- internals -------------------------------------------------------------------------------
    def _schedules(self, sweep_index):
        """A sweep's learning rates and weight decay."""
        low, high = self.lr_range
        rates = schedules.SweepSchedule(low, high, self.steps, self.batches_per_step, spacing=self.sweep)
        scheduled = {"learning_rate": rates}
        if self.wd_list:
            scheduled["weight_decay"] = self.wd_list[sweep_index]
        return scheduled

    def _record(self, loss):
        """Records the loss of the learning rate just done (and its validation loss); moves on."""
        position = self._position
        index, sweep = position.learning_rate, position.sweep
        self.loss[index, sweep] = loss
        if self._validation is not None:
            self.val_loss[index, sweep] = self._validation.loss()
            if index == 1 and not self._validation_checked:
                self._validation_checked = True
                self._validation.check_per_learning_rate(self.val_loss[index, sweep])
        if not math.isfinite(loss) and index < unread_learning_rates(self.steps):
            self.restore()  # `fit` skips on_train_end when a hook raises
            raise _non_finite_at_start(self, loss)
        diverged = self._watch.diverged(loss)
        self._progress.update(index + 1, self._watch.smoothed)
        position.learning_rate += 1
        position.batches = 0
        if diverged or position.learning_rate == self.steps:
            self._end_sweep(diverged)

    def _end_sweep(self, diverged):
        position = self._position
        self._progress.end(position.learning_rate, diverged)
        position.sweep += 1
        position.learning_rate, position.batches = 0, 0
        self._watch = SweepWatch(self.threshold_multiplier)
        # Through `self.model`: on JAX the state is synced here. The running loss mean restarted when
        # the last learning rate's loss was taken: a diverged sweep's losses do not reach the next one.
        self._state.restore(self.model)
        if position.sweep < self.n_wd:
            self._injection.set_schedules(self._schedules(position.sweep))  # the same compiled step
            self._progress.start(position.sweep)
        else:
            self.model.stop_training = True


@dataclasses.dataclass
class _Position:
    """Where a range test's sweeps stand."""

    sweep: int = 0  # the sweep's index: its weight decay's in `wd_list`
    learning_rate: int = 0  # the learning rate's index in the sweep
    batches: int = 0  # batches run at that learning rate
    last_batch: int = -1  # the batch index (in the epoch) of the last batch end seen


def _check_fit(model, batches_per_step, batches_per_epoch):
    """Checks that the fit measures every learning rate's batches alone: a ValueError before any
    training otherwise."""
    batches_per_execution = steps_per_execution(model)
    if batches_per_step % batches_per_execution:
        msg = (
            "Argument `batches_per_step` must be a multiple of the model's steps_per_execution "
            f"({batches_per_execution}), so that every learning rate's batches are measured alone. "
            f"Received: batches_per_step={batches_per_step}"
        )
        raise ValueError(msg)
    if (
        batches_per_execution > 1
        and batches_per_epoch is not None
        and batches_per_epoch % batches_per_execution
    ):
        msg = (
            f"LrRangeTest needs the batches per epoch ({batches_per_epoch}) to be a multiple of the model's "
            f"steps_per_execution ({batches_per_execution}): a short chunk at an epoch's end would mix two "
            "learning rates' batches. Change the batch size or steps_per_epoch, or compile with "
            "steps_per_execution=1."
        )
        raise ValueError(msg)
    accumulation = hyperparams.innermost_optimizer(model.optimizer).gradient_accumulation_steps
    if accumulation:
        msg = (
            "LrRangeTest measures the loss of every learning rate's own updates, which gradient "
            "accumulation mixes across batches: run it with an optimizer created without "
            f"`gradient_accumulation_steps` (and a larger batch). Received: {accumulation}"
        )
        raise ValueError(msg)


def _non_finite_at_start(test, loss):
    """The error for a loss that is not finite within a sweep's first learning rates, which the
    rules do not read: bad data, or a range that starts too high."""
    position = test._position
    index = position.learning_rate
    msg = (
        f"The range test's loss was {loss} at learning rate {test.lr[index]:.3g}, number {index + 1} of "
        f"{test.steps} (sweep {position.sweep + 1} of {test.n_wd}{test._progress.describe(position.sweep)}), "
        "before the sweep could show anything. The likely cause: NaN or infinite values in the data "
        "(x, y or sample weights), or a learning rate range that starts too high (received "
        f"lr_range={test.lr_range}). The model and optimizer are restored as they were."
    )
    return CannotChooseError(msg)


def _sliceable(value):
    return not isinstance(value, (str, bytes)) and hasattr(value, "__len__") and hasattr(value, "__getitem__")


def _check_validation_data(validation_data):
    if validation_data is None:
        return None
    requirement = "a tuple (x_val, y_val) of arrays, or None"
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        _checks.fail("validation_data", requirement, validation_data, TypeError)
    # Arrays, which _validation_loss slices: a number or None would fail at len() below.
    if not all(map(_sliceable, validation_data)):
        received = ", ".join(type(part).__name__ for part in validation_data)
        msg = f"Argument `validation_data` must be {requirement}. Received: validation_data of ({received})"
        raise TypeError(msg)
    x_val, y_val = validation_data
    if len(x_val) != len(y_val) or len(x_val) == 0:
        msg = (
            "Argument `validation_data` must hold x_val and y_val of one non-zero length. "
            f"Received: len(x_val)={len(x_val)}, len(y_val)={len(y_val)}"
        )
        raise ValueError(msg)
    return x_val, y_val


def lr_find(
    model,
    x,
    y=None,
    *,
    batch_size=None,
    callbacks=None,
    verbose=0,
    sample_weight=None,
    class_weight=None,
    shuffle=True,
    steps_per_epoch=None,
    validation_split=0.0,
    **range_test_kwargs,
):
    """Runs a learning-rate range test in one call and returns what it found, a `RangeTestResult`.

    It takes the data as `model.fit` does (arrays, `tf.data`, `PyDataset`, `DataLoader`, with
    `sample_weight`, `class_weight`, `shuffle`, and `steps_per_epoch` for a repeated dataset) and
    the arguments of `LrRangeTest`. `validation_split` carves the last fraction of array inputs
    off, as `fit` does, and uses it as the range test's `validation_data`. The model is restored in
    a `finally`: after an exception or Ctrl-C mid-test, its weights and its optimizer's variables are
    exactly as they were.

    Example:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.Adam(), "mse")
    >>> lrrt = kclr.lr_find(model, np.random.rand(64, 4), np.random.rand(64, 1), steps=8, batches_per_step=1)
    >>> lrrt.loss.shape
    (8, 1)

    Args:
        model: A compiled Keras model.
        x, y: The training data, as for `model.fit`.
        batch_size, sample_weight, class_weight, shuffle, steps_per_epoch: As for `model.fit`.
        callbacks: More callbacks for the fit, or None.
        verbose: 0 for silence, 1 (or 2, "auto") for the range test's own progress: a progress bar
            per sweep over its learning rates (`LrRangeTest(verbose=True)`), not `fit`'s epoch bars.
            Defaults to 0.
        validation_split: A Python float in [0, 1): the last fraction of array inputs becomes the
            range test's `validation_data`. Defaults to 0.
        **range_test_kwargs: The arguments of `LrRangeTest`.

    Returns:
        A `RangeTestResult`: `lr`, `loss`, `val_loss`, `wd_list`, and `suggest`, `best_wd`, `plot`.

    Raises:
        ValueError, TypeError: for an argument of `LrRangeTest` outside its range, an argument neither
            `fit` nor `LrRangeTest` takes, a model that is not compiled, or an `x` of unknown length
            without `steps_per_epoch`, before any training.
    """
    if not isinstance(model, keras.Model) or getattr(model, "optimizer", None) is None:
        _checks.fail("model", "a compiled keras.Model", model, TypeError)
    if callbacks is not None and (
        not isinstance(callbacks, (list, tuple))
        or not all(isinstance(callback, keras.callbacks.Callback) for callback in callbacks)
    ):
        _checks.fail("callbacks", "a list of keras.callbacks.Callback, or None", callbacks, TypeError)
    unknown = sorted(set(range_test_kwargs) - set(inspect.signature(LrRangeTest).parameters))
    if unknown:
        msg = (
            f"lr_find() got an unexpected keyword argument `{unknown[0]}`. It takes the data "
            "arguments of model.fit and the arguments of LrRangeTest."
        )
        raise TypeError(msg)
    x, y, sample_weight, split_off = _split_for_validation(x, y, sample_weight, validation_split)
    if split_off is not None:
        if range_test_kwargs.get("validation_data") is not None:
            msg = "Pass `validation_split` or `validation_data` to lr_find, not both."
            raise ValueError(msg)
        range_test_kwargs["validation_data"] = split_off
    test = LrRangeTest(verbose=bool(verbose), **range_test_kwargs)
    if steps_per_epoch is None:
        batches = _data.steps_per_epoch(x, batch_size, name="x")
    else:
        batches = _checks.check_count("steps_per_epoch", steps_per_epoch)
    epochs = math.ceil(test.batches_needed / batches)
    try:
        model.fit(
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=0,  # the range test shows its own progress
            callbacks=[test, *(callbacks or [])],
            sample_weight=sample_weight,
            class_weight=class_weight,
            shuffle=shuffle,
            steps_per_epoch=steps_per_epoch,
        )
    finally:
        test.restore()  # on_train_end does not run when fit raises
    return test.result


def _split_for_validation(x, y, sample_weight, validation_split):
    """`(x, y, sample_weight, (x_val, y_val) or None)`: the last `validation_split` of arrays off,
    at the row where Keras's own `fit(validation_split=...)` cuts."""
    split = _checks.check_number(
        "validation_split", validation_split, low=0.0, high=1.0, high_inclusive=False
    )
    if split == 0.0:
        return x, y, sample_weight, None
    if not (hasattr(x, "shape") and hasattr(y, "shape")):
        _checks.fail("validation_split", "0 unless x and y are arrays", validation_split)
    cut = math.floor(len(x) * (1.0 - split))
    if cut < 1 or cut == len(x):
        _checks.fail("validation_split", f"a fraction leaving samples on both sides of {len(x)}", split)
    weights = None if sample_weight is None else sample_weight[:cut]
    return x[:cut], y[:cut], weights, (x[cut:], y[cut:])
