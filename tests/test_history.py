"""Histories join, round-trip through CSV and plot without losing or inventing a value."""

import math

import keras
import numpy as np
import pytest

from keras_one_cycle_clr import history as hist
from keras_one_cycle_clr import plot

NAN = math.nan


def _fit(epochs, with_validation, callbacks=()):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    validation = (x, y) if with_validation else None
    return model.fit(
        x, y, batch_size=8, epochs=epochs, validation_data=validation, verbose=0, callbacks=list(callbacks)
    )


@pytest.fixture(scope="module")
def two_fits(tmp_path_factory):
    """Two consecutive `fit` calls, only the second one validated, the second one also CSV-logged."""
    log_path = tmp_path_factory.mktemp("csv_logger") / "log.csv"
    first = _fit(2, with_validation=False)
    second = _fit(2, with_validation=True, callbacks=[keras.callbacks.CSVLogger(str(log_path))])
    return first, second, log_path


def test_two_real_histories_join_and_pad_the_missing_validation_with_nan(two_fits):
    first, second, _ = two_fits
    assert isinstance(first, keras.callbacks.History)
    joined = hist.concatenate_history([first, second])
    assert list(joined) == ["epoch", "loss", "val_loss"]
    assert joined["epoch"] == [0, 1, 0, 1]
    assert joined["loss"] == first.history["loss"] + second.history["loss"]
    np.testing.assert_array_equal(joined["val_loss"], [NAN, NAN, *second.history["val_loss"]])
    assert all(type(value) is float for value in joined["loss"] + joined["val_loss"])


def test_reindex_epoch_numbers_the_joined_epochs_continuously(two_fits):
    first, second, _ = two_fits
    joined = hist.concatenate_history([first, second, first], reindex_epoch=True)
    assert joined["epoch"] == [0, 1, 2, 3, 4, 5]
    assert len(joined["loss"]) == len(joined["val_loss"]) == 6


def test_epochs_are_taken_from_history_epoch_and_from_a_dicts_epoch_list(two_fits):
    first, _, _ = two_fits
    resumed = {"epoch": [2, 3], "loss": [0.3, 0.2], "accuracy": [0.8, 0.9]}
    joined = hist.concatenate_history([first, resumed])
    assert joined["epoch"] == [0, 1, 2, 3]
    np.testing.assert_array_equal(joined["accuracy"], [NAN, NAN, 0.8, 0.9])
    # The result is itself a valid part: joining it again keeps its epochs.
    assert hist.concatenate_history([joined])["epoch"] == [0, 1, 2, 3]


def test_plain_dicts_join_in_order_with_keys_in_order_of_first_appearance():
    joined = hist.concatenate_history(
        [{"loss": [1.0], "val_loss": [1.5]}, {"loss": np.array([0.5, 0.25]), "acc": [0.6, 0.7]}]
    )
    np.testing.assert_array_equal(
        list(joined.values()), [[0, 0, 1], [1.0, 0.5, 0.25], [1.5, NAN, NAN], [NAN, 0.6, 0.7]]
    )
    assert list(joined) == ["epoch", "loss", "val_loss", "acc"]
    assert hist.concatenate_history([{}]) == {"epoch": []}
    assert hist.concatenate_history([keras.callbacks.History()]) == {"epoch": []}


@pytest.mark.parametrize(
    ("hlist", "error", "match"),
    [
        pytest.param(
            [], ValueError, r"Argument `hlist` must be a non-empty list.*Received: hlist=\[\]", id="empty"
        ),
        pytest.param({"loss": [1.0]}, TypeError, r"Argument `hlist` must be a list", id="bare-dict"),
        pytest.param(
            [{"loss": [1.0]}, [1.0]], TypeError, r"Argument `hlist\[1\]` must be a keras", id="item"
        ),
        pytest.param(
            [{"loss": [1.0, 0.5], "val_loss": [1.0]}], ValueError, r"hlist\[0\].*lengths", id="ragged"
        ),
        pytest.param([{"epoch": [0], "loss": [1.0, 0.5]}], ValueError, r"hlist\[0\].*lengths", id="epochs"),
        pytest.param([{"loss": 1.0}], TypeError, r"hlist\[0\]` must hold one number per epoch", id="scalar"),
        pytest.param([{"loss": ["a"]}], TypeError, r"hlist\[0\]` must hold one number", id="text"),
        pytest.param([{"epoch": [0.5], "loss": [1.0]}], TypeError, r"hlist\[0\]\['epoch'\]", id="epoch"),
    ],
)
def test_bad_hlist_is_refused_with_a_message_naming_it(hlist, error, match):
    with pytest.raises(error, match=match):
        hist.concatenate_history(hlist)


