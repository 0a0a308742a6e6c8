"""Per-step cost of `OneCycle` / `CLR` against a constant learning rate and the alternatives.

For a small MLP and a small CNN on random data, every variant gets its own model (same initial
weights, same data) and optimizer:

- `constant`: `SGD(0.01, momentum=0.9)`, no schedule: the baseline;
- `constant-A/A`: the same on a second model: its ratio to `constant` shows the noise floor;
- `OneCycle`: `kclr.OneCycle(lr_range=(0.001, 0.01), momentum_range=(0.95, 0.85))`;
- `CLR`: `kclr.CLR(cyc=2, lr_range=(0.001, 0.01), momentum_range=(0.95, 0.85))`;
- `py-assign-2019`: the 2019 library's approach, a callback that assigns the learning rate and sets
  `optimizer.momentum` from Python before every batch (on TensorFlow and JAX the momentum part never
  reaches the compiled step: that is the point);
- `CosineDecay`: `keras.optimizers.schedules.CosineDecay` with warm-up, passed as `learning_rate`.

`--diagnose` adds two variants that split OneCycle's cost in two:

- `retrace-only`: constant learning rate plus a callback that rebuilds the train function at the start
  of every fit and drops it at the end, installing nothing: what a schedule that retraced every fit
  would pay (OneCycle/CLR did before their compiled step was cached);
- `inject-const`: a `ScheduleInjection` with constant schedules (learning rate and momentum) installed
  once, so the train function is traced once: the in-step cost of evaluating the packed schedules
  alone (`bench/schedule_eval_cost.py` times that evaluation by itself).

Method: build each model once, warm it up with one fit of the timed length (compiles), then time
`model.fit(..., verbose=0)` of every variant round-robin (the order rotates every round) with
`time.perf_counter`. Per fit:

- whole fit: the fit's wall time / its steps; it includes what a fit pays once (OneCycle/CLR trace
  their train function in the warm-up fit and reuse it in later fits of the same length);
- steady state: the median over the epochs after the first of the epoch's wall time (from its start
  to the next epoch's, or to the end of training), / steps per epoch, timestamped by a callback that
  runs first; it excludes the first epoch and with it the trace, and the median keeps a one-off stall
  (or a short last epoch) out of it;
- steady CPU: the same median of this process's CPU time (all threads) per epoch, / steps per epoch;
- fit-loop CPU: the same median of the CPU time of the thread that runs `fit`, where a schedule's
  per-step Python lands (time spent waiting for a core is not counted);
- run-queue wait: how long this process's threads waited for a CPU, / wall time (Linux): a sign of
  contention on a shared machine (`--max-wait` repeats such fits).

Ratios to `constant` are taken within each round, then the median over rounds is reported.
The backend comes from `KERAS_BACKEND`, as Keras requires.

    KERAS_BACKEND=jax .venv/bin/python bench/step_cost.py --rounds 7
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import platform
import statistics
import time

import keras
import numpy as np

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import hyperparams

BACKEND = keras.backend.backend()
LR_RANGE = (0.001, 0.01)
MOMENTUM_RANGE = (0.95, 0.85)
MAIN_VARIANTS = ("constant", "constant-A/A", "OneCycle", "CLR", "py-assign-2019", "CosineDecay")
DIAGNOSTIC_VARIANTS = ("retrace-only", "inject-const")


# -- callbacks ---------------------------------------------------------------------------------------
def clocks():
    """(wall seconds, this process's CPU seconds over all its threads, the calling thread's CPU seconds).

    Keras calls epoch hooks on the thread that runs `fit`: the third clock is the fit loop's own work
    (dispatch, callbacks, data), which is where a schedule's per-step Python lands; unlike wall time
    it does not count waiting for a core."""
    return time.perf_counter(), time.process_time(), time.thread_time()


class EpochClock(keras.callbacks.Callback):
    """Timestamps every epoch's start and the end of training. Never touches `self.model`."""

    def on_train_begin(self, logs=None):
        self.epoch_starts = []
        self.train_end = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_starts.append(clocks())

    def on_train_end(self, logs=None):
        self.train_end = clocks()


class PythonAssign2019(keras.callbacks.Callback):
    """The 2019 approach: set the learning rate and momentum from Python before every batch.

    The values follow the one-cycle tables of `kclr.OneCycle` for the fit's length.
    """

    def __init__(self):
        super().__init__()
        self._reference = kclr.OneCycle(lr_range=LR_RANGE, momentum_range=MOMENTUM_RANGE)

    def on_train_begin(self, logs=None):
        values = self._reference.schedule_values(self.params["epochs"] * self.params["steps"])
        self._lr = [float(v) for v in values["lr"]]
        self._momentum = [float(v) for v in values["momentum"]]
        self._step = 0
        self._stride = int(getattr(self.model, "steps_per_execution", 1) or 1)  # steps per batch hook

    def on_train_batch_begin(self, batch, logs=None):
        index = min(self._step, len(self._lr) - 1)
        optimizer = self.model.optimizer  # on JAX, `self.model` syncs the training state: the point
        optimizer.learning_rate.assign(self._lr[index])
        optimizer.momentum = self._momentum[index]
        self._step += self._stride


