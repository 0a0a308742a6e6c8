"""A small end-to-end demo: one cycle against a constant learning rate on scikit-learn's digits.

`python -m keras_one_cycle_clr demo --out DIR` works on the 8x8 digits that ship with scikit-learn
(nothing is downloaded). It runs a learning-rate range test with a weight-decay grid, lets it choose
the one-cycle learning rates and the weight decay (`choose_one_cycle`), then trains the same small MLP
from the same initial weights, always with `SGD(momentum=0.9)`: once with that one cycle, once with
a tuned constant learning rate for as many epochs, and once with the constant for twice the epochs
(would the one cycle reach the constant's accuracy in fewer epochs?). It does all that for three
seeds (each its own split, initial weights and range test), prints the validation accuracy of every
run, their mean and spread, and a conclusion drawn from those numbers. At this size the one cycle
does not beat the tuned constant (BENCHMARKS.md, section 6): the digits saturate near 97-98%, and the
conclusion says so whenever the numbers do. `--quick` is a smoke run (one seed, 2 epochs, a short
range test) that compares nothing. It writes to DIR, from the first seed:

- `range_test.png`: validation loss against learning rate, one curve per weight decay;
- `schedule.png`: the one-cycle learning rate and momentum over the real number of steps;
- `loss_curves.png`: training and validation loss of the runs, epoch by epoch;
- `summary.json`: the backend, the settings, each run's final validation accuracy and wall time
  (`runs`), and every seed's runs with the conclusion (`comparison`).

It needs the `demo` extra: `pip install 'keras-one-cycle-clr[demo]'` (scikit-learn, matplotlib).
"""

from __future__ import annotations

import json
import statistics
import sys
import textwrap
import time
from pathlib import Path
from typing import TextIO

import keras

from keras_one_cycle_clr import _checks, _data, suggest
from keras_one_cycle_clr.callbacks import OneCycle
from keras_one_cycle_clr.range_test import lr_find

DEFAULT_OUT = "demo_out"
DEFAULT_EPOCHS = 8
QUICK_EPOCHS = 2
DEFAULT_SEED = 0
DEFAULT_SEED_COUNT = 3
QUICK_SEED_COUNT = 1
LONG_EPOCHS_FACTOR = 2  # the constant's second run: as many epochs again
BATCH_SIZE = 32
VALIDATION_FRACTION = 0.2
HIDDEN_UNITS = 128
SGD_MOMENTUM = 0.9
RANGE_TEST = {"lr_range": (1e-4, 10.0), "steps": 100, "batches_per_step": 1}
WD_GRID = (0.0, 1e-4, 1e-3, 1e-2)
MOMENTUM_RANGE = (0.95, 0.85)
# The baseline is a tuned constant, not a strawman: 0.05 beat 0.01 and 0.03 at 3 to 12 epochs.
CONSTANT_LR = 0.05
_RUN_LABELS = {"one_cycle": "one cycle", "constant": "constant lr", "constant_long": "constant lr"}
SMOKE_RUN = (
    "--quick is a smoke run (a short range test, few epochs): it shows that everything runs, and its "
    "accuracies say nothing about the one cycle against the constant. Run the demo without --quick "
    "for that comparison, over seeds."
)