def test_reindex_epoch_must_be_a_bool():
    with pytest.raises(TypeError, match="Argument `reindex_epoch` must be a bool"):
        hist.concatenate_history([{"loss": [1.0]}], reindex_epoch="yes")


def test_csv_round_trip_keeps_every_value_and_nan(two_fits, tmp_path):
    first, second, _ = two_fits
    joined = hist.concatenate_history([first, second], reindex_epoch=True)
    joined["loss"][1] = math.inf
    hist.save_history_to_csv(joined, tmp_path / "joined.csv")
    loaded = hist.load_history_from_csv(tmp_path / "joined.csv")
    assert list(loaded) == list(joined)
    assert loaded["epoch"] == joined["epoch"]
    assert all(type(epoch) is int for epoch in loaded["epoch"])
    np.testing.assert_array_equal(list(loaded.values()), list(joined.values()))  # exact, NaN == NaN

    hist.save_history_to_csv(second, str(tmp_path / "second.csv"))
    assert hist.load_history_from_csv(str(tmp_path / "second.csv")) == {
        "epoch": second.epoch,
        **second.history,
    }


def test_a_keras_csv_logger_file_loads_as_the_same_history(two_fits):
    _, second, log_path = two_fits
    assert hist.load_history_from_csv(log_path) == {"epoch": second.epoch, **second.history}