class RetraceOnly(keras.callbacks.Callback):
    """Rebuilds the train function at the start of each fit and drops it at the end, like OneCycle."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0:
            self.model.make_train_function(force=True)

    def on_train_end(self, logs=None):
        self.model.train_function = None


# -- models and variants -----------------------------------------------------------------------------
# Scaling: an MLP 64 -> h -> h -> 10 with about this many parameters (h chosen to match). mlp-300k
# runs about 1 ms a step on JAX here, the size the per-step target is stated for (`mlp` takes 0.2 ms).
SCALING_MODELS = {"mlp-10k": 64, "mlp-300k": 512, "mlp-1m": 990, "mlp-20m": 4400}
MODEL_KINDS = ("mlp", "cnn", *SCALING_MODELS)


def parameter_count(model_kind):
    hidden = SCALING_MODELS[model_kind]
    return 64 * hidden + hidden + hidden * hidden + hidden + hidden * 10 + 10


def make_data(model_kind, samples, seed):
    rng = np.random.default_rng(seed)
    features = {"mlp": (20,), "cnn": (16, 16, 1)}.get(model_kind, (64,))
    shape = (samples, *features)
    x = rng.standard_normal(shape).astype("float32")
    y = rng.integers(0, 10, size=(samples,)).astype("int32")
    return x, y


def build_model(model_kind, seed):
    keras.utils.set_random_seed(seed)  # every variant starts from the same weights
    if model_kind in SCALING_MODELS:
        hidden = SCALING_MODELS[model_kind]
        layers = [
            keras.Input((64,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(10),
        ]
    elif model_kind == "mlp":
        layers = [
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    else:
        layers = [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    return keras.Sequential(layers)


def make_variant(variant, total_steps):
    """(optimizer, callbacks) for one variant; `total_steps` sizes the CosineDecay schedule."""
    callbacks = []
    if variant == "CosineDecay":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=LR_RANGE[0],
            decay_steps=max(1, total_steps - int(0.3 * total_steps)),
            warmup_target=LR_RANGE[1],
            warmup_steps=int(0.3 * total_steps),
        )
        return keras.optimizers.SGD(learning_rate, momentum=0.9), callbacks
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    if variant == "OneCycle":
        callbacks.append(kclr.OneCycle(lr_range=LR_RANGE, momentum_range=MOMENTUM_RANGE))
    elif variant == "CLR":
        callbacks.append(kclr.CLR(cyc=2, lr_range=LR_RANGE, momentum_range=MOMENTUM_RANGE))
    elif variant == "py-assign-2019":
        callbacks.append(PythonAssign2019())
    elif variant == "retrace-only":
        callbacks.append(RetraceOnly())
    elif variant == "inject-const":
        hyperparams.ScheduleInjection(optimizer, {"learning_rate": 0.01, "momentum": 0.9}).install()
    elif variant not in ("constant", "constant-A/A"):
        msg = f"Unknown variant: {variant!r}"
        raise ValueError(msg)
    return optimizer, callbacks


class Subject:
    """One model + variant, compiled once, fitted many times on the same data."""

    def __init__(self, model_kind, variant, data, args):
        self.model_kind = model_kind
        self.variant = variant
        self.data = data
        self.args = args
        total_steps = args.epochs * args.steps
        optimizer, self.callbacks = make_variant(variant, total_steps)
        self.model = build_model(model_kind, args.seed)
        self.model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=args.jit_compile,
            steps_per_execution=args.steps_per_execution,
        )
        self.clock = EpochClock()

    def fit(self, epochs):
        x, y = self.data
        return self.model.fit(
            x,
            y,
            batch_size=self.args.batch_size,
            epochs=epochs,
            shuffle=False,
            verbose=0,
            callbacks=[self.clock, *self.callbacks],
        )

    def _median_per_step(self, epochs, clock):
        return statistics.median(end[clock] - begin[clock] for begin, end in epochs) / self.args.steps

    def timed_fit(self):
        """Seconds per step of one fit of `--epochs`: whole fit, steady state (wall and CPU)."""
        gc.collect()
        start = time.perf_counter()
        self.fit(self.args.epochs)
        whole = time.perf_counter() - start
        marks = [*self.clock.epoch_starts, self.clock.train_end]
        # Epochs after the first, each from its start to the next one's: the median ignores a one-off
        # stall or a short last epoch, which belong to the fit rather than to its steps.
        epochs = list(itertools.pairwise(marks[1:]))
        steady = statistics.median(end[0] - begin[0] for begin, end in epochs) / self.args.steps
        return {
            "whole": whole / (self.args.epochs * self.args.steps),
            "steady": steady,
            "steady_cpu": self._median_per_step(epochs, clock=1),
            "steady_loop_cpu": self._median_per_step(epochs, clock=2),
            "fixed": whole - steady * self.args.epochs * self.args.steps,  # what the fit pays once
        }


# -- contention ------------------------------------------------------------------------------------
class RunQueueMonitor:
    """How long this process's threads waited for a CPU: the sum over `/proc/self/task/*/schedstat`.

    On a shared machine a fit whose threads waited for a core is slower for reasons that have nothing
    to do with the variant: the table reports the wait, and `--max-wait` repeats such fits. Linux only:
    elsewhere `available` is False and nothing is checked.
    """

    def __init__(self):
        self.available = os.path.exists("/proc/self/schedstat")

    def snapshot(self):
        waited = 0
        if self.available:
            for task in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{task}/schedstat") as schedstat:
                        waited += int(schedstat.read().split()[1])
                except (OSError, IndexError, ValueError):
                    continue  # a thread that ended meanwhile
        return time.perf_counter(), waited * 1e-9

    @staticmethod
    def waited(start, end):
        """The run-queue wait between two snapshots, as a fraction of the wall time."""
        return max(0.0, end[1] - start[1]) / max(end[0] - start[0], 1e-9)


# -- driver ------------------------------------------------------------------------------------------
def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def backend_version():
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(BACKEND)
    if module is None:
        return "?"
    return __import__(module).__version__


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The backend is chosen by the KERAS_BACKEND environment variable.",
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed round-robin rounds (default 5)")
    parser.add_argument("--steps", type=int, default=48, help="steps per epoch (default 48)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per timed fit, >= 2 (default 6)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--models",
        default=None,
        help=f"comma-separated subset of {','.join(MODEL_KINDS)} (default mlp,cnn; mlp with --smoke)",
    )
    parser.add_argument(
        "--variants", default=None, help=f"comma-separated subset of {','.join(MAIN_VARIANTS)} (default all)"
    )
    parser.add_argument("--steps-per-execution", type=int, default=1, help="default 1; forced to 1 on torch")
    parser.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="default: on for tensorflow and jax, off (forced) for torch",
    )
    parser.add_argument(
        "--diagnose", action="store_true", help="add the retrace-only and inject-const variants"
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=None,
        help="repeat a fit whose threads waited for a CPU longer than this fraction of its wall time "
        "(Linux only; default: never repeat, only report). A process's own threads wait for each "
        "other too: calibrate on a quiet machine first",
    )
    parser.add_argument(
        "--retries", type=int, default=3, help="repeats of a contended fit, at most (default 3)"
    )
    parser.add_argument(
        "--pause", type=float, default=1.0, help="seconds to pause before a repeat (default 1)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a quick run for CI: 1 round of tiny fits of the MLP, no separate warm-up (numbers meaningless)",
    )
    args = parser.parse_args(argv)
    notes = []
    if args.smoke:
        args.rounds, args.steps, args.epochs = 1, 4, 2
        args.retries = 0
        args.models = args.models or "mlp"
    if BACKEND == "torch":
        if args.steps_per_execution != 1:
            notes.append("steps_per_execution forced to 1: Keras's torch backend refuses more")
        if args.jit_compile:
            notes.append("jit_compile forced off: on torch it would mean torch.compile")
        args.steps_per_execution = 1
        args.jit_compile = False
    elif args.jit_compile is None:
        args.jit_compile = True
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the steady state starts at the second epoch; 4+ advised)")
    if args.rounds < 1 or args.steps < 1 or args.steps_per_execution < 1:
        parser.error("--rounds, --steps and --steps-per-execution must be >= 1")
    if args.steps % args.steps_per_execution:
        rounded = -(-args.steps // args.steps_per_execution) * args.steps_per_execution
        notes.append(f"steps per epoch rounded up from {args.steps} to {rounded}, a multiple of spe")
        args.steps = rounded
    args.models = [m.strip() for m in (args.models or "mlp,cnn").split(",") if m.strip()]
    if not args.models or any(m not in MODEL_KINDS for m in args.models):
        parser.error(f"--models takes a comma-separated subset of {','.join(MODEL_KINDS)}")
    main_variants = MAIN_VARIANTS
    if args.variants is not None:
        main_variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
        if "constant" not in main_variants or any(v not in MAIN_VARIANTS for v in main_variants):
            parser.error(f"--variants takes a subset of {','.join(MAIN_VARIANTS)} including constant")
    args.variants = main_variants + (DIAGNOSTIC_VARIANTS if args.diagnose else ())
    return args, notes


def measure(subject, args, monitor, counts):
    """One timed fit, repeated (after a pause) while this process's threads waited for a CPU."""
    for attempt in range(args.retries + 1):
        start = monitor.snapshot()
        result = subject.timed_fit()
        result["waited"] = monitor.waited(start, monitor.snapshot())
        if args.max_wait is None or result["waited"] <= args.max_wait or not monitor.available:
            return result
        if attempt == args.retries:
            counts["contended_kept"] += 1
        else:
            counts["repeated"] += 1
            time.sleep(args.pause)
    return result


def summarize(rows, variants):
    """Markdown lines: medians over rounds of ms/step and of the per-round ratio to `constant`."""
    lines = [
        "| model | variant | whole fit ms/step | whole fit ratio | steady ms/step | steady ratio "
        "| steady CPU ms/step | steady CPU ratio | fit-loop CPU ms/step | fit-loop CPU ratio "
        "| per-fit fixed ms | run-queue wait |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model_kind, per_variant in rows.items():
        base = per_variant["constant"]
        for variant in variants:
            runs = per_variant[variant]

            def median(key, runs=runs):
                return statistics.median(run[key] for run in runs)

            def ratio(key, runs=runs, base=base):
                return statistics.median(run[key] / b[key] for run, b in zip(runs, base, strict=True))

            lines.append(
                f"| {model_kind} | {variant} "
                f"| {1e3 * median('whole'):.3f} | {ratio('whole'):.3f} "
                f"| {1e3 * median('steady'):.3f} | {ratio('steady'):.3f} "
                f"| {1e3 * median('steady_cpu'):.3f} | {ratio('steady_cpu'):.3f} "
                f"| {1e3 * median('steady_loop_cpu'):.3f} | {ratio('steady_loop_cpu'):.3f} "
                f"| {1e3 * median('fixed'):.0f} | {100 * median('waited'):.1f}% |"
            )
    return lines


def main(argv=None):
    args, notes = parse_args(argv)
    total_steps = args.epochs * args.steps
    print(f"# step_cost: backend={BACKEND} ({BACKEND} {backend_version()}, keras {keras.__version__})")
    print(
        f"# cpu: {cpu_model()}, nproc={os.cpu_count()}; jit_compile={args.jit_compile}, "
        f"steps_per_execution={args.steps_per_execution}, batch={args.batch_size}, "
        f"steps/epoch={args.steps}, epochs/fit={args.epochs} ({total_steps} steps), "
        f"rounds={args.rounds}{', smoke' if args.smoke else ''}"
    )
    for note in notes:
        print(f"# note: {note}")

    monitor = RunQueueMonitor()
    counts = {"repeated": 0, "contended_kept": 0}
    rows = {}
    started = time.perf_counter()
    for model_kind in args.models:
        data = make_data(model_kind, args.steps * args.batch_size, args.seed)
        subjects = [Subject(model_kind, variant, data, args) for variant in args.variants]
        for subject in subjects if not args.smoke else ():  # warm-up: compile every train function
            subject.fit(args.epochs)  # the timed length: OneCycle/CLR trace once per table length
        results = {variant: [] for variant in args.variants}
        for round_index in range(args.rounds):
            shift = round_index % len(subjects)
            for subject in subjects[shift:] + subjects[:shift]:
                result = measure(subject, args, monitor, counts)
                results[subject.variant].append(result)
        rows[model_kind] = results

    print()
    print("\n".join(summarize(rows, args.variants)))
    print()
    print(
        f"# ratios: per-round variant/constant, median over {args.rounds} round(s); steady = median epoch "
        f"of epochs 2..{args.epochs}; steady CPU = this process's CPU time (all threads), same epochs;\n"
        "# fit-loop CPU = the CPU time of the thread running fit (dispatch, callbacks, data), same epochs;\n"
        f"# per-fit fixed = whole-fit time - steady ms/step x {total_steps} steps; run-queue wait = "
        "time this process's threads waited for a CPU / wall time (median)."
    )
    if monitor.available and args.max_wait is not None:
        print(
            f"# contention: {counts['repeated']} fit(s) repeated, {counts['contended_kept']} kept with a "
            f"run-queue wait over {100 * args.max_wait:.0f}% after {args.retries} repeat(s)."
        )
    elif not monitor.available:
        print("# contention: not checked (no /proc/self/task/*/schedstat)")
    print(f"# total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
