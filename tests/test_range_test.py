"""LrRangeTest and lr_find: exact recorded losses, bit-for-bit restore, early stop, no files."""

import math
import os
import warnings

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import suggest

BACKEND = keras.backend.backend()
EXECUTIONS = [1] if BACKEND == "torch" else [1, 2]
BATCH = 4
X = np.ones((40, 1), dtype="float32")  # 10 batches an epoch
Y = np.zeros_like(X)


def one_weight_model(optimizer, steps_per_execution=1):
    kernel = keras.initializers.Constant(1.0)
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer=kernel)]
    )
    model.compile(optimizer, "mse", steps_per_execution=steps_per_execution)
    return model


def closed_form(lrs, wd, batches_per_step, w0=1.0):
    """Per-step mean batch loss w**2 under SGD (decoupled decay, then the gradient 2w of the old w),
    and the weight after each step."""
    w, means, weights = w0, [], []
    for lr in lrs.astype(np.float64):
        losses = []
        for _ in range(batches_per_step):
            losses.append(w * w)
            w = w * (1 - wd * lr) - lr * 2 * w
        means.append(np.mean(losses))
        weights.append(w)
    return np.array(means), np.array(weights)


def snapshot(model):
    return [w.copy() for w in model.get_weights()], [v.numpy().copy() for v in model.optimizer.variables]


