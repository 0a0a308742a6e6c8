"""Every matplotlib call in the package. Imported lazily: `import keras_one_cycle_clr` never loads it.

Figures are built with `matplotlib.figure.Figure`, not pyplot, so they work without a display and
leave pyplot's global state alone; save one with `fig.savefig(path)`.
"""

from __future__ import annotations

from collections.abc import Mapping

from keras_one_cycle_clr._checks import check_choice, fail


def _matplotlib():
    try:
        import matplotlib.axes
        import matplotlib.figure
        import matplotlib.scale
    except ImportError as error:  # pragma: no cover - depends on the environment
        msg = "Plotting needs matplotlib: pip install 'keras-one-cycle-clr[plot]'"
        raise ImportError(msg) from error
    return matplotlib


def _figure(ncols, width_per_axis=5.0, height=3.6):
    return _matplotlib().figure.Figure(figsize=(width_per_axis * ncols, height), layout="constrained")


def _check_ax(ax):
    if ax is not None and not isinstance(ax, _matplotlib().axes.Axes):
        fail("ax", "a matplotlib Axes, or None", ax, TypeError)


def _check_scale(name, scale):
    return check_choice(name, scale, _matplotlib().scale.get_scale_names())


def plot_schedule(values, ax=None, title=None):
    """Plots `{"lr": array, "momentum": array or None}` against the iteration.

    Example:

    >>> import keras_one_cycle_clr as kclr
    >>> fig = plot_schedule(kclr.OneCycle((0.01, 0.1), (0.95, 0.85)).schedule_values(100))
    >>> [ax.get_title() for ax in fig.axes]
    ['Learning rate', 'Momentum']

    Args:
        values: The dict returned by `OneCycle.schedule_values` or `CLR.schedule_values`.
        ax: A matplotlib Axes for the learning rate, or None to make a new Figure. With momentum and
            a given `ax`, momentum is drawn on a twin y-axis.
        title: A figure title, or None. Defaults to None.

    Returns:
        The matplotlib Figure.
    """
    if not isinstance(values, Mapping) or "lr" not in values:
        fail("values", 'a dict {"lr": array, "momentum": array or None}', values, TypeError)
    _check_ax(ax)
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
    if not isinstance(histories, Mapping) or not all(
        isinstance(history, Mapping) and "loss" in history for history in histories.values()
    ):
        fail("histories", 'a dict from a label to a History.history dict with "loss"', histories, TypeError)
    _check_ax(ax)
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


