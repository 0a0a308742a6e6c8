"""The `keras-one-cycle-clr` command (also `python -m keras_one_cycle_clr`).

Subcommands:

- `demo`: one cycle against a constant learning rate on scikit-learn's digits; see
  `keras_one_cycle_clr.demo`.
- `lr-find MODEL.keras DATA.npz`: a learning-rate range test on a saved, compiled model; prints the
  suggestions and writes the plot and a JSON summary.
- `plot-schedule one-cycle|clr`: plots the learning rate (and momentum) that `OneCycle` or `CLR`
  would apply over a given number of steps.

Invalid arguments end the command with exit status 2 and one line, `error: <message>`, on stderr;
the message is the library's own, which names the argument (`lr_range` for `--lr-min`/`--lr-max`,
and so on: every option's help names the argument it sets). The backend is Keras's usual
`KERAS_BACKEND` environment variable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import keras_one_cycle_clr
from keras_one_cycle_clr import demo, schedules
from keras_one_cycle_clr.callbacks import CLR, OneCycle
from keras_one_cycle_clr.workflow import DEFAULT_WD_LIST

PROG = "keras-one-cycle-clr"
USAGE_ERROR = 2
RUNTIME_ERROR = 1


class _UsageError(Exception):
    """A bad command line; `main` reports it on one line and returns 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors reach `main` instead of exiting the process."""

    def error(self, message):
        raise _UsageError(message)


def main(argv: list[str] | None = None) -> int:
    """Runs the command line `argv`.

    Args:
        argv: The arguments after the program name, as a list of strings. Defaults to
            `sys.argv[1:]`.

    Returns:
        The exit status: 0 on success, 2 for invalid arguments (reported as one `error: ...` line on
        stderr), 1 when the command could not finish (a missing optional dependency, an unwritable
        output path).
    """
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_request:  # --help and --version, which have already printed
            return exit_request.code if isinstance(exit_request.code, int) else 0
        return args.run(args)
    except _UsageError as error:
        _report(error)
        return USAGE_ERROR
    except (ImportError, OSError) as error:
        _report(error)
        return RUNTIME_ERROR


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `keras-one-cycle-clr` command.

    Returns:
        An `argparse.ArgumentParser` whose parsed namespace has a `run(args) -> int` attribute, the
        subcommand to call.
    """
    parser = _Parser(
        prog=PROG,
        description="One-cycle policy and cyclical learning rates for Keras 3. "
        "The backend is chosen by the KERAS_BACKEND environment variable.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {keras_one_cycle_clr.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo_parser = commands.add_parser(
        "demo",
        help="train one cycle and a constant learning rate on scikit-learn's digits",
        description="Trains a small MLP on scikit-learn's digits with OneCycle and with a constant "
        "learning rate, and writes schedule.png, loss_curves.png and summary.json to --out.",
    )
    demo_parser.add_argument(
        "--out", default=demo.DEFAULT_OUT, help=f"output directory (default: {demo.DEFAULT_OUT})"
    )
    demo_parser.add_argument(
        "--epochs",
        type=_count(1),
        default=None,
        help=f"epochs of each run (default: {demo.DEFAULT_EPOCHS}, {demo.QUICK_EPOCHS} with --quick)",
    )
    demo_parser.add_argument(
        "--seed",
        type=_count(0),
        default=demo.DEFAULT_SEED,
        help=f"seed of the data split and the initial weights (default: {demo.DEFAULT_SEED})",
    )
    demo_parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    demo_parser.set_defaults(run=_run_demo)

    find_parser = commands.add_parser(
        "lr-find",
        help="run a learning-rate range test on a saved model and data",
        description="Loads a compiled Keras model (.keras, safe mode) and arrays from an .npz file, runs "
        "a learning-rate range test (the model file is not changed), prints the suggested learning "
        "rates and writes lr_find.png and lr_find.json to --out.",
    )
    find_parser.add_argument("model", help="a compiled model saved with model.save('model.keras')")
    find_parser.add_argument("data", help="an .npz file holding the inputs and the targets")
    find_parser.add_argument("--x-key", default="x", help="the inputs' name in the .npz file (default: x)")
    find_parser.add_argument("--y-key", default="y", help="the targets' name in the .npz file (default: y)")
    find_parser.add_argument("--batch-size", type=_count(1), default=32, help="batch size (default: 32)")
    find_parser.add_argument("--lr-min", type=float, default=1e-5, help="lr_range[0] (default: 1e-5)")
    find_parser.add_argument("--lr-max", type=float, default=10.0, help="lr_range[1] (default: 10)")
    find_parser.add_argument(
        "--steps", type=int, default=100, help="steps: learning rates tried (default: 100)"
    )
    find_parser.add_argument("--batches-per-step", type=int, default=5, help="batches_per_step (default: 5)")
    find_parser.add_argument(
        "--wd",
        type=float,
        nargs="+",
        default=DEFAULT_WD_LIST,
        help="wd_list: weight decays to sweep (default: fit_one_cycle's, 0 1e-4 1e-3 1e-2)",
    )
    find_parser.add_argument(
        "--epochs",
        type=_count(1),
        default=None,
        help="the epochs of the one cycle you will train on this data: its peak depends on the cycle's "
        "length (default: unknown, the peak of a cycle of about 635 steps)",
    )
    find_parser.add_argument("--out", default="lr_find_out", help="output directory (default: lr_find_out)")
    find_parser.set_defaults(run=_run_lr_find)

    plot_parser = commands.add_parser(
        "plot-schedule",
        help="plot the learning rate and momentum of OneCycle or CLR",
        description="Plots the learning rate (and momentum) that a OneCycle or CLR callback applies "
        "at every step of a fit of --steps steps.",
    )
    policies = plot_parser.add_subparsers(dest="policy", required=True, metavar="POLICY")
    common = _Parser(add_help=False)
    common.add_argument(
        "--steps", type=_count(1), required=True, help="training steps: epochs x steps per epoch"
    )
    common.add_argument("--lr-min", type=float, required=True, help="lr_range[0]: the lowest learning rate")
    common.add_argument("--lr-max", type=float, required=True, help="lr_range[1]: the peak learning rate")
    common.add_argument(
        "--momentum-start",
        type=float,
        default=None,
        help="momentum_range[0]: the momentum at the start (with --momentum-low; default: no momentum)",
    )
    common.add_argument(
        "--momentum-low",
        type=float,
        default=None,
        help="momentum_range[1]: the momentum at the peak learning rate (with --momentum-start)",
    )
    common.add_argument(
        "--phase-one-fraction",
        type=float,
        default=None,
        help="phase_one_fraction: the rising fraction of a cycle (default: 0.3; 0.5 for clr's "
        "triangular, triangular2 and exp_range modes)",
    )
    common.add_argument(
        "--out", required=True, help="the image file to write, e.g. schedule.png (.png added if none)"
    )

    one_cycle = policies.add_parser(
        "one-cycle",
        parents=[common],
        help="the one-cycle policy (OneCycle)",
        description="The learning rate rises from --lr-min to --lr-max over the first "
        "--phase-one-fraction of the steps, then anneals to --final-lr; momentum goes the other way.",
    )
    one_cycle.add_argument(
        "--final-lr", type=float, default=0.0, help="final_lr: the learning rate at the end (default: 0)"
    )
    one_cycle.add_argument("--anneal", default="cos", help="anneal: cos or linear (default: cos)")
    one_cycle.add_argument("--three-phase", action="store_true", help="three_phase: PyTorch's variant")
    one_cycle.set_defaults(run=_run_plot_schedule)

    clr = policies.add_parser(
        "clr",
        parents=[common],
        help="cyclical learning rates (CLR)",
        description="--cycles cycles over the steps, each rising from --lr-min towards --lr-max over "
        "its first --phase-one-fraction and falling back; momentum goes the other way.",
    )
    clr.add_argument("--cycles", type=int, default=1, help="cyc: the number of cycles (default: 1)")
    clr.add_argument(
        "--mode",
        default="cosine",
        help="mode: one of " + ", ".join(schedules.CYCLIC_MODES) + " (default: cosine)",
    )
    clr.add_argument(
        "--gamma", type=float, default=1.0, help="gamma: exp_range's decay per step (default: 1)"
    )
    clr.set_defaults(run=_run_plot_schedule)
    return parser