def assert_same_state(before, after):
    for a, b in zip(before[0] + before[1], after[0] + after[1], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("steps_per_execution", EXECUTIONS, ids=lambda k: f"spe{k}")
def test_recorded_losses_are_the_true_per_batch_means(steps_per_execution):
    model = one_weight_model(keras.optimizers.SGD(0.01), steps_per_execution)
    test = kclr.LrRangeTest(
        (1e-3, 0.3),
        wd_list=[0.0, 0.5],
        steps=6,
        batches_per_step=2,
        validation_data=(X[:8], Y[:8]),
        validation_batch_size=4,
        batches_per_val=2,
    )
    model.fit(X, Y, batch_size=BATCH, epochs=test.find_n_epoch(X, BATCH), verbose=0, callbacks=[test])
    for j, wd in enumerate(test.wd_list):
        expected, weights = closed_form(test.lr, wd, 2)
        np.testing.assert_allclose(test.loss[:, j], expected, rtol=1e-5)
        # Validation after step i sees the weight that training reached, on inputs of 1, targets 0.
        np.testing.assert_allclose(test.val_loss[:, j], weights**2, rtol=1e-5)
    assert not np.allclose(test.loss[:, 0], test.loss[:, 1], rtol=1e-3)  # the decay took effect


@pytest.mark.parametrize("steps_per_execution", EXECUTIONS, ids=lambda k: f"spe{k}")
def test_losses_falling_five_orders_of_magnitude_keep_their_precision(steps_per_execution):
    # Learning rates too small to move the weight (1e-20 x a gradient <= 2 is far below float32's
    # resolution at 1), so each batch's loss is its data's: (1 - y)**2, falling from 1 to 1e-5 over
    # one epoch of 80 batches. Per-lr means from Keras's float32 running mean since the epoch began
    # lost up to 2% there (issue 22); restarted at every learning rate, about 1e-7.
    learning_rates, batches_per_lr = 40, 2
    drops = np.sqrt(np.geomspace(1.0, 1e-5, learning_rates * batches_per_lr)).astype("float32")
    y = np.repeat(1 - drops, BATCH)[:, None]
    batch_losses = (1 - y[::BATCH, 0]) ** 2  # in float32, as the model computes them
    expected = batch_losses.astype(np.float64).reshape(learning_rates, batches_per_lr).mean(1)
    model = one_weight_model(keras.optimizers.SGD(0.01), steps_per_execution)
    test = kclr.LrRangeTest(
        (1e-20, 1e-19), steps=learning_rates, batches_per_step=batches_per_lr, threshold_multiplier=1e30
    )
    model.fit(np.ones_like(y), y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[test])
    assert expected[-1] / expected[0] < 2e-5
    np.testing.assert_allclose(test.loss[:, 0], expected, rtol=1e-6, atol=0)


@pytest.mark.skipif(BACKEND != "jax", reason="only JAX keeps the live state apart from the variables")
def test_the_loss_mean_restarts_at_every_learning_rate_without_a_sync_of_the_state(monkeypatch):
    model = one_weight_model(keras.optimizers.SGD(0.01))
    own_sync, synced = model.jax_state_sync, []

    def counting_sync():
        synced.append(model._jax_state_synced)  # False: the whole state is copied into the variables
        own_sync()

    monkeypatch.setattr(model, "jax_state_sync", counting_sync)
    test = kclr.LrRangeTest((1e-3, 0.1), wd_list=[0.0, 1e-3], steps=10, batches_per_step=1)
    model.fit(X, Y, batch_size=BATCH, epochs=test.find_n_epoch(X, BATCH), verbose=0, callbacks=[test])
    # The first step's guard, each sweep's end (its restore) and Keras's own at each epoch's end:
    # none of the 20 learning rates' restarts.
    assert synced.count(False) <= 1 + 2 + 2
    assert np.isfinite(test.loss).all()
    assert "train_function" not in vars(model) or not hasattr(model.train_function, "_restart")


def test_geometric_and_linear_sweeps():
    exp = kclr.LrRangeTest((1e-4, 1.0), steps=5)
    np.testing.assert_allclose(exp.lr, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-6)
    linear = kclr.LrRangeTest((0.1, 0.5), steps=5, sweep="linear")
    np.testing.assert_allclose(linear.lr, [0.1, 0.2, 0.3, 0.4, 0.5], rtol=1e-6)


def test_everything_is_restored_bit_for_bit_and_later_training_is_unaffected():
    def trained_model():
        keras.utils.set_random_seed(7)
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
        )
        model.compile(keras.optimizers.AdamW(0.01, weight_decay=0.004), "mse")
        data = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
        model.fit(data, data.sum(1), batch_size=8, epochs=1, verbose=0)  # non-trivial optimizer state
        return model, data

    model, data = trained_model()
    before = snapshot(model)
    test = kclr.LrRangeTest((1e-4, 1.0), wd_list=[0.0, 0.1], steps=5, batches_per_step=2)
    model.fit(data, data.sum(1), batch_size=8, epochs=test.find_n_epoch(data, 8), verbose=0, callbacks=[test])
    assert_same_state(before, snapshot(model))
    assert model.optimizer.weight_decay == 0.004
    assert "apply" not in vars(model.optimizer)

    model.fit(data, data.sum(1), batch_size=8, epochs=2, shuffle=False, verbose=0)
    untouched, _ = trained_model()
    untouched.fit(data, data.sum(1), batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), untouched.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_diverging_sweep_stops_early_and_the_next_sweep_starts_from_the_same_state():
    model = one_weight_model(keras.optimizers.SGD(0.01))
    before = snapshot(model)
    # lr >= 1 makes |w| grow threefold a batch: the loss passes 5x its best within a few steps.
    test = kclr.LrRangeTest((1e-2, 10.0), wd_list=[0.0, 0.0], steps=8, batches_per_step=2)
    model.fit(X, Y, batch_size=BATCH, epochs=test.find_n_epoch(X, BATCH), verbose=0, callbacks=[test])
    stopped = int(np.argmax(np.isnan(test.loss[:, 0])))
    assert 0 < stopped < 8
    assert np.all(np.isnan(test.loss[stopped:, :]))
    assert test.loss[stopped - 1, 0] > test.threshold_multiplier * np.nanmin(test.loss[:, 0])
    # Same start, same path: equal up to the rounding of Keras's float32 running mean, from which the
    # per-lr means are taken (a learning rate whose batches span an epoch's end in one sweep only is
    # summed in two pieces there).
    np.testing.assert_allclose(test.loss[:, 0], test.loss[:, 1], rtol=0, atol=1e-6)
    assert np.array_equal(np.isnan(test.loss[:, 0]), np.isnan(test.loss[:, 1]))
    assert_same_state(before, snapshot(model))


def test_a_nan_loss_stops_the_sweep_and_nothing_is_lost():
    model = one_weight_model(keras.optimizers.SGD(0.01))
    before = snapshot(model)
    test = kclr.LrRangeTest((1e-2, 1e30), steps=10, batches_per_step=1, threshold_multiplier=1e300)
    model.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[test])
    finite = np.isfinite(test.loss[:, 0])
    assert not finite.all()
    assert not math.isfinite(test.loss[np.argmin(finite), 0])  # the non-finite step is recorded
    assert_same_state(before, snapshot(model))