def plot_from_history(history, metrics=("loss",), show_lr=False, ax=None, *, policy=None):
    """Plots each metric's training (solid) and validation (dashed) curve against the epoch.

    For every name in `metrics`, the `name` entry of the history is drawn as a solid line and its
    `val_name` entry, when recorded, as a dashed line of the same colour. Epochs are the history's own
    (`History.epoch`, or a dict's `"epoch"` list, 0-based as Keras records them); NaN entries, such as the
    padding `concatenate_history` adds for runs without validation, leave gaps. With `show_lr`, the
    learning rate is drawn dotted on a twin y-axis with a log scale (linear if some rate is not
    positive): the history's `learning_rate` (or the seed's `lr`), one value per epoch, which hides a
    one cycle's rise within epochs; or, given the `OneCycle` or `CLR` callback of the fit as `policy`,
    its per-iteration `log` (every `record_frq` iterations), iteration `i` at epoch
    `(i + 1) / steps_per_epoch - 1`, so that each epoch's last iteration falls on that epoch's point.
    The legend sits inside the axes, or with `show_lr` above them, where it covers no curve.

    Example:

    >>> from keras_one_cycle_clr.plot import plot_from_history
    >>> history = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.5], "learning_rate": [0.01, 0.1, 0.01]}
    >>> fig = plot_from_history(history, show_lr=True)
    >>> metric_axis, lr_axis = fig.axes
    >>> [line.get_label() for line in metric_axis.lines], metric_axis.get_xlabel()
    (['loss', 'val_loss'], 'epoch')
    >>> lr_axis.get_ylabel(), lr_axis.get_yscale()
    ('learning rate', 'log')

    With the callback, the learning rate of every recorded iteration:

    >>> import keras, numpy as np
    >>> import keras_one_cycle_clr as kclr
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    >>> ocp = kclr.OneCycle((0.01, 0.1), record_frq=1)
    >>> history = model.fit(np.ones((64, 4)), np.ones((64, 1)), epochs=3, callbacks=[ocp], verbose=0)
    >>> fig = plot_from_history(history, show_lr=True, policy=ocp)  # 2 batches an epoch
    >>> fig.axes[1].lines[0].get_xdata().tolist()
    [-0.5, 0.0, 0.5, 1.0, 1.5, 2.0]

    Args:
        history: A `keras.callbacks.History` (what `model.fit` returns) or a dict from a metric name to
            one value per epoch, optionally with an `"epoch"` list, such as the result of
            `concatenate_history` or `load_history_from_csv`.
        metrics: A metric name or a sequence of them, without the `val_` prefix. Each is drawn on an
            axis of its own when `ax` is None. Defaults to `("loss",)`.
        show_lr: A Python bool. Whether to draw the learning rate on a twin y-axis of each metric's
            axis. Defaults to False.
        ax: A matplotlib Axes to draw every metric on, or None to make a new Figure with one axis per
            metric.
        policy: The `OneCycle` or `CLR` callback of the fit that `history` records, or None. With
            `show_lr`, its `log` gives the learning rate per iteration. Defaults to None.

    Returns:
        The matplotlib Figure.

    Raises:
        TypeError: If `history` is neither a History nor a dict of per-epoch lists, if `metrics` is not
            a name or a sequence of names, or if `show_lr` is not a bool.
        ValueError: If a name in `metrics` is recorded neither as `name` nor as `val_name` in `history`,
            if `metrics` is empty, if `show_lr` is True and neither `history` nor `policy` records a
            learning rate, if `policy` is given without `show_lr` or has not run, or if the lists of
            `history` have different lengths.
    """
    import numpy as np

    from keras_one_cycle_clr._checks import check_bool
    from keras_one_cycle_clr.history import _history_columns

    columns = _history_columns(history, "history")
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not isinstance(metrics, (list, tuple)) or not all(isinstance(name, str) for name in metrics):
        fail("metrics", "a metric name or a sequence of metric names", metrics, TypeError)
    if not metrics:
        fail("metrics", "a non-empty sequence of metric names", metrics)
    if any(name not in columns and f"val_{name}" not in columns for name in metrics):
        recorded = ", ".join(key for key in columns if key != "epoch") or "none"
        fail("metrics", f"names recorded in `history` ({recorded})", metrics)
    show_lr = check_bool("show_lr", show_lr)
    lr_epochs, lr_values = None, None
    if policy is not None:
        if not show_lr:
            fail("policy", "None when show_lr=False (it gives the learning rate to show)", policy)
        lr_epochs, lr_values = _per_iteration_lr(policy)
    else:
        lr_key = next((key for key in ("learning_rate", "lr") if key in columns), None)
        if show_lr and lr_key is None:
            fail("show_lr", "False when `history` records no `learning_rate` or `lr`", show_lr)
        if show_lr:
            lr_epochs, lr_values = columns["epoch"], np.asarray(columns[lr_key], dtype=float)
    _check_ax(ax)

    if ax is None:
        fig = _figure(len(metrics))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        groups = [(metric_ax, (name,)) for metric_ax, name in zip(axes, metrics, strict=True)]
    else:
        fig, groups = ax.figure, [(ax, tuple(metrics))]
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    epochs = columns["epoch"]
    for metric_ax, names in groups:
        for index, name in enumerate(names):
            style = {"color": colors[index % len(colors)], "marker": "o", "markersize": 3}
            for key, linestyle in ((name, "-"), (f"val_{name}", "--")):
                if key in columns:
                    metric_ax.plot(epochs, columns[key], linestyle=linestyle, label=key, **style)
        metric_ax.set_xlabel("epoch")
        metric_ax.set_ylabel(", ".join(names))
        metric_ax.grid(alpha=0.3)
        handles, labels = metric_ax.get_legend_handles_labels()
        if not show_lr:
            metric_ax.legend(handles, labels)
            continue
        lr_ax = metric_ax.twinx()
        lr_ax.plot(lr_epochs, lr_values, color="tab:gray", linestyle=":", label="learning rate")
        lr_ax.set_ylabel("learning rate")
        if np.all(lr_values[~np.isnan(lr_values)] > 0):
            lr_ax.set_yscale("log")
        lr_handles, lr_labels = lr_ax.get_legend_handles_labels()
        handles, labels = handles + lr_handles, labels + lr_labels
        # The twin is drawn over its parent, so the legend goes on the twin; but its "best" place
        # avoids the twin's curve only, and a per-iteration learning rate spans the whole width: inside
        # the axes it would cover the metric curves. Above the axes it covers nothing.
        lr_ax.legend(
            handles,
            labels,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.02, 1.0, 0.1),
            mode="expand",
            ncols=min(len(labels), 3),
            borderaxespad=0.0,
        )
    return fig