def run_demo(
    out_dir: str | Path = DEFAULT_OUT,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
    quick: bool = False,
    stream: TextIO | None = None,
    seed_count: int | None = None,
) -> dict:
    """Range test, then one cycle against a constant learning rate on digits, over seeds; writes plots
    and a summary.

    For each seed `seed, seed + 1, ...`: a range test chooses the one cycle's peak and weight decay,
    and three runs start from the same initial weights: the one cycle for `epochs`, the constant for
    `epochs` and the constant for `2 * epochs` (not in a quick run). The last lines printed compare
    the runs' validation accuracy over the seeds, and conclude from those numbers alone
    (`compare_over_seeds`).

    Example:

    >>> summary = run_demo("demo_out")  # doctest: +SKIP
    >>> summary["comparison"]["verdict"]  # doctest: +SKIP
    'level'

    Args:
        out_dir: A directory (created if missing) for `range_test.png`, `schedule.png`,
            `loss_curves.png` and `summary.json`. Defaults to `"demo_out"`.
        epochs: A Python int >= 1. Epochs of the one cycle, which is also the length of the cycle,
            and of the constant's first run. Defaults to 8, or 2 with `quick`.
        seed: A Python int >= 0. The first seed; each seed sets the train/validation split and the
            initial weights, which the runs of that seed share. Defaults to 0.
        quick: A Python bool. A smoke run: a 30-step range test, 2 epochs unless `epochs` is given,
            one seed unless `seed_count` is given, no run of twice the epochs and no conclusion.
            Defaults to False.
        stream: A text stream for the progress lines. Defaults to `sys.stdout`.
        seed_count: A Python int >= 1. How many seeds to run. Defaults to 3, or 1 with `quick`.

    Returns:
        The summary dict that was written to `summary.json`.

    Raises:
        ValueError, TypeError: for `epochs`, `seed` or `seed_count` outside the ranges above.
        ImportError: when scikit-learn or matplotlib is missing, with the command that installs them.
    """
    stream = sys.stdout if stream is None else stream
    if epochs is None:
        epochs = QUICK_EPOCHS if quick else DEFAULT_EPOCHS
    if seed_count is None:
        seed_count = QUICK_SEED_COUNT if quick else DEFAULT_SEED_COUNT
    epochs = _checks.check_count("epochs", epochs)
    seed = _checks.check_count("seed", seed, minimum=0)
    seed_count = _checks.check_count("seed_count", seed_count)
    _require_demo_dependencies()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def say(line):
        stream.write(line + "\n")
        stream.flush()

    seeds = list(range(seed, seed + seed_count))
    long_epochs = None if quick else LONG_EPOCHS_FACTOR * epochs
    range_test = {**RANGE_TEST, "steps": 30} if quick else RANGE_TEST
    say(
        f"[demo] backend={keras.backend.backend()} epochs={epochs} seeds={seeds} out={out_dir}"
        + (" (a smoke run)" if quick else f"; the constant also for {long_epochs} epochs")
    )
    per_seed = [
        _run_seed(seed, epochs, long_epochs, range_test, say, first=index == 0)
        for index, seed in enumerate(seeds)
    ]
    first = per_seed[0]
    steps_per_epoch, total_steps = first["steps_per_epoch"], first["steps"]

    range_test_path = out_dir / "range_test.png"
    first["range_test"].plot(set="valid", total_steps=total_steps).savefig(range_test_path, dpi=110)
    say(f"[plot] {range_test_path}")
    schedule_path = out_dir / "schedule.png"
    figure = _plot_one_cycle_schedule(first["one_cycle"], epochs, steps_per_epoch)
    figure.savefig(schedule_path, dpi=110)
    say(f"[plot] {schedule_path}")
    curves_path = out_dir / "loss_curves.png"
    labelled = {
        f"{_run_label(name, first['results'][name])} (val acc {result['final_val_accuracy']:.3f})": (
            first["histories"][name]
        )
        for name, result in first["results"].items()
    }
    from keras_one_cycle_clr import plot

    figure = plot.plot_loss_curves(labelled, ylabel="loss (categorical cross-entropy)")
    figure.savefig(curves_path, dpi=110)
    say(f"[plot] {curves_path}")

    if quick:
        comparison = {"skipped": SMOKE_RUN}
        say(f"[summary] {SMOKE_RUN}")
    else:
        comparison = compare_over_seeds(
            [{"seed": run["seed"], **run["results"]} for run in per_seed],
            validation_samples=first["validation_samples"],
        )
        comparison["per_seed"] = [
            {
                "seed": run["seed"],
                "lr_range": list(run["lr_range"]),
                "weight_decay": run["choice"].weight_decay,
                "range_test_wall_time_s": round(run["range_test_time"], 3),
                "runs": run["results"],
            }
            for run in per_seed
        ]
        for line in _comparison_lines(comparison, epochs, long_epochs):
            say(f"[summary] {line}")

    choice, lr_range = first["choice"], first["lr_range"]
    summary = {
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "dataset": "sklearn.datasets.load_digits",
        "lr_range": list(lr_range),
        "lr_range_source": "RangeTestResult.choose_one_cycle(total_steps=...)",
        "weight_decay": choice.weight_decay,
        "weight_decays_tied": list(choice.weight_decays_tied),
        "range_test": {
            **range_test,
            "wd_list": list(WD_GRID),
            "suggestions": {
                method: first["range_test"].suggest(method, set="valid") for method in suggest.RULES
            },
            "wall_time_s": round(first["range_test_time"], 3),
        },
        "momentum_range": list(MOMENTUM_RANGE),
        "constant_lr": CONSTANT_LR,
        "constant_momentum": SGD_MOMENTUM,
        "epochs": epochs,
        "constant_long_epochs": long_epochs,
        "batch_size": BATCH_SIZE,
        "steps_per_epoch": steps_per_epoch,
        "steps": total_steps,
        "seed": seed,
        "seeds": seeds,
        "quick": quick,
        "runs": {name: first["results"][name] for name in ("one_cycle", "constant")},
        "comparison": comparison,
        "total_wall_time_s": round(time.perf_counter() - started, 3),
    }
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    say(f"[done] {summary_path} in {summary['total_wall_time_s']:.1f} s")
    return summary