class Boom(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 5:
            raise KeyboardInterrupt


def test_lr_find_restores_the_model_when_interrupted_and_reraises(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = one_weight_model(keras.optimizers.Adam(0.01))
    model.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0)
    before = snapshot(model)
    with pytest.raises(KeyboardInterrupt):
        kclr.lr_find(model, X, Y, batch_size=BATCH, callbacks=[Boom()], steps=10, batches_per_step=2)
    assert_same_state(before, snapshot(model))
    assert "apply" not in vars(model.optimizer)
    assert os.listdir(tmp_path) == []


def test_lr_find_returns_results_and_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = one_weight_model(keras.optimizers.SGD(0.01, momentum=0.9))
    test = kclr.lr_find(model, X, Y, batch_size=BATCH, steps=10, batches_per_step=1, lr_range=(1e-4, 0.1))
    assert test.loss.shape == (10, 1)
    assert np.all(np.isfinite(test.loss))
    assert test.lr[0] <= test.suggest() <= test.lr[-1]
    trimmed = suggest.trim(test.lr, suggest.smooth(test.loss[:, 0]), skip_start=1)
    for method, rule in suggest.RULES.items():
        assert test.suggest(method) == rule(*trimmed)
    assert test.best_wd is None
    assert os.listdir(tmp_path) == []


def test_best_wd_uses_validation_loss_when_given():
    test = kclr.LrRangeTest((1e-3, 1.0), wd_list=[0.0, 0.1, 0.2], steps=3, validation_data=(X, Y))
    test.loss = np.array([[1.0, 2.0, 3.0]] * 3)
    test.val_loss = np.array([[3.0, 1.0, 2.0]] * 3)
    assert test.best_wd == 0.1
    test.val_loss = None
    assert test.best_wd == 0.0


def test_find_n_epoch_covers_all_sweeps():
    test = kclr.LrRangeTest(steps=10, batches_per_step=3, wd_list=[0, 1e-4])
    assert test.find_n_epoch(X, batch_size=BATCH) == 6  # 60 batches, 10 an epoch
    assert test.find_n_epoch(X, batch_size=7) == 10  # 6 batches an epoch


def test_running_out_of_batches_warns_and_restores():
    model = one_weight_model(keras.optimizers.SGD(0.01))
    before = snapshot(model)
    test = kclr.LrRangeTest((1e-3, 0.1), steps=20, batches_per_step=1)
    with warnings.catch_warnings(record=True) as caught:  # pytest.warns would re-raise Keras's own
        warnings.simplefilter("always", UserWarning)
        model.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[test])
    assert any("ran out of batches" in str(w.message) for w in caught)
    assert np.isfinite(test.loss[:10, 0]).all()
    assert np.isnan(test.loss[10:, 0]).all()
    assert_same_state(before, snapshot(model))


