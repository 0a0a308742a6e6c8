"""What a learning-rate range test costs against a plain `fit` over the same batches.

Interleaves, round by round, on one model: (a) a plain `fit` of S x W batches at a constant learning
rate, twice (the second, "A/A", shows the noise floor), (b) `lr_find` with S steps x W weight decays
and no validation, (c) the same with validation;
(d) a plain fit that also evaluates the validation batches once per learning rate (the baseline of
(c): the same training batches plus the validation compute itself);
it prints medians of the ratio to (a), (c) over (d), and the peak memory of the in-memory snapshot against one
copy of the weights and optimizer state. The backend comes from KERAS_BACKEND.

    KERAS_BACKEND=jax python bench/range_test_cost.py [--rounds 5] [--steps 100] [--wd 4]
        [--batches-per-step 1] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import keras
import numpy as np

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr.range_test import TrainingState


def build(hidden):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((20,)), keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(True))
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="learning rates per sweep (S)")
    parser.add_argument("--wd", type=int, default=4, help="weight decays (W); 0 for one sweep without")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument(
        "--batches-per-step",
        type=int,
        default=1,
        help="batches per lr (default 1: the most checks per batch)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 round: only proves it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.steps, args.wd = 1, 10, 2
    batch = 32
    sweeps = max(1, args.wd)
    batches = args.steps * sweeps * args.batches_per_step
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch * batches, 20)).astype("float32")
    y = rng.integers(0, 10, len(x))
    wd_list = list(np.geomspace(1e-5, 1e-2, args.wd)) if args.wd else []
    model = build(args.hidden)
    model.fit(x[:batch], y[:batch], batch_size=batch, verbose=0)  # builds and compiles once

    def plain(callbacks=()):
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=list(callbacks))

    validation = {"validation_data": (x[:256], y[:256]), "batches_per_val": 2, "validation_batch_size": 128}

    class ValidationOnly(keras.callbacks.Callback):
        """A plain fit that evaluates the range test's validation batches once per learning rate, by
        the range test's own function: the baseline of "range test + val"."""

        def on_train_begin(self, logs=None):
            rows = np.arange(256)
            self.evaluate = compat.validation_loss_function(self.model, x[rows], y[rows])

        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % args.batches_per_step == 0:
                self.evaluate()

    def range_test(with_validation):
        kclr.lr_find(
            model,
            x,
            y,
            batch_size=batch,
            lr_range=(1e-5, 1.0),
            steps=args.steps,
            batches_per_step=args.batches_per_step,
            wd_list=wd_list,
            threshold_multiplier=1e9,  # never stop early: every run does all batches
            **(validation if with_validation else {}),
        )

    variants = {
        "plain fit": plain,
        "plain fit A/A": plain,  # the same again: its ratio is the run's noise floor
        "range test": lambda: range_test(False),
        "plain fit + val evaluations": lambda: plain([ValidationOnly()]),
        "range test + val": lambda: range_test(True),
    }
    for run in variants.values():
        run()  # warm-up: traces and compiles
    times = {name: [] for name in variants}
    for round_index in range(args.rounds):
        order = list(variants)[round_index % len(variants) :] + list(variants)[: round_index % len(variants)]
        for name in order:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)

    tracemalloc.start()
    state = TrainingState(model)
    snapshot_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    weights_bytes = sum(w.nbytes for w in model.get_weights())
    optimizer_bytes = sum(v.numpy().nbytes for v in model.optimizer.variables)
    del state

    print(
        f"backend={keras.backend.backend()} S={args.steps} W={sweeps} "
        f"batches_per_step={args.batches_per_step} batches={batches} rounds={args.rounds}"
    )
    print("| variant | median s | ratio to plain fit (median of rounds) |")
    print("|---|---|---|")
    for name in variants:
        ratios = [t / p for t, p in zip(times[name], times["plain fit"], strict=True)]
        print(f"| {name} | {statistics.median(times[name]):.3f} | {statistics.median(ratios):.3f} |")
    val_ratios = [
        t / p for t, p in zip(times["range test + val"], times["plain fit + val evaluations"], strict=True)
    ]
    print(f"range test + val / (plain fit + val evaluations): {statistics.median(val_ratios):.3f}")
    state_mb = (weights_bytes + optimizer_bytes) / 1e6
    print(
        f"snapshot: {snapshot_bytes / 1e6:.2f} MB traced for {state_mb:.2f} MB of weights "
        f"({weights_bytes / 1e6:.2f}) and optimizer state ({optimizer_bytes / 1e6:.2f})"
    )


if __name__ == "__main__":
    main()
