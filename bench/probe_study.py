"""Can a short probe tell which one-cycle peak a full run wants? Short cycles over the suite's grid.

Issue 12 allows the automatic path "a short probe of a few candidate cycles" within the range test
plus 10% of the training run. This study measures whether such a probe could work before any is
built into the library: for each task and seed of `bench/tasks.py`, at the weight decay the library
chooses (`choose_one_cycle(total_steps=T)` on the saved range-test curves), it trains a one cycle of
only `fraction x T` steps at every peak of the task's grid, from the seed's initial state, and records
the validation loss and metric at its end. `rule_fit`-style analysis (`--report`) then asks: does the
probe's best peak (among all grid peaks, or among the few next to the library's pick) reach the full
runs' best? The full runs are the suite's own grid runs (same initial state, same weight decay).

A probe shorter than an epoch trains on the first `fraction x T` batches of a seeded shuffle of the
fit split; a longer one on whole epochs (the nearest whole number).

    KERAS_BACKEND=jax .venv/bin/python bench/probe_study.py --results bench/results/tasks_jax.jsonl \\
        --out bench/results/probe_jax.jsonl --tasks digits_cnn,diabetes_mlp
    .venv/bin/python bench/probe_study.py --report bench/results/probe_jax.jsonl \\
        --results bench/results/tasks_jax.jsonl bench/results/tasks_fresh_jax.jsonl
    .venv/bin/python bench/probe_study.py --smoke --results bench/results/tasks_fresh3_jax.jsonl  # CI

Result (2026-12-01, `bench/results/probe_study_jax.md`, BENCHMARKS.md section 5): no. The probe's
best peak is right about as often above as below the full runs' best, and it loses more than taking
the range test's rule (probe of 10% per candidate: 3.75-4.48 target units against 2.48).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

if __name__ == "__main__":  # one XLA CPU thread, as bench/tasks.py runs (set before JAX loads)
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import numpy as np
import tasks
from rule_fit import TARGET, Curves

import keras_one_cycle_clr as kclr

FRACTIONS = (0.03, 0.1)  # of the full cycle's steps


def probe(start, peak, wd, fraction):
    """One short one cycle at `peak`; its validation loss and metric at the end."""
    task, data = start.task, start.data
    total = start.epochs * math.ceil(len(data["x_fit"]) / task.batch_size)
    steps_per_epoch = math.ceil(len(data["x_fit"]) / task.batch_size)
    steps = max(2, round(fraction * total))
    if steps < steps_per_epoch:
        order = np.random.default_rng(start.seed).permutation(len(data["x_fit"]))[: steps * task.batch_size]
        x, y, epochs = data["x_fit"][order], data["y_fit"][order], 1
    else:
        x, y, epochs = data["x_fit"], data["y_fit"], max(1, round(steps / steps_per_epoch))
    model = start.fresh(wd, peak / tasks.DIV_FACTOR)
    cycle = kclr.OneCycle(lr_range=(peak / tasks.DIV_FACTOR, peak), momentum_range=tasks.MOMENTUM_RANGE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, y, batch_size=task.batch_size, epochs=epochs, callbacks=[cycle], verbose=0)
        result = model.evaluate(data["x_val"], data["y_val"], batch_size=1024, verbose=0, return_dict=True)
    finite = lambda v: float(v) if math.isfinite(v) else None  # noqa: E731
    return {
        "probe_steps": steps if epochs == 1 else epochs * steps_per_epoch,
        "val_loss": finite(result["loss"]),
        "val_metric": finite(result["loss"] if task.regression else 100.0 * result["accuracy"]),
        "train_loss": finite(history.history["loss"][-1]),
    }


def range_tests(paths):
    """{(task, seed): range-test record} of the suite's results."""
    return {(r["task"], r["seed"]): r for r in tasks.read_results(*paths) if r["kind"] == "range_test"}


def run(args):
    tests = range_tests(args.results)
    done = set()
    if args.out.exists():
        done = {(r["task"], r["seed"]) for r in tasks.read_results(args.out) if r.get("last")}
    names = args.tasks.split(",") if args.tasks else [t.name for t in tasks.TASKS]
    for name in names:
        task = tasks.TASKS_BY_NAME[name]
        for seed in args.seeds:
            if (name, seed) in done or (name, seed) not in tests:
                continue
            t0 = time.perf_counter()
            record = tests[(name, seed)]
            choice = Curves(record).library_test().choose_one_cycle(total_steps=record["steps"])
            wd = float(choice.weight_decay)
            tasks.keras.backend.clear_session()
            data = tasks.split_data(task, seed)
            start = tasks.FreshStart(task, data, seed, [wd])
            start.epochs = task.epochs
            lo, hi, n = tasks.GRIDS[task.optimizer]
            peaks = np.geomspace(lo, hi, n)[:: 4 if args.smoke else 1]
            plan = [(f, float(p)) for f in FRACTIONS[: 1 if args.smoke else None] for p in peaks]
            for i, (fraction, peak) in enumerate(plan):
                line = {
                    "task": name, "seed": seed, "steps": record["steps"], "regression": task.regression,
                    "library_peak": float(choice.peak), "wd": wd, "fraction": fraction, "peak": peak,
                    **probe(start, peak, wd, fraction), "last": i == len(plan) - 1,
                }  # fmt: skip
                with open(args.out, "a") as f:
                    f.write(json.dumps(line) + "\n")
            print(f"[{name} seed {seed}] {time.perf_counter() - t0:.0f} s", flush=True)


