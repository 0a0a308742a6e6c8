"""Plots show exactly the values that train, without a display and without pyplot."""

import subprocess
import sys

import numpy as np

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import plot


def test_test_run_draws_the_schedule_values(tmp_path):
    policy = kclr.OneCycle((0.01, 0.1), (0.95, 0.85))
    fig = policy.test_run()
    lr_axis, momentum_axis = fig.axes
    values = policy.schedule_values(1000)  # the seed's default length
    np.testing.assert_array_equal(lr_axis.lines[0].get_ydata(), values["lr"])
    np.testing.assert_array_equal(momentum_axis.lines[0].get_ydata(), values["momentum"])
    assert lr_axis.get_ylabel() == "learning rate"
    assert momentum_axis.get_ylabel() == "momentum"
    fig.savefig(tmp_path / "schedule.png")
    assert (tmp_path / "schedule.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_test_run_without_momentum_has_one_axis_and_uses_n_iter():
    fig = kclr.CLR(3, (0.002, 0.01)).test_run(600)
    (axis,) = fig.axes
    assert len(axis.lines[0].get_ydata()) == 600


def test_test_run_is_titled_with_the_policy_and_its_ranges():
    fig = kclr.OneCycle((0.01, 0.1), (0.95, 0.85)).test_run(100)
    assert fig.get_suptitle() == "OneCycle: lr 0.01 to 0.1, momentum 0.95 to 0.85"
    fig = kclr.CLR(3, (0.002, 0.01), mode="triangular2").test_run(100)
    assert fig.get_suptitle() == "CLR (3 cycles, triangular2): lr 0.002 to 0.01"


def test_plot_schedule_on_a_given_axis_puts_momentum_on_a_twin():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    values = kclr.CLR(2, (0.002, 0.01), (0.95, 0.85)).schedule_values(100)
    fig = plot.plot_schedule(values, ax=ax)
    assert fig is ax.figure
    assert len(fig.axes) == 2


def test_importing_the_package_leaves_the_plot_module_unloaded():
    # Keras itself may load matplotlib; what the package controls is that its plotting stays lazy.
    code = "import sys, keras_one_cycle_clr; sys.exit('keras_one_cycle_clr.plot' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, capture_output=True).returncode == 0


def fitted_one_cycle():
    """A OneCycle that ran 4 epochs of 5 steps, logging every iteration, and its History."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    policy = kclr.OneCycle((0.01, 0.1), record_frq=1)
    x, y = np.ones((40, 2), "float32"), np.ones((40, 1), "float32")
    history = model.fit(x, y, batch_size=8, epochs=4, callbacks=[policy], verbose=0)
    return history, policy


def test_the_legend_with_the_learning_rate_covers_no_curve():
    history, policy = fitted_one_cycle()
    history.history["val_loss"] = [value * 1.1 for value in history.history["loss"]]
    for fig in (
        plot.plot_from_history(history, show_lr=True, policy=policy),
        plot.plot_from_history(history, show_lr=True),
        plot.plot_from_history(history, metrics=["loss", "val_loss"], show_lr=True),
    ):
        fig.draw_without_rendering()
        metric_axes, lr_axes = fig.axes[: len(fig.axes) // 2], fig.axes[len(fig.axes) // 2 :]
        for metric_ax, lr_ax in zip(metric_axes, lr_axes, strict=True):
            legend = lr_ax.get_legend()
            assert len(legend.get_texts()) == len(metric_ax.lines) + 1  # every curve, the lr included
            # The legend lies wholly outside the data area, which every curve is drawn in.
            legend_box, data_box = legend.get_window_extent(), metric_ax.get_window_extent()
            assert legend_box.y0 >= data_box.y1, (legend_box, data_box)
            # ... and inside the figure, which the constrained layout made room for.
            assert legend_box.y1 <= fig.bbox.y1 + 1


def test_without_the_learning_rate_the_legend_stays_inside_the_axes():
    fig = plot.plot_from_history({"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.6, 0.4]})
    fig.draw_without_rendering()
    (axis,) = fig.axes
    assert axis.get_window_extent().contains(*axis.get_legend().get_window_extent().get_points()[1])
