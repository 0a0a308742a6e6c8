"""What compiling costs: a fit right after a fit of another length, and a range test on a model that
was already fit, whole calls timed, against the same plain fits.

The per-step figures of `step_cost.py` leave compilation out. Here every round builds fresh models
and times whole calls, so a trace and an XLA compile, when one happens, is in the figure:

| row | what is timed, on a model that has already been fit once (N1 steps) |
|---|---|
| `plain fit` | a plain fit of N2 steps (constant learning rate): the baseline |
| `plain fit A/A` | the same on another fresh model: its ratio is the noise floor |
| `OneCycle after OneCycle` | a OneCycle fit of N2 steps after a OneCycle fit of N1 |
| `OneCycle after plain` | a OneCycle fit of N2 steps after a plain fit of N1 (the one extra compile) |
| `CLR after OneCycle` | a CLR fit of N2 steps after a OneCycle fit of N1 |
| `range test after OneCycle` | `lr_find` over N2 batches (S lrs x W weight decays) after a OneCycle fit |
| `range test after plain` | the same after a plain fit (the one extra compile) |
| `OneCycle after range test` | a OneCycle fit of N2 steps after a range test |

A ratio near 1 means no compile was paid; "after plain" rows pay the one compile a model needs for
its scheduled step. Before the schedules were a few numbers in a fixed-shape variable, every new
length traced and compiled the step again (issue 13: 2.2x on JAX for 1,250 steps after 2).

    KERAS_BACKEND=jax python bench/compile_cost.py [--rounds 5] [--model mlp|cnn] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

import keras_one_cycle_clr as kclr

BATCH = 32


def build(kind):
    keras.utils.set_random_seed(0)
    if kind == "mlp":
        inputs = keras.Input((32,))
        outputs = keras.layers.Dense(10)(keras.layers.Dense(256, activation="relu")(inputs))
    else:  # a small residual CNN on 32x32x3
        inputs = keras.Input((32, 32, 3))
        h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
        h = keras.layers.Add()([h, keras.layers.Conv2D(16, 3, padding="same", activation="relu")(h)])
        outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(True))
    return model


def data(kind, steps, seed=0):
    rng = np.random.default_rng(seed)
    shape = (32,) if kind == "mlp" else (32, 32, 3)
    x = rng.normal(size=(steps * BATCH, *shape)).astype("float32")
    return x, rng.integers(0, 10, len(x))


def fit(model, x, y, callbacks=()):
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=list(callbacks))


def one_cycle():
    return kclr.OneCycle((0.001, 0.01), (0.95, 0.85))


def clr():
    return kclr.CLR(2, (0.001, 0.01), (0.95, 0.85))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--first", type=int, default=2, help="N1: steps of the first fit (default 2)")
    parser.add_argument("--second", type=int, default=400, help="N2: steps of the timed call (default 400)")
    parser.add_argument("--wd", type=int, default=4, help="weight decays of the range test (W)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 round: only proves it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.second, args.wd = 1, 8, 2
    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)  # more threads only contend on these small models (bench/quality.py)
    x1, y1 = data(args.model, args.first, seed=1)
    x2, y2 = data(args.model, args.second, seed=2)
    wd_list = list(np.geomspace(1e-5, 1e-2, args.wd))

    def range_test(model):
        kclr.lr_find(
            model,
            x2,
            y2,
            batch_size=BATCH,
            lr_range=(1e-5, 1.0),
            steps=args.second // args.wd,
            batches_per_step=1,
            wd_list=wd_list,
            threshold_multiplier=1e9,
        )

    # row -> (prepare the model, the timed call)
    rows = {
        "plain fit": (lambda m: fit(m, x1, y1), lambda m: fit(m, x2, y2)),
        "plain fit A/A": (lambda m: fit(m, x1, y1), lambda m: fit(m, x2, y2)),
        "OneCycle after OneCycle": (
            lambda m: fit(m, x1, y1, [one_cycle()]),
            lambda m: fit(m, x2, y2, [one_cycle()]),
        ),
        "OneCycle after plain": (lambda m: fit(m, x1, y1), lambda m: fit(m, x2, y2, [one_cycle()])),
        "CLR after OneCycle": (lambda m: fit(m, x1, y1, [one_cycle()]), lambda m: fit(m, x2, y2, [clr()])),
        "range test after OneCycle": (lambda m: fit(m, x1, y1, [one_cycle()]), range_test),
        "range test after plain": (lambda m: fit(m, x1, y1), range_test),
        "OneCycle after range test": (
            lambda m: (fit(m, x1, y1), range_test(m)),
            lambda m: fit(m, x2, y2, [one_cycle()]),
        ),
    }
    times = {name: [] for name in rows}
    for round_index in range(args.rounds):
        names = list(rows)
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            keras.utils.clear_session(free_memory=False)
            prepare, timed = rows[name]
            model = build(args.model)
            prepare(model)
            start = time.perf_counter()
            timed(model)
            times[name].append(time.perf_counter() - start)

    print(
        f"backend={keras.backend.backend()} keras={keras.__version__} model={args.model} "
        f"N1={args.first} N2={args.second} W={args.wd} rounds={args.rounds}"
    )
    print("| call (whole, after a first fit) | median s | ratio to plain fit (median of rounds) |")
    print("|---|---:|---:|")
    for name in rows:
        ratios = [t / p for t, p in zip(times[name], times["plain fit"], strict=True)]
        print(f"| {name} | {statistics.median(times[name]):.3f} | {statistics.median(ratios):.2f} |")


if __name__ == "__main__":
    main()