def test_load_fills_missing_fields_with_nan_and_numbers_epochs_when_absent(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("loss,val_loss\n0.9,\n0.7,NA\n0.5,0.6\n")
    loaded = hist.load_history_from_csv(path)
    assert loaded["epoch"] == [0, 1, 2]
    np.testing.assert_array_equal(loaded["val_loss"], [NAN, NAN, 0.6])
    path.write_text("")
    with pytest.raises(ValueError, match="first row names the columns"):
        hist.load_history_from_csv(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epoch,loss\n0,1.0,2.0\n", "2 fields in every row"),
        ("epoch,loss\n0,big\n", "'big' in column 'loss' of row 2"),
        ("epoch,loss,loss\n0,1.0,1.0\n", "distinct column names"),
        ("epoch,loss\n0.5,1.0\n", "`epoch` column holds integers"),
    ],
)
def test_load_refuses_a_malformed_file(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        hist.load_history_from_csv(path)


def test_save_and_load_check_their_arguments(tmp_path):
    with pytest.raises(TypeError, match=r"Argument `filepath` must be a str or os\.PathLike"):
        hist.save_history_to_csv({"loss": [1.0]}, 3)
    with pytest.raises(TypeError, match=r"Argument `history` must be a keras\.callbacks\.History"):
        hist.save_history_to_csv([1.0], tmp_path / "x.csv")
    with pytest.raises(FileNotFoundError):
        hist.load_history_from_csv(tmp_path / "missing.csv")
    assert not (tmp_path / "x.csv").exists()


def _trailing_mean_reference(x, window):
    return np.array([np.mean(x[max(0, i - window + 1) : i + 1]) for i in range(len(x))])


@pytest.mark.parametrize("window", [1, 2, 5, 37, 200])
def test_moving_window_avg_matches_a_direct_numpy_mean(window):
    x = np.random.default_rng(window).normal(size=100)
    smoothed = hist.moving_window_avg(x, window)
    assert smoothed.shape == x.shape
    assert smoothed.dtype == np.float64
    np.testing.assert_allclose(smoothed, _trailing_mean_reference(x, window), rtol=1e-12, atol=1e-12)


def test_moving_window_avg_confines_nan_to_the_windows_that_contain_it():
    smoothed = hist.moving_window_avg([1.0, NAN, 3.0, 5.0, 7.0], window=2)
    np.testing.assert_array_equal(smoothed, [1.0, NAN, NAN, 4.0, 6.0])
    assert hist.moving_window_avg([], window=3).shape == (0,)
    np.testing.assert_array_equal(hist.moving_window_avg((1, 2), window=np.int64(1)), [1.0, 2.0])


@pytest.mark.parametrize(
    ("x", "window", "error", "match"),
    [
        ([1.0], 0, ValueError, r"Argument `window` must be an integer >= 1\. Received: window=0"),
        ([1.0], 2.0, TypeError, r"Argument `window` must be an integer >= 1"),
        ([1.0], True, TypeError, r"Argument `window`"),
        ([[1.0, 2.0]], 1, ValueError, r"Argument `x` must be one-dimensional"),
        (["a"], 1, TypeError, r"Argument `x` must be a 1-D sequence of numbers"),
    ],
)
def test_moving_window_avg_checks_its_arguments(x, window, error, match):
    with pytest.raises(error, match=match):
        hist.moving_window_avg(x, window)


def test_plot_from_history_draws_train_solid_and_validation_dashed(two_fits):
    first, second, _ = two_fits
    joined = hist.concatenate_history([first, second], reindex_epoch=True)
    fig = plot.plot_from_history(joined)
    (axis,) = fig.axes
    train, validation = axis.lines
    np.testing.assert_array_equal(train.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_array_equal(train.get_ydata(), joined["loss"])
    np.testing.assert_array_equal(validation.get_ydata(), joined["val_loss"])
    assert (train.get_linestyle(), validation.get_linestyle()) == ("-", "--")
    assert (train.get_label(), validation.get_label()) == ("loss", "val_loss")
    assert (axis.get_xlabel(), axis.get_ylabel()) == ("epoch", "loss")
    assert [text.get_text() for text in axis.get_legend().get_texts()] == ["loss", "val_loss"]


def test_plot_from_history_accepts_a_history_and_puts_the_lr_on_a_log_twin_axis(two_fits):
    _, second, _ = two_fits
    second.history["lr"] = [0.1, 0.01]  # the seed's key; the fixture's History is shared, so restore it
    try:
        fig = plot.plot_from_history(second, show_lr=True)
    finally:
        del second.history["lr"]
    metric_axis, lr_axis = fig.axes
    assert len(metric_axis.lines) == 2
    np.testing.assert_array_equal(lr_axis.lines[0].get_ydata(), [0.1, 0.01])
    assert (lr_axis.get_yscale(), lr_axis.get_ylabel()) == ("log", "learning rate")
    assert [text.get_text() for text in lr_axis.get_legend().get_texts()] == [
        "loss",
        "val_loss",
        "learning rate",
    ]


def test_plot_from_history_draws_the_per_iteration_learning_rate_of_the_callback():
    import keras_one_cycle_clr as kclr

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    policy = kclr.OneCycle((0.01, 0.1), record_frq=1)
    x, y = np.ones((40, 2), "float32"), np.ones((40, 1), "float32")
    history = model.fit(x, y, batch_size=8, epochs=4, callbacks=[policy], verbose=0)  # 5 steps an epoch
    per_epoch = plot.plot_from_history(history, show_lr=True)
    per_iteration = plot.plot_from_history(history, show_lr=True, policy=policy)
    (epoch_line,) = per_epoch.axes[1].lines
    (iteration_line,) = per_iteration.axes[1].lines
    np.testing.assert_array_equal(epoch_line.get_xdata(), [0, 1, 2, 3])
    iterations = np.arange(20)
    np.testing.assert_allclose(iteration_line.get_xdata(), (iterations + 1) / 5 - 1)
    np.testing.assert_allclose(
        iteration_line.get_ydata(), policy.schedule_values(20)["lr"][iterations], rtol=1e-6
    )
    # The rise within the first epochs shows only per iteration: more values, the peak among them.
    assert iteration_line.get_ydata().max() == pytest.approx(0.1, rel=1e-3)
    assert epoch_line.get_ydata().max() < 0.1 * 0.99


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"policy": "OneCycle"}, TypeError, r"Argument `policy` must be a OneCycle or CLR callback"),
        ({"show_lr": False}, ValueError, r"Argument `policy` must be None when show_lr=False"),
    ],
)
def test_plot_from_history_refuses_a_policy_it_cannot_use(kwargs, error, match):
    import keras_one_cycle_clr as kclr

    kwargs = {"show_lr": True, "policy": kclr.OneCycle((0.01, 0.1)), **kwargs}
    with pytest.raises(error, match=match):
        plot.plot_from_history({"loss": [1.0]}, **kwargs)
    with pytest.raises(ValueError, match=r"a callback that has run in a `fit`"):
        plot.plot_from_history({"loss": [1.0]}, show_lr=True, policy=kclr.OneCycle((0.01, 0.1)))


