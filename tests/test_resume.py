"""Checkpoint mid-cycle, reload, resume with `initial_epoch`: the same weights as a straight run.

The callbacks keep no step counter: a fresh callback reads where the cycle stands from the reloaded
optimizer's `iterations` (see `_PolicyCallback._install`), so a `.keras` checkpoint that carries the
optimizer is all a resume needs.
"""

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr

BATCH = 8
STEPS_PER_EPOCH = 5
EPOCHS = 5
CHECKPOINT_EPOCH = 2  # epochs done when the run is interrupted: 10 of 25 steps, past the lr peak
RNG = np.random.default_rng(0)
X = RNG.normal(size=(BATCH * STEPS_PER_EPOCH, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")

POLICIES = {
    "onecycle": lambda: kclr.OneCycle((0.01, 0.1), (0.95, 0.85)),
    "clr": lambda: kclr.CLR(2, (0.01, 0.1), (0.95, 0.85), 0.5, mode="triangular"),
}
OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    "adam": lambda: keras.optimizers.Adam(0.05),
}
CASES = [("onecycle", "sgd"), ("onecycle", "adam"), ("clr", "sgd")]


def initial_weights():
    keras.utils.set_random_seed(0)
    return make_model(OPTIMIZERS["sgd"]()).get_weights()


def make_model(optimizer, weights=None):
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer, "mse")
    if weights is not None:
        model.set_weights(weights)
    return model


def fit(model, callbacks, **kwargs):
    kwargs.setdefault("epochs", EPOCHS)
    return model.fit(X, Y, batch_size=BATCH, shuffle=False, verbose=0, callbacks=callbacks, **kwargs)


class StopAfter(keras.callbacks.Callback):
    """Ends the fit after `epochs` epochs, as if the process had been killed there."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.model.stop_training = True


def interrupted_checkpoint(tmp_path, policy_name, optimizer_name, weights):
    """Trains `CHECKPOINT_EPOCH` epochs of the full cycle and returns the checkpoint's path."""
    path = tmp_path / "checkpoint-{epoch:02d}.keras"
    model = make_model(OPTIMIZERS[optimizer_name](), weights)
    checkpoint = keras.callbacks.ModelCheckpoint(str(path))  # whole model, optimizer included
    fit(model, [POLICIES[policy_name](), checkpoint, StopAfter(CHECKPOINT_EPOCH)])
    assert int(model.optimizer.iterations.numpy()) == CHECKPOINT_EPOCH * STEPS_PER_EPOCH
    return tmp_path / f"checkpoint-{CHECKPOINT_EPOCH:02d}.keras"


@pytest.mark.parametrize(("policy_name", "optimizer_name"), CASES, ids=["-".join(c) for c in CASES])
def test_resume_from_a_checkpoint_ends_with_the_weights_of_a_straight_run(
    tmp_path, policy_name, optimizer_name
):
    weights = initial_weights()
    straight = make_model(OPTIMIZERS[optimizer_name](), weights)
    fit(straight, [POLICIES[policy_name]()])
    assert int(straight.optimizer.iterations.numpy()) == EPOCHS * STEPS_PER_EPOCH

    path = interrupted_checkpoint(tmp_path, policy_name, optimizer_name, weights)
    resumed = keras.models.load_model(path)
    assert int(resumed.optimizer.iterations.numpy()) == CHECKPOINT_EPOCH * STEPS_PER_EPOCH
    history = fit(resumed, [POLICIES[policy_name]()], initial_epoch=CHECKPOINT_EPOCH)
    assert history.epoch == list(range(CHECKPOINT_EPOCH, EPOCHS))

    for got, want in zip(resumed.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    # The weights moved a long way during the resumed epochs: agreeing was not a matter of tolerance.
    moved = max(np.abs(a - b).max() for a, b in zip(resumed.get_weights(), weights, strict=True))
    assert moved > 0.1


@pytest.mark.parametrize(("policy_name", "optimizer_name"), CASES, ids=["-".join(c) for c in CASES])
def test_resume_without_initial_epoch_restarts_the_cycle_and_ends_elsewhere(
    tmp_path, policy_name, optimizer_name
):
    weights = initial_weights()
    straight = make_model(OPTIMIZERS[optimizer_name](), weights)
    fit(straight, [POLICIES[policy_name]()])

    path = interrupted_checkpoint(tmp_path, policy_name, optimizer_name, weights)
    resumed = keras.models.load_model(path)
    # The same number of remaining steps, but the callback sees a fit of 3 epochs from epoch 0: a new,
    # shorter cycle that starts at the reloaded counter.
    policy = POLICIES[policy_name]()
    fit(resumed, [policy], epochs=EPOCHS - CHECKPOINT_EPOCH)
    assert int(resumed.optimizer.iterations.numpy()) == EPOCHS * STEPS_PER_EPOCH

    distance = max(
        np.abs(a - b).max() for a, b in zip(resumed.get_weights(), straight.get_weights(), strict=True)
    )
    assert distance > 1e-3


class Interrupted(Exception):
    """Stands for the process dying mid-fit."""


class InterruptAfter(StopAfter):
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise Interrupted(epoch)


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
def test_backup_and_restore_resumes_the_cycle_after_an_interruption(tmp_path, policy_name):
    weights = initial_weights()
    straight = make_model(OPTIMIZERS["sgd"](), weights)
    fit(straight, [POLICIES[policy_name]()])

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    interrupted = make_model(OPTIMIZERS["sgd"](), weights)
    with pytest.raises(Interrupted):
        fit(interrupted, [POLICIES[policy_name](), backup, InterruptAfter(CHECKPOINT_EPOCH)])
    # The same script run again: a new model and callbacks; BackupAndRestore sets initial_epoch.
    resumed = make_model(OPTIMIZERS["sgd"](), weights)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    history = fit(resumed, [POLICIES[policy_name](), backup])
    assert history.epoch == list(range(CHECKPOINT_EPOCH, EPOCHS))

    for got, want in zip(resumed.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    moved = max(np.abs(a - b).max() for a, b in zip(resumed.get_weights(), weights, strict=True))
    assert moved > 0.1
