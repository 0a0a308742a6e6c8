"""What the automatic one cycle costs against a plain fit of the same length (issue 23's cost target).

For a few tasks of `bench/tasks.py` (by default the digits CNN and the suite's median task by cycle
length), each round builds fresh models from one initial state and times whole calls, compile
included, side by side in rotating order:

| variant | what |
|---|---|
| `plain` | `model.fit(..., epochs)` at a constant learning rate: the baseline |
| `plain-A/A` | the same again: its ratio to `plain` is the noise of the run |
| `OneCycle` | `model.fit` with `OneCycle` at a given peak: the cycle alone |
| `fit_one_cycle` | `kclr.fit_one_cycle(model, x, y, epochs=...)`: range test (sized to the cycle), cycle |
| `fit_one_cycle-full` | the same with the range test of before issue 23 (4 sweeps x 100 rates x 5 batches) |
| `AdaptiveOneCycle` | `model.fit` with `AdaptiveOneCycle` (defaults): the warm-up finds the peak |

It prints, per task, the median over rounds of each variant's wall time and of its ratio to
`plain` in the same round. The target (issue 23): the automatic path at most 1.25x `plain`.

    KERAS_BACKEND=jax .venv/bin/python bench/fit_cost.py --rounds 5
    KERAS_BACKEND=jax .venv/bin/python bench/fit_cost.py --smoke   # CI: 1 round, 1 epoch, one task
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import keras
import tasks

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import workflow

DEFAULT_TASKS = ("digits_cnn", "adding_gru")  # the digits CNN, and the median of the 30 by cycle length
VARIANTS = ("plain", "plain-A/A", "OneCycle", "fit_one_cycle", "fit_one_cycle-full", "AdaptiveOneCycle")
FULL_RANGE_TEST = {"wd_list": workflow.DEFAULT_WD_LIST, "batches_per_step": 5}  # before the budget


def build(task, data, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(task.model(data["x_fit"].shape[1:], data["outputs"]))
    model.compile(
        tasks.OPTIMIZERS[task.optimizer](0.0),
        "mse" if task.regression else "sparse_categorical_crossentropy",
    )
    return model


def run(variant, task, data, epochs, seed):
    """One whole call on a fresh model; its wall time in seconds."""
    model = build(task, data, seed)
    fit = {"batch_size": task.batch_size, "epochs": epochs, "verbose": 0}
    peak = tasks.GRIDS[task.optimizer][0] * 30
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if variant.startswith("plain"):
            model.fit(data["x_fit"], data["y_fit"], **fit)
        elif variant == "OneCycle":
            callback = kclr.OneCycle((peak / 25, peak), tasks.MOMENTUM_RANGE)
            model.fit(data["x_fit"], data["y_fit"], callbacks=[callback], **fit)
        elif variant == "fit_one_cycle":
            kclr.fit_one_cycle(model, data["x_fit"], data["y_fit"], **fit)
        elif variant == "fit_one_cycle-full":
            kclr.fit_one_cycle(model, data["x_fit"], data["y_fit"], range_test=FULL_RANGE_TEST, **fit)
        else:
            callback = kclr.AdaptiveOneCycle(momentum_range=tasks.MOMENTUM_RANGE)
            model.fit(data["x_fit"], data["y_fit"], callbacks=[callback], **fit)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="override the tasks' epochs")
    parser.add_argument("--smoke", action="store_true", help="CI: one round, one epoch, the first task")
    args = parser.parse_args(argv)
    names = args.tasks.split(",")
    if args.smoke:
        args.rounds, args.epochs, names = 1, 1, names[:1]
    print(f"# fit_cost: backend={keras.backend.backend()}, keras {keras.__version__}, rounds={args.rounds}")
    rows = []
    for name in names:
        task = tasks.TASKS_BY_NAME[name]
        data = tasks.split_data(task, 0)
        epochs = args.epochs or task.epochs
        times = {variant: [] for variant in VARIANTS}
        for round_ in range(args.rounds):
            order = VARIANTS[round_ % len(VARIANTS) :] + VARIANTS[: round_ % len(VARIANTS)]
            for variant in order:
                times[variant].append(run(variant, task, data, epochs, seed=0))
        steps = epochs * -(-len(data["x_fit"]) // task.batch_size)
        for variant in VARIANTS:
            ratios = [t / p for t, p in zip(times[variant], times["plain"], strict=True)]
            rows.append(
                [
                    name,
                    str(steps),
                    variant,
                    f"{statistics.median(times[variant]):.2f}",
                    f"{statistics.median(ratios):.2f}",
                ]
            )
    print(tasks.table(["task", "steps", "variant", "seconds (median)", "x plain (median)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
