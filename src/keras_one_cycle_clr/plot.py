"""Every matplotlib call in the package. Imported lazily: `import keras_one_cycle_clr` never loads it.

Figures are built with `matplotlib.figure.Figure`, not pyplot, so they work without a display and
leave pyplot's global state alone; save one with `fig.savefig(path)`.
"""

from __future__ import annotations


def _figure(ncols, width_per_axis=5.0, height=3.6):
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - depends on the environment
        msg = "Plotting needs matplotlib: pip install 'keras-one-cycle-clr[plot]'"
        raise ImportError(msg) from error
    return Figure(figsize=(width_per_axis * ncols, height), layout="constrained")


def plot_schedule(values, ax=None, title=None):
    """Plots `{"lr": array, "momentum": array or None}` against the iteration.

    Args:
        values: The dict returned by `OneCycle.schedule_values` or `CLR.schedule_values`.
        ax: A matplotlib Axes for the learning rate, or None to make a new Figure. With momentum and
            a given `ax`, momentum is drawn on a twin y-axis.
        title: A figure title, or None. Defaults to None.

    Returns:
        The matplotlib Figure.
    """
    momentum = values.get("momentum")
    if ax is None:
        fig = _figure(2 if momentum is not None else 1)
        axes = fig.subplots(1, 2 if momentum is not None else 1, squeeze=False)[0]
        lr_ax, momentum_ax = axes[0], (axes[1] if momentum is not None else None)
    else:
        fig, lr_ax = ax.figure, ax
        momentum_ax = ax.twinx() if momentum is not None else None
    lr_ax.plot(values["lr"], color="tab:blue")
    lr_ax.set_xlabel("iteration")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_title("Learning rate")
    lr_ax.grid(alpha=0.3)
    if momentum_ax is not None:
        momentum_ax.plot(momentum, color="tab:orange")
        momentum_ax.set_xlabel("iteration")
        momentum_ax.set_ylabel("momentum")
        momentum_ax.set_title("Momentum")
        momentum_ax.grid(alpha=0.3)
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_loss_curves(histories, ax=None, ylabel="loss"):
    """Plots training (solid) and validation (dashed) loss per epoch, one colour per run.

    Example:

    >>> from keras_one_cycle_clr.plot import plot_loss_curves
    >>> fig = plot_loss_curves({"one cycle": {"loss": [1.0, 0.4], "val_loss": [1.1, 0.5]}})
    >>> ax = fig.axes[0]
    >>> ax.get_xlabel(), ax.get_ylabel(), len(ax.lines)
    ('epoch', 'loss', 2)

    Args:
        histories: A dict from a run's label to its Keras `History.history` dict; `loss` is drawn,
            and `val_loss` when present.
        ax: A matplotlib Axes to draw on, or None to make a new Figure.
        ylabel: The y-axis label. Defaults to "loss".

    Returns:
        The matplotlib Figure.
    """
    if ax is None:
        fig = _figure(1, width_per_axis=6.4, height=4.0)
        ax = fig.subplots()
    else:
        fig = ax.figure
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    for index, (label, history) in enumerate(histories.items()):
        color = colors[index % len(colors)]
        epochs = range(1, len(history["loss"]) + 1)
        ax.plot(epochs, history["loss"], color=color, marker="o", markersize=3, label=f"{label}: train")
        if "val_loss" in history:
            ax.plot(
                epochs,
                history["val_loss"],
                color=color,
                linestyle="--",
                marker="o",
                markersize=3,
                label=f"{label}: validation",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.set_title("Training and validation loss")
    ax.grid(alpha=0.3, which="both")
    if histories:
        ax.legend()
    return fig
