"""Which range-test rule should pick the PEAK learning rate of a one-cycle run? Measured on digits.

Setup (as in `keras_one_cycle_clr.demo`): scikit-learn's 8x8 digits (nothing is downloaded),
standardized with the training split's statistics, a stratified 80/20 split, an MLP
Dense(128, relu) + Dense(10, softmax), `SGD(momentum=0.9)`, batch 32. A seed fixes the split, the
initial weights and the shuffling; every run of one seed starts from the same weights.

For each seed:

1. a range test, `kclr.lr_find(model, x_train, y_train, batch_size=32, lr_range=(1e-4, 10),
   steps=100, batches_per_step=1)`; `lrs = test.lr`, `smoothed = suggest.smooth(test.loss[:, 0])`;
2. candidate rules turn `(lrs, smoothed)` into a peak learning rate:
   - the library's rules on the whole curve (`valley`, `steepest`, `minimum`, `slide`; what
     `LrRangeTest.suggest` returns);
   - the same four the fastai way (`fastai-*`): on the smoothed losses the sweep recorded (before it
     stopped), trimmed as `[num_it // 10 : -5]` with `num_it = 100`;
   - one-cycle candidates: `min/k`, the lr at the lowest smoothed loss divided by k in (1, 2, 3, 4, 6),
     and `valley*k`, the library's valley times k in (3, 10);
3. each rule's peak trains a fresh model for `--epochs` epochs with
   `kclr.OneCycle(lr_range=(peak / 25, peak), momentum_range=(0.95, 0.85))`: final validation
   accuracy and loss (rules that give the same peak share one run);
4. a grid of `lr_max` in `np.geomspace(0.01, 3, 10)`, with the same OneCycle, gives the best accuracy
   that this peak can reach (best mean over seeds);
5. the same grid as CONSTANT learning rates (`SGD(lr, momentum=0.9)`, same epochs): the best constant
   rate; for one cycle at its best `lr_max` and the constant at its best lr, the training steps until
   the validation accuracy first reaches `--target` (checked at every epoch end).

The backend comes from `KERAS_BACKEND`, as Keras requires. `--quick` (1 seed, 1 epoch, a 3-point
grid, every rule) prints the same tables; on the shared 2-core machine it took 24 s (jax), 18 s
(tensorflow) and 10 s (torch) end to end, and the full jax run 77 s. On torch the intra-op threads are
limited to 1 (`--torch-threads`): with torch's default, a fit ran about 50 times slower there.

    KERAS_BACKEND=jax .venv/bin/python bench/quality.py --out bench/results/quality_jax.md
    KERAS_BACKEND=tensorflow .venv/bin/python bench/quality.py --quick  # CI smoke run, < 30 s
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: quiet its start-up logs

import keras
import numpy as np

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import demo, suggest
from keras_one_cycle_clr.range_test import TrainingState

BACKEND = keras.backend.backend()
BATCH_SIZE = 32

MOMENTUM_RANGE = (0.95, 0.85)
DIV_FACTOR = 25  # lr_range = (peak / 25, peak)
RANGE_TEST = {"lr_range": (1e-4, 10), "steps": 100, "batches_per_step": 1}
FASTAI_TRIM = (RANGE_TEST["steps"] // 10, 5)  # fastai: losses[num_it // 10 : -5]
GRID = (0.01, 3.0, 10)  # np.geomspace(0.01, 3, 10)
MIN_DIVISORS = (1, 2, 3, 4, 6)
VALLEY_FACTORS = (3, 10)
FASTAI_RULES = ("fastai-valley", "fastai-steepest", "fastai-minimum", "fastai-slide")


# -- data and model ----------------------------------------------------------------------------------
def limit_torch_threads(threads):
    """On torch, `threads` intra-op threads: for this tiny MLP more threads only add contention."""
    if BACKEND == "torch" and threads > 0:
        import torch

        torch.set_num_threads(threads)


def build_model(seed, learning_rate):
    """The demo's MLP; a cleared session keeps hundreds of runs from piling up graphs."""
    keras.backend.clear_session()
    return demo.build_model(seed, learning_rate)


class StepsToTarget(keras.callbacks.Callback):
    """Records, at every epoch end, the validation accuracy and the first step count reaching `target`."""

    def __init__(self, target):
        super().__init__()
        self.target = target
        self.steps = None
        self.val_accuracy = []

    def on_train_begin(self, logs=None):
        self._steps_per_epoch = self.params["steps"]

    def on_epoch_end(self, epoch, logs=None):
        accuracy = float((logs or {}).get("val_accuracy", math.nan))
        self.val_accuracy.append(accuracy)
        if self.steps is None and accuracy >= self.target:
            self.steps = (epoch + 1) * self._steps_per_epoch


class SeedModel:
    """The seed's model, built and compiled once; every run starts it afresh from the same state.

    `fresh` puts back an in-memory copy of the initial weights and of every optimizer variable (step
    counter and momentum buffers included), sets the learning rate and reseeds: the same weights as a
    newly built model with this seed, without paying a new model's compiles for every run. The range
    test is the model's first fit; every training run after it sees the same sequence of shuffles
    (Keras's first fit of a model draws one extra permutation, so a brand-new model's run would see
    another, equally random, order: the start is the same for every rule and grid point of a seed).
    """

    def __init__(self, seed):
        self.seed = seed
        self.model = build_model(seed, 0.01)
        self.model.optimizer.build(self.model.trainable_variables)
        self.state = TrainingState(self.model)

    def fresh(self, learning_rate):
        self.state.restore(self.model)
        self.model.optimizer.learning_rate.assign(learning_rate)
        keras.utils.set_random_seed(self.seed)
        return self.model


def train(start, data, kind, lr, epochs, target):
    """One fit from the seed's initial state: `kind` is "one_cycle" (peak `lr`) or "constant"."""
    if kind == "one_cycle":
        model = start.fresh(lr / DIV_FACTOR)
        callbacks = [kclr.OneCycle(lr_range=(lr / DIV_FACTOR, lr), momentum_range=MOMENTUM_RANGE)]
    else:
        model = start.fresh(lr)
        callbacks = []
    probe = StepsToTarget(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow in a diverging run is a result here, not a problem
        history = model.fit(
            data["x_train"],
            data["y_train"],
            batch_size=BATCH_SIZE,
            epochs=epochs,
            validation_data=(data["x_val"], data["y_val"]),
            callbacks=[*callbacks, probe],
            verbose=0,
        )
    return {
        "val_accuracy": probe.val_accuracy[-1],
        "val_loss": float(history.history["val_loss"][-1]),
        "steps_to_target": probe.steps,
        "epochs_run": len(probe.val_accuracy),
    }


# -- rules -------------------------------------------------------------------------------------------
def fastai_view(lrs, smoothed):
    """What fastai's rules see: the recorded part of the sweep (it stops early), trimmed [10:-5]."""
    recorded = int(np.isfinite(smoothed).sum())  # the sweep records a prefix; NaN after it stopped
    start, end = FASTAI_TRIM
    lrs, smoothed = lrs[:recorded], smoothed[:recorded]
    return lrs[start : recorded - end], smoothed[start : recorded - end]


def rule_peaks(lrs, smoothed):
    """Every candidate rule's peak learning rate, as {name: float}."""
    lrs = np.asarray(lrs, dtype=np.float64)
    peaks = {}
    for name, rule in suggest.RULES.items():
        peaks[name] = rule(lrs, smoothed)
    trimmed = fastai_view(lrs, smoothed)
    for name, rule in suggest.RULES.items():
        peaks[f"fastai-{name}"] = rule(*trimmed)
    at_min = float(lrs[int(np.nanargmin(smoothed))])
    for k in MIN_DIVISORS:
        peaks[f"min/{k}"] = at_min / k
    for k in VALLEY_FACTORS:
        peaks[f"valley*{k}"] = peaks["valley"] * k
    return peaks


# -- formatting --------------------------------------------------------------------------------------
def mean_std(values):
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def fmt_pm(values, spec):
    mean, std = mean_std(values)
    return f"{mean:{spec}} ± {std:{spec}}"


def fmt_steps(steps):
    return "not reached" if steps is None else str(steps)


def steps_summary(res):
    """Per seed, the steps until the target accuracy ('-' never), and the mean over seeds reaching it."""
    reached = [r["steps_to_target"] for r in res if r["steps_to_target"] is not None]
    per_seed = ", ".join("-" if r["steps_to_target"] is None else str(r["steps_to_target"]) for r in res)
    mean = f"{np.mean(reached):.0f}" if reached else "not reached"
    return f"{mean} ({len(reached)}/{len(res)}: {per_seed})"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per training run (default 8)")
    parser.add_argument("--grid", type=int, default=GRID[2], help="lr grid points (default 10)")
    parser.add_argument("--target", type=float, default=0.97, help="validation accuracy target (0.97)")
    parser.add_argument(
        "--quick", action="store_true", help="CI smoke run: 1 seed, 1 epoch, a 3-point grid, < 30 s"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: on a shared 2-core machine more threads ran 50x slower; "
        "0 leaves torch's default)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.grid = 1, 1, 3
    if args.seeds < 1 or args.epochs < 1 or args.grid < 2:
        parser.error("--seeds and --epochs must be >= 1, --grid >= 2")
    return args


def main(argv=None):
    args = parse_args(argv)
    limit_torch_threads(args.torch_threads)
    started = time.perf_counter()
    seeds = list(range(args.seeds))
    grid = [float(v) for v in np.geomspace(GRID[0], GRID[1], args.grid)]
    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    say(
        f"# One-cycle peak-lr rules on digits: backend={BACKEND}, keras {keras.__version__}, "
        f"python {platform.python_version()}"
    )
    say(
        f"seeds={seeds} epochs={args.epochs} grid=geomspace({GRID[0]}, {GRID[1]}, {args.grid}) "
        f"target={args.target} quick={args.quick} range test={RANGE_TEST}"
    )

    peaks = {}  # seed -> {rule: peak}
    runs = {}  # (seed, kind, lr) -> result
    timing = {"range test": 0.0, "rule runs": 0.0, "grid one-cycle": 0.0, "grid constant": 0.0}
    steps_per_epoch = None

    def run(start, data, seed, kind, lr, phase):
        key = (seed, kind, float(np.float32(lr)))
        if key not in runs:
            t0 = time.perf_counter()
            runs[key] = train(start, data, kind, lr, args.epochs, args.target)
            timing[phase] += time.perf_counter() - t0
        return runs[key]

    for seed in seeds:
        data = demo.load_digits(seed)
        steps_per_epoch = math.ceil(len(data["x_train"]) / BATCH_SIZE)
        t0 = time.perf_counter()
        start = SeedModel(seed)
        model = start.fresh(0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            test = kclr.lr_find(model, data["x_train"], data["y_train"], batch_size=BATCH_SIZE, **RANGE_TEST)
        timing["range test"] += time.perf_counter() - t0
        lrs = np.asarray(test.lr, dtype=np.float64)
        smoothed = suggest.smooth(test.loss[:, 0])
        peaks[seed] = rule_peaks(lrs, smoothed)
        # The rule the library ships, exactly as users get it.
        peaks[seed]["OneCycle.from_range_test"] = kclr.OneCycle.from_range_test(test).lr_range[1]
        recorded = int(np.isfinite(smoothed).sum())
        say(
            f"[seed {seed}] range test: {recorded}/{len(lrs)} steps recorded (stopped at lr="
            f"{lrs[recorded - 1]:.3g}), min smoothed loss {np.nanmin(smoothed):.3f} at lr="
            f"{lrs[int(np.nanargmin(smoothed))]:.3g}"
        )
        for peak in peaks[seed].values():
            run(start, data, seed, "one_cycle", peak, "rule runs")
        for lr in grid:
            run(start, data, seed, "one_cycle", lr, "grid one-cycle")
        for lr in grid:
            run(start, data, seed, "constant", lr, "grid constant")
        say(f"[seed {seed}] done, {time.perf_counter() - started:.0f} s elapsed")

    def results(kind, lr_of_seed):
        return [runs[(seed, kind, float(np.float32(lr_of_seed(seed))))] for seed in seeds]

    # Grid: best achievable mean accuracy.
    grid_rows, grid_means = [], {"one_cycle": [], "constant": []}
    for lr in grid:
        row = [f"{lr:.4g}"]
        for kind in ("one_cycle", "constant"):
            res = results(kind, lambda _seed, lr=lr: lr)
            accuracy = [r["val_accuracy"] for r in res]
            grid_means[kind].append(np.mean(accuracy))
            row += [
                fmt_pm(accuracy, ".4f"),
                f"{np.mean([r['val_loss'] for r in res]):.4f}",
                steps_summary(res),
            ]
        grid_rows.append(row)
    best = {kind: int(np.argmax(means)) for kind, means in grid_means.items()}
    best_mean = {kind: float(grid_means[kind][best[kind]]) for kind in best}
    for kind, column in (("one_cycle", 1), ("constant", 4)):
        grid_rows[best[kind]][column] = f"**{grid_rows[best[kind]][column]}**"

    # Rules.
    rule_rows, rule_means = [], {}
    for rule in peaks[seeds[0]]:
        res = results("one_cycle", lambda seed, rule=rule: peaks[seed][rule])
        accuracy = [r["val_accuracy"] for r in res]
        rule_means[rule] = float(np.mean(accuracy))
        per_seed = ", ".join(f"{peaks[seed][rule]:.3g}" for seed in seeds)
        rule_rows.append(
            [
                rule,
                fmt_pm([peaks[seed][rule] for seed in seeds], ".3g"),
                per_seed,
                fmt_pm(accuracy, ".4f"),
                f"{np.mean([r['val_loss'] for r in res]):.4f}",
                f"{100 * (best_mean['one_cycle'] - rule_means[rule]):+.2f}",
            ]
        )
    ranked = sorted(rule_means, key=rule_means.get, reverse=True)
    best_rule = ranked[0]
    best_fastai = max(FASTAI_RULES, key=rule_means.get)
    best_other = max((r for r in rule_means if r not in FASTAI_RULES), key=rule_means.get)

    say()
    say(
        f"## Rules for the one-cycle peak (OneCycle(lr_range=(peak/{DIV_FACTOR}, peak), "
        f"momentum_range={MOMENTUM_RANGE}), {args.epochs} epochs, {len(seeds)} seed(s))"
    )
    say()
    say(
        table(
            [
                "rule",
                "peak lr (mean ± std)",
                "peak per seed",
                "val accuracy (mean ± std)",
                "val loss (mean)",
                "gap to grid best (points; + = below)",
            ],
            rule_rows,
        )
    )
    say()
    say(
        f"Grid best one-cycle mean accuracy: {best_mean['one_cycle']:.4f} at lr_max="
        f"{grid[best['one_cycle']]:.4g}. Best rule: {best_rule} ({rule_means[best_rule]:.4f}, gap "
        f"{100 * (best_mean['one_cycle'] - rule_means[best_rule]):+.2f} points; within 0.5 points: "
        f"{best_mean['one_cycle'] - rule_means[best_rule] <= 0.005}). Best fastai rule: {best_fastai} "
        f"({rule_means[best_fastai]:.4f}). Best non-fastai-way rule: {best_other} "
        f"({rule_means[best_other]:.4f}; matches or beats the best fastai rule: "
        f"{rule_means[best_other] >= rule_means[best_fastai]})."
    )
    say("Ranking: " + ", ".join(f"{r} {rule_means[r]:.4f}" for r in ranked))

    say()
    say(f"## Grid: one cycle (lr_max, start lr_max/{DIV_FACTOR}) and constant lr, {args.epochs} epochs")
    say()
    say(
        table(
            [
                "lr (max / constant)",
                "one-cycle val acc",
                "one-cycle val loss",
                f"one-cycle steps to {args.target}",
                "constant val acc",
                "constant val loss",
                f"constant steps to {args.target}",
            ],
            grid_rows,
        )
    )

    say()
    say(
        f"## Super-convergence: best one cycle vs best constant lr; steps to val accuracy >= "
        f"{args.target} (checked at each epoch end; {steps_per_epoch} steps per epoch, "
        f"{args.epochs * steps_per_epoch} steps per run)"
    )
    say()
    conv_rows = []
    for kind, label in (("one_cycle", "one cycle"), ("constant", "constant lr")):
        lr = grid[best[kind]]
        res = results(kind, lambda _seed, lr=lr: lr)
        reached = [r["steps_to_target"] for r in res if r["steps_to_target"] is not None]
        conv_rows.append(
            [
                label,
                f"{lr:.4g}",
                fmt_pm([r["val_accuracy"] for r in res], ".4f"),
                ", ".join(fmt_steps(r["steps_to_target"]) for r in res),
                f"{len(reached)}/{len(res)}",
                f"{np.mean(reached):.0f}" if reached else "not reached",
            ]
        )
    say(
        table(
            [
                "schedule",
                "best lr",
                "val acc (mean ± std)",
                "steps to target per seed",
                "seeds reaching",
                "mean steps (seeds reaching)",
            ],
            conv_rows,
        )
    )

    total = time.perf_counter() - started
    say()
    say(
        f"backend={BACKEND}; wall time {total:.1f} s ("
        + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in timing.items())
        + f"); {len(runs)} training runs"
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