def _per_iteration_lr(policy):
    """(epochs, learning rates) from a OneCycle or CLR callback's per-iteration `log`."""
    import numpy as np

    log = getattr(policy, "log", None)
    if not isinstance(log, Mapping):
        fail("policy", "a OneCycle or CLR callback, or None", policy, TypeError)
    steps = (getattr(policy, "params", None) or {}).get("steps")
    if not log.get("iter") or "lr" not in log or not steps:
        fail("policy", "a callback that has run in a `fit` (its `log` is empty)", policy)
    iterations = np.asarray(log["iter"], dtype=float)
    return (iterations + 1) / steps - 1, np.asarray(log["lr"], dtype=float)


def plot_range_test(
    lrs,
    losses,
    labels,
    suggestion=None,
    suggestion_label=None,
    window=None,
    x_scale="log",
    y_scale="linear",
    ylabel="loss",
    ax=None,
    span=None,
    title=None,
):
    """Plots a range test: loss against learning rate, one curve per sweep; returns the Figure.

    Example:

    >>> import numpy as np
    >>> from keras_one_cycle_clr.plot import plot_range_test
    >>> lrs = np.geomspace(1e-4, 1, 20)
    >>> fig = plot_range_test(lrs, np.stack([1 / (1 + lrs), 1 / (1 + 2 * lrs)], 1), ["wd=0", "wd=1e-4"])
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['wd=0', 'wd=1e-4']

    Args:
        lrs: The learning rates, shape `(steps,)`.
        losses: Shape `(steps, n_sweeps)`; NaN where a sweep stopped.
        labels: One legend label per sweep.
        suggestion: A learning rate to mark with a vertical line, or None.
        suggestion_label: The line's legend label. Defaults to "suggested lr <value>".
        window: Draw a trailing moving average of this many steps (the raw curve faint behind it), or
            None for the raw curve only.
        x_scale, y_scale: matplotlib axis scales. Default to "log" and "linear".
        ylabel: The y-axis label. Defaults to "loss".
        ax: A matplotlib Axes, or None to make a new Figure.
        span: `(low, high, label)`: a band of learning rates to shade, or None. Defaults to None.
        title: The Axes title. Defaults to "Learning-rate range test".

    Returns:
        The matplotlib Figure.
    """
    import numpy as np

    from keras_one_cycle_clr._checks import check_count, check_positive
    from keras_one_cycle_clr.history import moving_window_avg

    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    if lrs.ndim != 1:
        fail("lrs", "one-dimensional", lrs)
    if losses.ndim not in (1, 2) or len(losses) != len(lrs):
        msg = (
            f"Argument `losses` must be of shape (steps, n_sweeps) with steps=len(lrs)={len(lrs)}. "
            f"Received: losses of shape {losses.shape}"
        )
        raise ValueError(msg)
    losses = losses.reshape(len(lrs), -1)
    requirement = f"a sequence of one label per sweep ({losses.shape[1]})"
    if isinstance(labels, str) or not hasattr(labels, "__len__"):
        fail("labels", requirement, labels, TypeError)
    if len(labels) != losses.shape[1]:
        fail("labels", requirement, labels)
    if suggestion is not None:
        check_positive("suggestion", suggestion)
    if window is not None:
        check_count("window", window)
    _check_scale("x_scale", x_scale)
    _check_scale("y_scale", y_scale)
    _check_ax(ax)
    if ax is None:
        fig = _figure(1, width_per_axis=6.4, height=4.0)
        ax = fig.subplots()
    else:
        fig = ax.figure
    finite = losses[np.isfinite(losses)]
    for column, label in enumerate(labels):
        curve = losses[:, column]
        if window is not None:
            (raw,) = ax.plot(lrs, curve, alpha=0.25, linewidth=1)
            ax.plot(lrs, moving_window_avg(curve, window), color=raw.get_color(), label=label)
        else:
            ax.plot(lrs, curve, label=label)
    if suggestion is not None:
        label = suggestion_label or f"suggested lr {suggestion:.2g}"
        ax.axvline(suggestion, color="black", linestyle=":", label=label)
    if span is not None:
        low, high, label = span
        ax.axvspan(
            check_positive("span[0]", low),
            check_positive("span[1]", high),
            color="0.5",
            alpha=0.15,
            label=label,
        )
    if finite.size:  # keep the diverged tail from squashing the interesting part of the curve
        low, high = finite.min(), np.percentile(finite, 95)
        margin = 0.05 * (high - low or 1.0)
        ax.set_ylim(low - margin if y_scale == "linear" else None, high + margin)
    ax.set_xscale(x_scale)
    ax.set_yscale(y_scale)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Learning-rate range test")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig
