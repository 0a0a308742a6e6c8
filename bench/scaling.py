"""How the schedules' per-step cost and the range test's snapshot grow with the model's size.

For MLPs of about 10k, 300k, 1M and 20M parameters (64 -> h -> h -> 10, SGD with momentum):

1. per-step cost: `step_cost.py`'s method (interleaved fits, median ratios) for `constant`,
   `constant-A/A` (the noise floor) and `OneCycle`;
2. the range test's in-memory snapshot: the time to take a `TrainingState` (weights and optimizer
   variables copied to host memory) and to restore it, medians of 5, against one training step.

The backend comes from KERAS_BACKEND.

    KERAS_BACKEND=jax python bench/scaling.py [--rounds 3] [--smoke]
        [--models mlp-10k,mlp-300k,mlp-1m,mlp-20m]
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import step_cost

from keras_one_cycle_clr.range_test import TrainingState


def median_seconds(run, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def snapshot_row(model_kind, batch_size):
    model = step_cost.build_model(model_kind, seed=0)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(True))
    x, y = step_cost.make_data(model_kind, 8 * batch_size, seed=0)
    model.fit(x, y, batch_size=batch_size, verbose=0)  # builds and compiles
    step = median_seconds(lambda: model.train_on_batch(x[:batch_size], y[:batch_size]))
    state = TrainingState(model)
    take = median_seconds(lambda: TrainingState(model))
    restore = median_seconds(lambda: state.restore(model))
    megabytes = (sum(w.nbytes for w in state.weights) + sum(v.nbytes for v in state.optimizer_values)) / 1e6
    return (
        f"| {model_kind} | {step_cost.parameter_count(model_kind):,} | {megabytes:.1f} "
        f"| {1e3 * take:.2f} | {1e3 * restore:.2f} | {1e3 * step:.2f} | {(take + restore) / step:.1f} |"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default=",".join(step_cost.SCALING_MODELS))
    parser.add_argument("--smoke", action="store_true", help="the 10k model only, tiny fits: proves it runs")
    args = parser.parse_args(argv)
    models = "mlp-10k" if args.smoke else args.models
    step_args = ["--models", models, "--variants", "constant,constant-A/A,OneCycle"]
    step_args += (
        ["--smoke"] if args.smoke else ["--rounds", str(args.rounds), "--steps", "16", "--epochs", "3"]
    )
    step_cost.main(step_args)
    print()
    print(f"# snapshot: backend={keras.backend.backend()}, batch 32, medians of 5")
    print(
        "| model | parameters | state MB | snapshot ms | restore ms | step ms | (snapshot + restore) / step |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model_kind in models.split(","):
        print(snapshot_row(model_kind.strip(), batch_size=32))


if __name__ == "__main__":
    main()