def _count(minimum):
    """An argparse type: an integer >= `minimum`."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            msg = f"must be an integer >= {minimum}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _report(error):
    message = " ".join(str(error).split()) or type(error).__name__
    sys.stderr.write(f"error: {message}\n")


def _run_demo(args):
    demo.run_demo(args.out, epochs=args.epochs, seed=args.seed, quick=args.quick)
    return 0


def _policy(args):
    """The OneCycle or CLR callback the arguments describe; the library checks every value."""
    if (args.momentum_start is None) != (args.momentum_low is None):
        msg = "--momentum-start and --momentum-low go together: give both or neither"
        raise _UsageError(msg)
    momentum_range = None if args.momentum_start is None else (args.momentum_start, args.momentum_low)
    lr_range = (args.lr_min, args.lr_max)
    try:
        if args.policy == "one-cycle":
            return OneCycle(
                lr_range,
                momentum_range,
                0.3 if args.phase_one_fraction is None else args.phase_one_fraction,
                final_lr=args.final_lr,
                anneal=args.anneal,
                three_phase=args.three_phase,
            )
        return CLR(
            args.cycles, lr_range, momentum_range, args.phase_one_fraction, mode=args.mode, gamma=args.gamma
        )
    except (ValueError, TypeError) as error:
        raise _UsageError(str(error)) from error


def _run_plot_schedule(args):
    figure = _policy(args).test_run(args.steps)
    out = Path(args.out)
    if not out.suffix:  # matplotlib would add ".png" itself, and we would report another name
        out = out.with_name(out.name + ".png")
    try:
        figure.savefig(out)
    except ValueError as error:  # matplotlib's answer to an image format it cannot write
        msg = f"--out {args.out}: {error}"
        raise _UsageError(msg) from error
    sys.stdout.write(f"wrote {out}\n")
    return 0


def _load_lr_find_inputs(args):
    """The model and arrays named on the command line, or a one-line usage error."""
    import numpy as np

    for path in (args.model, args.data):
        if not Path(path).is_file():
            msg = f"no such file: {path}"
            raise _UsageError(msg)
    try:
        model = _load_model(args.model)
    except (ValueError, OSError, TypeError) as error:
        msg = f"cannot load {args.model} as a Keras model: {error}"
        raise _UsageError(msg) from error
    if getattr(model, "optimizer", None) is None:
        msg = f"{args.model} holds no optimizer: compile the model before saving it"
        raise _UsageError(msg)
    try:
        with np.load(args.data, allow_pickle=False) as arrays:
            missing = [key for key in (args.x_key, args.y_key) if key not in arrays]
            if missing:
                msg = f"{args.data} has no array {missing[0]!r}; it has: {', '.join(arrays.files)}"
                raise _UsageError(msg)
            x, y = arrays[args.x_key], arrays[args.y_key]
    except (ValueError, OSError) as error:
        msg = f"cannot read {args.data} as an .npz file: {error}"
        raise _UsageError(msg) from error
    if len(x) != len(y):
        msg = f"--x-key {args.x_key} has {len(x)} rows but --y-key {args.y_key} has {len(y)}"
        raise _UsageError(msg)
    return model, x, y


def _load_model(path):
    """`keras.models.load_model(path, safe_mode=True)`, without Keras's warning about an optimizer
    saved before it was built.

    A model compiled and saved before training holds an optimizer without state (its step counter
    and learning rate only); Keras builds the loaded one and warns "Skipping variable loading for
    optimizer" because the counts differ. Nothing is lost: the built optimizer starts from zero, as
    the saved one would have. Any other mismatch is still reported.
    """
    import warnings

    import keras

    skipping = "Skipping variable loading for optimizer"
    with warnings.catch_warnings(record=True) as caught:  # what passes the filters is held back
        warnings.filterwarnings("always", message=skipping, category=UserWarning)
        model = keras.models.load_model(path, safe_mode=True)
    optimizer = getattr(model, "optimizer", None)
    unbuilt = None
    if optimizer is not None:
        fresh = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        unbuilt = f"the saved optimizer has {len(fresh.variables)} variables"
    for warning in caught:
        message = str(warning.message)
        if message.startswith(skipping) and unbuilt and unbuilt in message:
            continue
        # Already through the filters: shown as they would have been.
        warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    return model


def _run_lr_find(args):
    import numpy as np

    from keras_one_cycle_clr import range_test, suggest
    from keras_one_cycle_clr._data import steps_per_epoch

    model, x, y = _load_lr_find_inputs(args)
    try:  # bad option values (named by the library) and data that does not fit the model
        test = range_test.lr_find(
            model,
            x,
            y,
            batch_size=args.batch_size,
            lr_range=(args.lr_min, args.lr_max),
            wd_list=args.wd,
            steps=args.steps,
            batches_per_step=args.batches_per_step,
        )
        total_steps = None if args.epochs is None else args.epochs * steps_per_epoch(x, args.batch_size)
        choice = test.choose_one_cycle(total_steps=total_steps)  # a CannotChooseError is a ValueError
    except (ValueError, TypeError) as error:
        raise _UsageError(str(error)) from error
    suggestions = {name: test.suggest(method=name) for name in suggest.RULES}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test.plot(total_steps=total_steps).savefig(out / "lr_find.png", dpi=110)
    summary = {
        "model": args.model,
        "data": args.data,
        "suggestions": suggestions,
        "best_wd": test.best_wd,
        "one_cycle": {
            "peak": choice.peak,
            "weight_decay": choice.weight_decay,
            "weight_decays_tied": list(choice.weight_decays_tied),
            "reason": choice.reason,
            "total_steps": choice.total_steps,
        },
        "lr": test.lr.tolist(),
        # NaN marks steps a sweep never reached; JSON has no NaN, so they are null.
        "loss": {
            label: [None if np.isnan(v) else float(v) for v in test.loss[:, j]]
            for j, label in enumerate(test.sweep_labels)
        },
    }
    (out / "lr_find.json").write_text(json.dumps(summary, indent=2) + "\n")
    for name, value in suggestions.items():
        sys.stdout.write(f"{name:>9}: {value:.3g}\n")
    if test.best_wd is not None:  # the weight decay of the choice below
        sys.stdout.write(f"  best wd: {test.best_wd:g}\n")
    wd = "" if choice.weight_decay is None else f", weight decay {choice.weight_decay:g}"
    length = "" if args.epochs is None else f" for {args.epochs} epochs"
    sys.stdout.write(f"one cycle (as fit_one_cycle would train it{length}): peak {choice.peak:.3g}{wd}\n")
    sys.stdout.write(f"  ({choice.reason})\n")
    if args.epochs is None:
        sys.stdout.write("  (the peak depends on the cycle's length: pass --epochs for yours)\n")
    sys.stdout.write(f"wrote {out / 'lr_find.png'} and {out / 'lr_find.json'}\n")
    return 0
