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


def plot_schedule(values, ax=None):
    """Plots `{"lr": array, "momentum": array or None}` against the iteration.

    Args:
        values: The dict returned by `OneCycle.schedule_values` or `CLR.schedule_values`.
        ax: A matplotlib Axes for the learning rate, or None to make a new Figure. With momentum and
            a given `ax`, momentum is drawn on a twin y-axis.

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
    return fig