INVALID = {
    "lr_range-inverted": ({"lr_range": (1.0, 1e-3)}, ValueError, "`lr_range`"),
    "lr_range-zero": ({"lr_range": (0.0, 1.0)}, ValueError, "`lr_range[0]`"),
    "steps-one": ({"steps": 1}, ValueError, "`steps` must be an integer >= 2"),
    "steps-float": ({"steps": 10.5}, TypeError, "`steps`"),
    "batches_per_step-zero": ({"batches_per_step": 0}, ValueError, "`batches_per_step`"),
    "threshold-one": ({"threshold_multiplier": 1}, ValueError, "`threshold_multiplier`"),
    "wd-negative": ({"wd_list": [0.0, -1e-4]}, ValueError, "`wd_list[1]`"),
    "wd-nan": ({"wd_list": [math.nan]}, ValueError, "`wd_list[0]`"),
    "wd-number": ({"wd_list": 1e-4}, TypeError, "`wd_list`"),
    "validation-mismatch": ({"validation_data": (X, Y[:5])}, ValueError, "`validation_data`"),
    "validation-single": ({"validation_data": X}, TypeError, "`validation_data`"),
    "validation_batch_size": ({"validation_batch_size": 0}, ValueError, "`validation_batch_size`"),
    "batches_per_val": ({"batches_per_val": -1}, ValueError, "`batches_per_val`"),
    "sweep": ({"sweep": "log"}, ValueError, "`sweep` must be one of"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_arguments_are_named(case):
    kwargs, error, words = INVALID[case]
    with pytest.raises(error) as raised:
        kclr.LrRangeTest(**kwargs)
    assert words in str(raised.value)


@pytest.mark.skipif(BACKEND == "torch", reason="Keras refuses steps_per_execution > 1 on torch")
def test_batches_per_step_must_be_a_multiple_of_steps_per_execution():
    model = one_weight_model(keras.optimizers.SGD(0.01), steps_per_execution=2)
    before = snapshot(model)
    with pytest.raises(ValueError, match="`batches_per_step` must be a multiple"):
        model.fit(
            X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[kclr.LrRangeTest(batches_per_step=3)]
        )
    assert_same_state(before, snapshot(model))


def test_plot_draws_one_smoothed_curve_per_weight_decay_and_marks_the_one_cycle_choice(tmp_path):
    model = one_weight_model(keras.optimizers.SGD(0.01))
    test = kclr.lr_find(
        model, X, Y, batch_size=BATCH, lr_range=(1e-3, 0.5), wd_list=[0.0, 0.1], steps=10, batches_per_step=1
    )
    choice = test.choose_one_cycle(total_steps=500)
    fig = test.plot(window=3, total_steps=500)
    labels = [line.get_label() for line in fig.axes[0].lines if not line.get_label().startswith("_")]
    chosen = test.wd_list.index(choice.weight_decay)
    assert labels[chosen].startswith(f"wd={choice.weight_decay:g} (chosen: ")
    assert labels[2] == f"one-cycle peak {choice.peak:.3g} (500 steps, wd {choice.weight_decay:g})"
    # Without the cycle's length no single peak is drawn: a band from a long cycle's to a short one's.
    bare = test.plot(window=3).axes[0]
    assert [line.get_label() for line in bare.lines if not line.get_label().startswith("_")] == labels[:2]
    (band,) = bare.patches
    low, high = sorted(band.get_x() + np.array([0.0, band.get_width()]))
    assert (low, high) == pytest.approx(
        sorted(test.choose_one_cycle(total_steps=t).peak for t in (1, 3000)), rel=1e-6
    )
    assert "pass total_steps" in bare.get_legend().get_texts()[-1].get_text()
    valley = test.plot(window=3, mark=test.suggest("valley"))
    labels = [line.get_label() for line in valley.axes[0].lines if not line.get_label().startswith("_")]
    assert labels == ["wd=0", "wd=0.1", f"suggested lr {test.suggest('valley'):.2g}"]
    fig.savefig(tmp_path / "lrrt.png")
    with pytest.raises(ValueError, match="`set`"):
        test.plot(set="valid")


def test_one_cycle_from_range_test_peaks_at_the_best_lr_over_the_divisor_of_its_fit():
    from keras_one_cycle_clr.range_test_result import ONE_CYCLE_PEAK_DIVISOR, one_cycle_divisor

    model = one_weight_model(keras.optimizers.SGD(0.01, momentum=0.9))
    test = kclr.lr_find(model, X, Y, batch_size=BATCH, lr_range=(1e-4, 3.0), steps=30, batches_per_step=1)
    ocp = kclr.OneCycle.from_range_test(test, momentum_range=(0.95, 0.85), phase_one_fraction=0.25)
    lrs, smoothed = suggest.trim(test.lr, suggest.smooth(test.loss[:, 0]), skip_start=3)
    lowest = lrs[np.argmin(smoothed)]
    peak = lowest / ONE_CYCLE_PEAK_DIVISOR  # before any fit: the length is unknown
    assert ocp.lr_range == pytest.approx((peak / 25, peak))
    assert ocp.momentum_range == (0.95, 0.85)
    assert ocp.phase_one_fraction == 0.25
    # Each fit's cycle gets the peak of its length: the largest learning rate the fit applied.
    batches = len(X) // BATCH
    for epochs in (1, 40):
        history = model.fit(X, Y, batch_size=BATCH, epochs=epochs, callbacks=[ocp], verbose=0)
        peak = lowest / one_cycle_divisor(epochs * batches)
        assert ocp.lr_range == pytest.approx((peak / 25, peak))
        assert ocp.one_cycle_choice.total_steps == epochs * batches
        assert max(history.history["learning_rate"]) <= peak * (1 + 1e-6)
    assert max(history.history["learning_rate"]) == pytest.approx(peak, rel=0.05)
    assert ocp.schedule_values(300)["lr"].max() == pytest.approx(lowest / one_cycle_divisor(300), rel=1e-3)
    fixed = kclr.OneCycle.from_range_test(test, divisor=3.0)  # a divisor given: no length to wait for
    model.fit(X, Y, batch_size=BATCH, epochs=40, callbacks=[fixed], verbose=0)
    assert fixed.lr_range[1] == pytest.approx(lowest / 3.0)
    with pytest.raises(ValueError, match="`div_factor`"):
        kclr.OneCycle.from_range_test(test, div_factor=1.0)


def test_a_learning_rate_whose_batches_span_two_epochs_gets_the_mean_of_all_of_them():
    # 10 batches an epoch, 3 per learning rate: steps 3 and 6 straddle an epoch boundary, where
    # Keras restarts its running mean.
    model = one_weight_model(keras.optimizers.SGD(0.01))
    test = kclr.LrRangeTest((1e-3, 0.2), steps=9, batches_per_step=3)
    model.fit(X, Y, batch_size=BATCH, epochs=test.find_n_epoch(X, BATCH), verbose=0, callbacks=[test])
    expected, _ = closed_form(test.lr, 0.0, 3)
    np.testing.assert_allclose(test.loss[:, 0], expected, rtol=1e-5)


def test_a_short_batch_gets_its_own_loss_not_one_weighted_by_batch_count():
    # 10 batches of 4 with loss 1, then one batch of a single sample with loss 100; the learning
    # rates are too small to move the weight, so every batch's loss is known.
    x = np.ones((41, 1), dtype="float32")
    y = np.zeros_like(x)
    y[40] = -9.0
    model = one_weight_model(keras.optimizers.SGD(0.01))
    test = kclr.LrRangeTest((1e-12, 1e-11), steps=11, batches_per_step=1)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[test])
    np.testing.assert_allclose(test.loss[:, 0], [1.0] * 10 + [100.0], rtol=1e-5)


@pytest.mark.skipif(BACKEND == "torch", reason="Keras refuses steps_per_execution > 1 on torch")
def test_an_epoch_that_ends_in_a_short_chunk_is_refused_before_training():
    model = one_weight_model(keras.optimizers.SGD(0.01), steps_per_execution=4)  # 10 batches an epoch
    before = snapshot(model)
    test = kclr.LrRangeTest((1e-3, 0.1), steps=5, batches_per_step=4)
    with pytest.raises(ValueError, match="multiple of the model's steps_per_execution"):
        model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[test])
    assert_same_state(before, snapshot(model))


def test_the_loss_count_read_without_a_counting_step_is_the_live_one():
    # The fallback when the compiled step does not report it (PyTorch, tf.distribute, a train
    # function rebuilt by someone else): on JAX the variable lags the trainer's state mid-fit.
    from keras_one_cycle_clr._sweep import _LossCount

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    counts = []

    class Read(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.count = _LossCount(self._model)  # `_model`: touching `model` would sync on JAX

        def on_train_batch_end(self, batch, logs=None):
            counts.append(self.count.read())

    x = np.ones((10, 1), dtype="float32")
    model.fit(x, x, batch_size=4, epochs=2, verbose=0, callbacks=[Read()])
    assert counts == [4.0, 8.0, 10.0] * 2


# -- issue 21: NaN in the data, and progress in the range test's own terms --------------------------
def test_a_loss_not_finite_from_the_first_learning_rates_is_an_error_naming_the_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = one_weight_model(keras.optimizers.SGD(0.01, momentum=0.9))
    model.optimizer.build(model.trainable_variables)
    before = snapshot(model)
    x = X.copy()
    x[5, 0] = np.nan  # one bad sample: its batch's loss is NaN in the first learning rates
    with pytest.raises(kclr.CannotChooseError, match="NaN or infinite values in the data"):
        kclr.lr_find(model, x, Y, batch_size=BATCH, steps=50, batches_per_step=2, wd_list=[0.0, 1e-3])
    assert_same_state(before, snapshot(model))
    # As a callback of the user's own fit, too: refused, and the model restored before the error.
    with pytest.raises(kclr.CannotChooseError, match="lr_range"):
        model.fit(x, Y, batch_size=BATCH, epochs=10, verbose=0, callbacks=[kclr.LrRangeTest(steps=50)])
    assert_same_state(before, snapshot(model))
    assert "apply" not in vars(model.optimizer)
    assert os.listdir(tmp_path) == []


def test_lr_find_verbose_shows_each_sweeps_learning_rates_not_epochs(capsys):
    model = one_weight_model(keras.optimizers.SGD(0.01))
    kclr.lr_find(model, X, Y, batch_size=BATCH, lr_range=(1e-3, 0.3), wd_list=[0.0, 1e-3], steps=6, verbose=1)
    printed = capsys.readouterr().out
    assert "Range test sweep 1/2, weight decay 0: 6 learning rates from 0.001 to 0.3" in printed
    assert "Range test sweep 2/2, weight decay 0.001" in printed
    for shown in ("6/6", "lr: ", "smoothed loss: "):
        assert shown in printed
    assert "Epoch 1/" not in printed