def _run_seed(seed, epochs, long_epochs, range_test, say, first):
    """One seed: its range test and choice, then the one cycle and the constant run(s).

    Only the first seed prints its data, its choice and a line per epoch; every seed prints a line
    per run."""
    data = load_digits(seed)
    x_train = data["x_train"]
    steps_per_epoch = _data.steps_per_epoch(x_train, BATCH_SIZE)
    total_steps = epochs * steps_per_epoch
    if first:
        say(
            f"[data] digits: {len(x_train)} train / {len(data['x_val'])} validation samples, "
            f"{x_train.shape[1]} features, {steps_per_epoch} steps per epoch, {total_steps} steps"
        )
    say(
        f"[range test] seed {seed}: {range_test['steps']} learning rates x {len(WD_GRID)} weight decays "
        f"{WD_GRID}"
    )
    range_started = time.perf_counter()
    lrrt = lr_find(
        build_model(seed, range_test["lr_range"][0]),
        data["x_train"],
        data["y_train"],
        batch_size=BATCH_SIZE,
        wd_list=WD_GRID,
        validation_data=(data["x_val"], data["y_val"]),
        validation_batch_size=128,
        batches_per_val=2,
        **range_test,
    )
    range_test_time = time.perf_counter() - range_started
    # The peak for this cycle's length, chosen again by the callback when the fit decides the length.
    one_cycle = OneCycle.from_range_test(lrrt, momentum_range=MOMENTUM_RANGE)
    one_cycle.schedule_values(total_steps)  # makes the choice for this cycle now, to report it
    choice, lr_range = one_cycle.one_cycle_choice, one_cycle.lr_range
    weight_decay = choice.weight_decay or None  # 0 means none: keep decay out of the step entirely
    reason = f" ({choice.reason}); constant baseline lr={CONSTANT_LR}" if first else ""
    say(
        f"[range test] seed {seed}, {range_test_time:.1f} s: lr_range=({lr_range[0]:.3g}, "
        f"{lr_range[1]:.3g}), weight_decay={choice.weight_decay:g}{reason}"
    )
    planned = [
        ("one_cycle", lr_range[0], weight_decay, [one_cycle], epochs),
        ("constant", CONSTANT_LR, None, [], epochs),
    ]
    if long_epochs is not None:
        planned.append(("constant_long", CONSTANT_LR, None, [], long_epochs))
    results, histories = {}, {}
    for name, learning_rate, decay, callbacks, run_epochs in planned:
        label = f"{_RUN_LABELS[name]}, {run_epochs} epochs"
        history, result = _train(
            data, learning_rate, decay, callbacks, run_epochs, seed, _RUN_LABELS[name], say, first
        )
        histories[name], results[name] = history, result
        say(
            f"[train] seed {seed}, {label}: val_accuracy={result['final_val_accuracy']:.4f} "
            f"val_loss={result['final_val_loss']:.4f} in {result['wall_time_s']:.1f} s"
        )
    return {
        "seed": seed,
        "steps_per_epoch": steps_per_epoch,
        "steps": total_steps,
        "validation_samples": len(data["x_val"]),
        "range_test": lrrt,
        "range_test_time": range_test_time,
        "choice": choice,
        "lr_range": lr_range,
        "one_cycle": one_cycle,
        "results": results,
        "histories": histories,
    }


def _run_label(name, result):
    return f"{_RUN_LABELS[name]}, {result['epochs_run']} epochs"


_VERDICTS = ("ahead", "level", "behind")


def compare_over_seeds(per_seed, validation_samples, metric="final_val_accuracy"):
    """The one cycle against the constant, seed by seed, and a conclusion drawn from the numbers.

    A pure function of the runs' results, so that what the demo concludes can be checked without
    training. Against each constant run, the one cycle is `"ahead"` when its accuracy is higher on
    every seed, `"behind"` when it is lower on every seed, and `"level"` otherwise (the seeds
    disagree, or it ties): with a handful of seeds, a difference that changes sign is noise.

    Example:

    >>> runs = [
    ...     {"seed": 0, "one_cycle": {"final_val_accuracy": 0.97}, "constant": {"final_val_accuracy": 0.975}},
    ...     {"seed": 1, "one_cycle": {"final_val_accuracy": 0.98}, "constant": {"final_val_accuracy": 0.975}},
    ... ]
    >>> comparison = compare_over_seeds(runs, validation_samples=360)
    >>> comparison["verdict"], comparison["against"]["constant"]["wins"]
    ('level', 1)

    Args:
        per_seed: A list of dicts, one per seed: `"seed"`, and for `"one_cycle"`, `"constant"` and
            optionally `"constant_long"` a result dict holding `metric` (higher is better).
        validation_samples: A Python int: the size of the validation set, for what one sample is
            worth.
        metric: The result key compared. Defaults to `"final_val_accuracy"`.

    Returns:
        A dict: `metric`, `seeds`, `mean` and `std` (over seeds) of each run, `against` (per constant
        run: the one cycle's `differences` seed by seed, their `mean_difference`, `wins`, `ties`
        and `verdict`), `verdict` (against the constant of the same epochs), and `conclusion`, a
        sentence.
    """
    names = [name for name in ("one_cycle", "constant", "constant_long") if name in per_seed[0]]
    values = {name: [float(run[name][metric]) for run in per_seed] for name in names}
    against = {}
    for name in names[1:]:
        differences = [a - b for a, b in zip(values["one_cycle"], values[name], strict=True)]
        if all(d > 0 for d in differences):
            verdict = "ahead"
        elif all(d < 0 for d in differences):
            verdict = "behind"
        else:
            verdict = "level"
        against[name] = {
            "differences": [round(d, 6) for d in differences],
            "mean_difference": round(statistics.fmean(differences), 6),
            "wins": sum(d > 0 for d in differences),
            "ties": sum(d == 0 for d in differences),
            "verdict": verdict,
        }
    comparison = {
        "metric": metric,
        "seeds": [run["seed"] for run in per_seed],
        "mean": {name: round(statistics.fmean(v), 6) for name, v in values.items()},
        "std": {name: round(statistics.stdev(v), 6) if len(v) > 1 else 0.0 for name, v in values.items()},
        "against": against,
        "verdict": against["constant"]["verdict"],
    }
    comparison["conclusion"] = _conclusion(comparison, validation_samples)
    return comparison


def _conclusion(comparison, validation_samples):
    """What the numbers show, and when the one cycle does not win, why at this size."""
    against, n = comparison["against"], len(comparison["seeds"])

    def versus(name):
        result = against[name]
        points = 100 * result["mean_difference"]
        if result["verdict"] == "ahead":
            return f"ahead of it on every seed ({points:+.2f} points)"
        if result["verdict"] == "behind":
            return f"behind it on every seed ({points:+.2f} points)"
        ties = f", tied on {result['ties']}" if result["ties"] else ""
        return (
            f"level with it: higher on {result['wins']}{ties} of {n} seeds, {points:+.2f} points on average"
        )

    same = f"Against the constant for as many epochs, the one cycle is {versus('constant')}"
    if "constant_long" in against:
        same += f"; against the constant for twice the epochs, {versus('constant_long')}"
    if n == 1:
        same += " (one seed: too few to tell noise from a difference)"
    if comparison["verdict"] == "ahead":  # it beats the constant in the same epochs: nothing to explain
        return same + "."
    behind = comparison["verdict"] == "behind"
    gain = ""
    if "constant_long" in comparison["mean"]:
        gain_points = 100 * (comparison["mean"]["constant_long"] - comparison["mean"]["constant"])
        gain = f", and twice the epochs move the constant by {gain_points:+.2f} points"
    return (
        f"{same}. At this size the one cycle does not {'beat' if behind else 'clearly beat'} a tuned "
        "constant learning rate: a small MLP on the digits saturates near 97-98% validation accuracy "
        f"(one of the {validation_samples} validation images is {100 / validation_samples:.2f} points)"
        f"{gain}, which leaves a schedule little to win.{_TOO_HIGH if behind else ''} What the demo "
        "shows is the workflow: the range test choosing the peak and the weight decay, and the cycle "
        "running inside the compiled step. BENCHMARKS.md measures this task (sections 3 and 6) and 30 "
        "others (section 5)."
    )


# Measured, not guessed: on TensorFlow, half the chosen peak took the demo's one cycle from 1.3 points
# behind the constant to level with it (BENCHMARKS.md, section 6).
_TOO_HIGH = (
    " Behind on every seed, the one cycle most likely peaks too high for so short a cycle: try a peak "
    "2-4x below the range test's choice (`lr_range`)."
)