# -- analysis ----------------------------------------------------------------------------------------
def full_runs(paths):
    """{(task, seed, wd): {peak: test metric}} of the suite's one-cycle grid, and the best per seed."""
    grid, best = {}, {}
    for r in tasks.read_results(*paths):
        if r["kind"] != "one_cycle":
            continue
        value = tasks.analysis_value(r)  # a diverged regression counts as predicting the mean
        grid.setdefault((r["task"], r["seed"], r["wd"]), {})[round(r["peak"], 12)] = value
    for (task, seed, _), peaks in grid.items():
        values = [v for v in peaks.values() if v is not None]
        key = (task, seed)
        pick = min if task_regression(task) else max
        best[key] = pick([best[key], pick(values)]) if key in best else pick(values)
    return grid, best


def task_regression(name):
    return tasks.TASKS_BY_NAME[name].regression


def units(value, best, regression):
    """The loss against the best, in issue 12's target units (`rule_fit.TARGET`)."""
    if value is None:
        return math.inf
    if regression:
        return 100.0 * (value / best - 1.0) / TARGET["mse"]
    return (best - value) / TARGET["accuracy"]


def finite_or_inf(values):
    return np.array([math.inf if v is None else v for v in values])


def seed_row(lines, full, best, near_count):
    """One task-seed-fraction: each way of picking a peak -> its loss to the best, in target units."""
    regression = task_regression(lines[0]["task"])
    peaks = np.array([line["peak"] for line in lines])
    val = finite_or_inf(line["val_loss"] for line in lines)
    train = finite_or_inf(line["train_loss"] for line in lines)
    metrics = {peak: full.get(round(peak, 12)) for peak in peaks}
    worst = math.inf if regression else -math.inf
    ranked = {p: worst if m is None else m for p, m in metrics.items()}
    full_best = (min if regression else max)(peaks, key=ranked.get)
    near = np.argsort(np.abs(np.log(peaks / lines[0]["library_peak"])))[:near_count]
    picks = {
        "grid best (this wd)": full_best,
        "probe val loss, all peaks": peaks[int(np.argmin(val))],
        f"probe val loss, {near_count} nearest": peaks[near[int(np.argmin(val[near]))]],
        "probe train loss, all peaks": peaks[int(np.argmin(train))],
        "grid peak nearest the library's": peaks[near[0]],
    }
    gaps = {kind: units(metrics[peak], best, regression) for kind, peak in picks.items()}
    return gaps, math.log10(picks["probe val loss, all peaks"] / full_best)


def report(args):
    grid, best = full_runs(args.results)
    by_seed = {}
    for line in tasks.read_results(*args.report):
        by_seed.setdefault((line["task"], line["seed"], line["fraction"]), []).append(line)
    rows = []  # (task, fraction, gaps, shift)
    for (name, seed, fraction), lines in sorted(by_seed.items()):
        full = grid.get((name, seed, lines[0]["wd"]))
        if full and len(lines) >= 2:
            rows.append((name, fraction, *seed_row(lines, full, best[(name, seed)], args.near)))
    order = list(tasks.TASKS_BY_NAME)
    for fraction in sorted({row[1] for row in rows}):
        mine = [row for row in rows if row[1] == fraction]
        kinds = list(mine[0][2])
        print(f"\n## Probe of {fraction:.0%} of the cycle: loss to the best one cycle")
        print("\n(target units: 0.5 accuracy points or 5% of the MSE; mean over seeds, each capped at 20)\n")
        print("| task | " + " | ".join(kinds) + " |")
        print("|---|" + "---:|" * len(kinds))
        means = {kind: [] for kind in kinds}
        for name in sorted({row[0] for row in mine}, key=order.index):
            seeds = [row[2] for row in mine if row[0] == name]
            for kind in kinds:
                means[kind].append(float(np.mean([min(gaps[kind], 20.0) for gaps in seeds])))
            print(f"| {name} ({len(seeds)}) | " + " | ".join(f"{means[k][-1]:.2f}" for k in kinds) + " |")
        print("| **mean** | " + " | ".join(f"**{np.mean(v):.2f}**" for v in means.values()) + " |")
        within = (f"{sum(x <= 1 for x in v)}/{len(v)}" for v in means.values())
        print("| within target | " + " | ".join(within) + " |")
        shifts = np.array([row[3] for row in mine])
        print(
            f"\nThe probe's pick (val loss, all peaks) over the full runs' best peak, log10: median "
            f"{np.median(shifts):+.2f}, mean {np.mean(shifts):+.2f}; above {np.mean(shifts > 0):.0%}, "
            f"below {np.mean(shifts < 0):.0%}, equal {np.mean(shifts == 0):.0%} of {len(shifts)} task-seeds."
        )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, nargs="+", required=True, help="the suite's JSONL files")
    parser.add_argument("--out", type=Path, default=tasks.RESULTS_DIR / f"probe_{tasks.BACKEND}.jsonl")
    parser.add_argument("--tasks", default=None, help="comma-separated task names (default: all)")
    parser.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1, 2])
    parser.add_argument("--report", type=Path, nargs="+", default=None, help="only analyse these probe files")
    parser.add_argument("--near", type=int, default=3, help="candidates next to the library's pick")
    parser.add_argument(
        "--smoke", action="store_true", help="CI smoke: circles_sgd seed 0, 3 peaks, to a temporary file"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        import tempfile

        args.tasks, args.seeds = "circles_sgd", [0]
        args.out = Path(tempfile.mkdtemp()) / "probe_smoke.jsonl"
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.report is None:
        run(args)
    if args.smoke:
        args.report = [args.out]
    if args.report is not None:
        report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