def test_plot_from_history_one_axis_per_metric_or_all_on_a_given_axis():
    from matplotlib.figure import Figure

    history = {
        "loss": [1.0, 0.5],
        "accuracy": [0.5, 0.8],
        "val_accuracy": [0.4, 0.7],
        "learning_rate": [0.0, 0.1],
    }
    fig = plot.plot_from_history(history, metrics=["loss", "accuracy"], show_lr=True)
    loss_axis, accuracy_axis, *lr_axes = fig.axes
    assert [len(loss_axis.lines), len(accuracy_axis.lines), len(lr_axes)] == [1, 2, 2]
    np.testing.assert_array_equal(accuracy_axis.lines[1].get_ydata(), [0.4, 0.7])
    assert lr_axes[0].get_yscale() == "linear"  # a rate of 0 cannot go on a log scale

    ax = Figure().subplots()
    fig = plot.plot_from_history(history, metrics="accuracy", ax=ax)
    assert fig is ax.figure
    assert [line.get_label() for line in ax.lines] == ["accuracy", "val_accuracy"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metrics": ("loss", "f1")}, ValueError, r"Argument `metrics` must be names recorded in `history`"),
        ({"metrics": ()}, ValueError, r"Argument `metrics` must be a non-empty"),
        ({"metrics": 3}, TypeError, r"Argument `metrics` must be a metric name"),
        ({"show_lr": True}, ValueError, r"Argument `show_lr` must be False when `history` records no"),
        ({"show_lr": 1}, TypeError, r"Argument `show_lr` must be a bool"),
    ],
)
def test_plot_from_history_refuses_what_it_cannot_draw(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.plot_from_history({"loss": [1.0], "val_loss": [1.1]}, **kwargs)


def test_plot_from_history_refuses_a_non_history():
    with pytest.raises(TypeError, match=r"Argument `history` must be a keras.callbacks.History"):
        plot.plot_from_history([1.0, 0.5])


def test_reset_keras_leaves_keras_usable():
    keras.layers.Dense(1)
    hist.reset_keras()
    # Name counters restart, as they do in a fresh process.
    assert keras.layers.Dense(1).name == "dense"
    history = _fit(1, with_validation=False)
    assert len(history.history["loss"]) == 1
    hist.cuda_release_memory()
    assert len(_fit(1, with_validation=False).history["loss"]) == 1


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="emptying the CUDA cache is torch-only")
def test_memory_helpers_empty_the_torch_cuda_cache_when_cuda_is_there(monkeypatch):
    import torch

    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty_cache"))
    # The real clear_session would reset torch's compiler caches as if CUDA were there; keep to ours.
    monkeypatch.setattr(keras.utils, "clear_session", lambda free_memory: calls.append(free_memory))
    hist.cuda_release_memory()
    hist.reset_keras()
    assert calls == ["empty_cache", True, "empty_cache"]


def test_seed_names_are_importable_from_the_package_and_utils():
    import keras_one_cycle_clr as kclr
    from keras_one_cycle_clr import plot, utils

    assert utils.concatenate_history is kclr.concatenate_history
    assert utils.plot_from_history is plot.plot_from_history
    assert kclr.plot_from_history is plot.plot_from_history