def _comparison_lines(comparison, epochs, long_epochs):
    """The printed table: validation accuracy per seed and run, mean and spread, then the conclusion."""
    columns = [("one_cycle", f"one cycle, {epochs} ep"), ("constant", f"constant, {epochs} ep")]
    if "constant_long" in comparison["mean"]:
        columns.append(("constant_long", f"constant, {long_epochs} ep"))
    width = max(len(title) for _, title in columns) + 2
    per_seed = {run["seed"]: run["runs"] for run in comparison["per_seed"]}
    lines = [
        f"validation accuracy over {len(per_seed)} seeds (each: its split, initial weights, range test):",
        "seed".rjust(6) + "".join(title.rjust(width) for _, title in columns),
    ]
    for seed, runs in per_seed.items():
        lines.append(
            str(seed).rjust(6)
            + "".join(f"{runs[name][comparison['metric']]:.4f}".rjust(width) for name, _ in columns)
        )
    lines.append(
        "mean".rjust(6)
        + "".join(
            f"{comparison['mean'][name]:.4f} ± {comparison['std'][name]:.4f}".rjust(width)
            for name, _ in columns
        )
    )
    return lines + textwrap.wrap(comparison["conclusion"], width=100, break_on_hyphens=False)


def _require_demo_dependencies():
    """Fails before any training when scikit-learn or matplotlib is missing."""
    try:
        import matplotlib.figure  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as error:
        msg = "The demo needs scikit-learn and matplotlib: pip install 'keras-one-cycle-clr[demo]'"
        raise ImportError(msg) from error


def load_digits(seed):
    """The digits, standardized with the training split's statistics, split with `seed`."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=VALIDATION_FRACTION, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    return {
        "x_train": scaler.transform(x_train).astype("float32"),
        "y_train": y_train.astype("int32"),
        "x_val": scaler.transform(x_val).astype("float32"),
        "y_val": y_val.astype("int32"),
    }


def build_model(seed, learning_rate, weight_decay=None):
    """The small MLP, compiled; the same `seed` gives the same initial weights."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(HIDDEN_UNITS, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=SGD_MOMENTUM, weight_decay=weight_decay),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _train(data, learning_rate, weight_decay, callbacks, epochs, seed, label, say, progress=True):
    """Fits one model; returns its `History.history` and a summary of the run. With `progress`, says
    a line per epoch."""
    model = build_model(seed, learning_rate, weight_decay)
    if progress:
        callbacks = [*callbacks, _EpochProgress(label, epochs, say)]
    started = time.perf_counter()
    history = model.fit(
        data["x_train"],
        data["y_train"],
        batch_size=BATCH_SIZE,
        epochs=epochs,
        validation_data=(data["x_val"], data["y_val"]),
        callbacks=callbacks,
        verbose=0,
    )
    wall_time = time.perf_counter() - started
    logs = {key: [float(v) for v in values] for key, values in history.history.items()}
    result = {
        "final_val_accuracy": round(logs["val_accuracy"][-1], 6),
        "final_val_loss": round(logs["val_loss"][-1], 6),
        "final_train_loss": round(logs["loss"][-1], 6),
        "epochs_run": len(logs["loss"]),
        "wall_time_s": round(wall_time, 3),
    }
    return logs, result


class _EpochProgress(keras.callbacks.Callback):
    """One progress line per epoch, in place of Keras's progress bar."""

    def __init__(self, label, epochs, say):
        super().__init__()
        self._label = label
        self._epochs = epochs
        self._say = say

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = " ".join(
            f"{key}={float(logs[key]):.4g}"
            for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "momentum")
            if key in logs
        )
        self._say(f"[epoch] {self._label} {epoch + 1}/{self._epochs} {shown}")


def _plot_one_cycle_schedule(one_cycle, epochs, steps_per_epoch):
    """The one-cycle schedule over the demo's steps, as a Figure."""
    from keras_one_cycle_clr import plot

    title = (
        f"OneCycle: lr {one_cycle.lr_range[0]:.2g} to {one_cycle.lr_range[1]:.2g}, momentum "
        f"{one_cycle.momentum_range[0]:g} to {one_cycle.momentum_range[1]:g}, "
        f"{epochs} epochs x {steps_per_epoch} steps"
    )
    return plot.plot_schedule(one_cycle.schedule_values(epochs * steps_per_epoch), title=title)
