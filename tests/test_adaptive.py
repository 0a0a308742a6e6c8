"""AdaptiveOneCycle: the warm-up turns where the loss turns, the rollback and the new schedule take
effect (weights checked against a NumPy simulation), bad arguments named."""

import warnings

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from test_resume import InterruptAfter, Interrupted

BACKEND = keras.backend.backend()
EXECUTIONS = [1] if BACKEND == "torch" else [1, 2]
BATCH = 4
X = np.ones((40, 1), dtype="float32")  # 10 batches an epoch
Y = np.zeros_like(X)
EPOCHS = 15  # 150 steps
W0 = 1.0


def one_weight_model(optimizer, steps_per_execution=1):
    # Loss w**2, gradient 2w: under SGD w <- w (1 - 2 lr), falling while lr < 1, growing beyond.
    kernel = keras.initializers.Constant(W0)
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer=kernel)]
    )
    model.compile(optimizer, "mse", steps_per_execution=steps_per_execution)
    return model


def sgd(w, m, lrs, momenta):
    """Keras's SGD on the one weight from `(w, m)`: the weight and momentum buffer after each step."""
    out = []
    for lr, mu in zip(lrs, momenta, strict=True):
        m = mu * m - lr * 2.0 * w
        w = w + m
        out.append((w, m))
    return out


@pytest.mark.parametrize("steps_per_execution", EXECUTIONS, ids=lambda k: f"spe{k}")
@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["sgd", "sgd-momentum"])
def test_the_warm_up_turns_where_the_loss_turns_and_training_follows_the_rollback(
    momentum, steps_per_execution
):
    optimizer = keras.optimizers.SGD(0.01, momentum=momentum)
    model = one_weight_model(optimizer, steps_per_execution)
    momentum_range = (0.95, 0.85) if momentum else None
    adaptive = kclr.AdaptiveOneCycle((1e-3, 10.0), momentum_range, warmup_fraction=0.6)
    history = model.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=[adaptive], shuffle=False)
    choice = adaptive.adaptive_choice
    steps = EPOCHS * len(X) // BATCH
    assert choice is not None
    assert choice.restored_step is not None
    assert choice.restored_step <= choice.best_step < choice.turn_step < 0.6 * steps
    if not momentum:  # the loss turns at lr 1, where |1 - 2 lr| crosses 1 (with momentum w oscillates)
        assert 0.5 <= choice.peak <= 1.2
    # What really ran: the planned warm-up up to the restored step, then from the step after the
    # turn on the schedule as it ran (peak, then cosine down to 0).
    ran = adaptive.schedule_values(steps)
    lrs = ran["lr"].astype(np.float64)
    momenta = np.full(steps, momentum) if ran["momentum"] is None else ran["momentum"].astype(np.float64)
    assert lrs[choice.turn_step + 1] == pytest.approx(choice.peak, rel=1e-6)
    assert lrs[-1] == 0.0
    warm = sgd(W0, 0.0, lrs[: choice.restored_step + 1], momenta[: choice.restored_step + 1])
    after = sgd(*warm[-1], lrs[choice.turn_step + 1 :], momenta[choice.turn_step + 1 :])
    expected = np.array([w for w, _ in after])
    final = float(model.get_weights()[0][0, 0])
    np.testing.assert_allclose(final, expected[-1], rtol=1e-3, atol=1e-30)
    # A schedule that was not really applied would end elsewhere: the planned one, no rollback.
    planned = sgd(W0, 0.0, lrs[: choice.turn_step + 1], momenta[: choice.turn_step + 1])
    unrolled = sgd(*planned[-1], lrs[choice.turn_step + 1 :], momenta[choice.turn_step + 1 :])
    assert not np.isclose(unrolled[-1][0], expected[-1], rtol=1e-2, atol=0.0)
    # The epoch logs show the learning rate that ran.
    assert history.history["learning_rate"][-1] == 0.0
    assert int(model.optimizer.iterations.numpy()) == steps  # the cycle kept its length
    assert "apply" not in vars(model.optimizer)  # the schedules are gone after the fit


def test_a_loss_that_keeps_falling_peaks_at_the_ceiling_without_a_rollback():
    model = one_weight_model(keras.optimizers.SGD(0.01))
    adaptive = kclr.AdaptiveOneCycle((1e-4, 0.05), warmup_fraction=0.3)
    model.fit(X, Y, batch_size=BATCH, epochs=5, verbose=0, callbacks=[adaptive], shuffle=False)
    choice = adaptive.adaptive_choice
    assert choice.reason == "the warm-up reached its ceiling"
    assert choice.peak == 0.05
    assert choice.restored_step is None
    assert choice.steps_lost == 0


def test_verbose_prints_the_turn(capsys):
    model = one_weight_model(keras.optimizers.SGD(0.01))
    adaptive = kclr.AdaptiveOneCycle((1e-3, 10.0), warmup_fraction=0.6, verbose=True)
    model.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=[adaptive], shuffle=False)
    printed = capsys.readouterr().out
    assert f"AdaptiveOneCycle turned after step {adaptive.adaptive_choice.turn_step}: peak " in printed


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"lr_range": (1.0, 0.1)}, "lr_range"),
        ({"warmup_fraction": 1.0}, "warmup_fraction"),
        ({"patience_factor": 1.0}, "patience_factor"),
        ({"min_peak": -1.0}, "min_peak"),
        ({"peak_factor": 0.0}, "peak_factor"),
        ({"learned_fraction": 0.0}, "learned_fraction"),
        ({"final_lr": -1.0}, "final_lr"),
    ],
)
def test_bad_arguments_are_named_at_construction(kwargs, named):
    with pytest.raises(ValueError, match=f"`{named}"):
        kclr.AdaptiveOneCycle(**kwargs)


def test_gradient_accumulation_is_refused_before_any_step():
    model = one_weight_model(keras.optimizers.SGD(0.01, gradient_accumulation_steps=2))
    before = model.get_weights()
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[kclr.AdaptiveOneCycle()])
    np.testing.assert_array_equal(before[0], model.get_weights()[0])


@pytest.mark.parametrize("interrupted_after", [2, 11], ids=["in-the-warm-up", "after-the-turn"])
def test_backup_and_restore_resumes_the_adaptive_cycle_where_it_stood(tmp_path, interrupted_after):
    def run(callbacks):
        model = one_weight_model(keras.optimizers.SGD(0.01, momentum=0.9))
        adaptive = kclr.AdaptiveOneCycle((1e-3, 10.0), (0.95, 0.85), warmup_fraction=0.6)
        model.fit(
            X, Y, batch_size=BATCH, epochs=EPOCHS, verbose=0, shuffle=False, callbacks=[adaptive, *callbacks]
        )
        return model, adaptive

    straight, straight_cycle = run([])
    turn = straight_cycle.adaptive_choice.turn_step
    # 10 steps an epoch; in the warm-up, before the minimum the rollback returns to.
    assert (interrupted_after * 10 < straight_cycle.adaptive_choice.best_step) == (interrupted_after == 2)
    assert (interrupted_after * 10 > turn) == (interrupted_after == 11)
    backup = str(tmp_path / "backup")
    with pytest.raises(Interrupted):
        run([keras.callbacks.BackupAndRestore(backup), InterruptAfter(interrupted_after)])
    assert (tmp_path / "backup" / "adaptive_one_cycle.json").exists()
    # The same script run again: BackupAndRestore restores the model and sets initial_epoch.
    resumed, resumed_cycle = run([keras.callbacks.BackupAndRestore(backup)])
    assert resumed_cycle.adaptive_choice == straight_cycle.adaptive_choice
    np.testing.assert_allclose(resumed.get_weights()[0], straight.get_weights()[0], rtol=1e-6, atol=1e-30)
    assert not (tmp_path / "backup").exists()  # BackupAndRestore removed its folder, our state with it


def test_a_state_that_does_not_match_the_fit_is_refused_with_a_warning():
    model = one_weight_model(keras.optimizers.SGD(0.01))
    stale = {"step": 70, "cycle_updates": 150, "choice": None, "observations": None}
    adaptive = kclr.AdaptiveOneCycle((1e-3, 10.0), resume_state=stale)
    # pytest.warns would also catch, and then re-raise, the backends' own deprecation warnings.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[adaptive])
    assert any("starts afresh" in str(w.message) for w in caught)
