"""Bad input to every public entry point: a ValueError or TypeError that names the argument, raised
before any weight changes.

Three tables. `INVALID`: calls that need no model, from constructors to plots. `AT_FIT`: errors that
only a model can reveal (an optimizer without momentum buffers, one with a schedule as its learning
rate, `steps_per_execution`, an input of unknown length) and every `lr_find` error; each runs on a
tiny compiled model whose weights and optimizer variables (step counter and learning rate included)
must come out bit-identical. `CLI`: the same library messages reaching the command line.
"""

import math
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from keras_one_cycle_clr import cli, plot, suggest
from keras_one_cycle_clr.range_test import LrRangeTest

BACKEND = keras.backend.backend()
LR = (0.01, 0.1)
X = np.ones((16, 2), dtype="float32")
Y = np.zeros((16, 1), dtype="float32")


def finished_range_test(**kwargs):
    """A range test with results, as `lr_find` leaves it: the input of suggest, plot, from_range_test."""
    test = LrRangeTest((1e-3, 1.0), steps=20, **kwargs)
    test.loss = (1.0 + (np.log10(test.lr.astype(float)) + 1.5) ** 2)[:, None]  # lowest near 10**-1.5
    return test


def batches():
    while True:
        yield X[:4], Y[:4]


def a_figure():
    from matplotlib.figure import Figure

    return Figure()


def case(case_id, call, error, *words):
    """One row: `call()` raises `error`, whose message holds the argument's name and `words`."""
    return pytest.param(call, error, words, id=case_id)


INVALID = [
    # -- OneCycle and CLR: the 2019 arguments ------------------------------------------------------
    case(
        "OneCycle-lr_range-inverted",
        lambda: kclr.OneCycle((0.1, 0.01)),
        ValueError,
        "`lr_range`",
        "lr_range[0] < lr_range[1]",
    ),
    case(
        "OneCycle-lr_range-equal",
        lambda: kclr.OneCycle((0.1, 0.1)),
        ValueError,
        "`lr_range`",
        "lr_range[0] < lr_range[1]",
    ),
    case(
        "OneCycle-lr_range-zero", lambda: kclr.OneCycle((0.0, 0.1)), ValueError, "`lr_range[0]`", "(0.0, inf)"
    ),
    case(
        "CLR-lr_range-negative", lambda: kclr.CLR(2, (-0.1, 0.1)), ValueError, "`lr_range[0]`", "(0.0, inf)"
    ),
    case(
        "OneCycle-lr_range-nan",
        lambda: kclr.OneCycle((0.01, math.nan)),
        ValueError,
        "`lr_range[1]`",
        "finite",
    ),
    case("CLR-lr_range-inf", lambda: kclr.CLR(2, (0.01, math.inf)), ValueError, "`lr_range[1]`", "finite"),
    case("OneCycle-lr_range-one-number", lambda: kclr.OneCycle(0.1), TypeError, "`lr_range`", "pair"),
    case("OneCycle-lr_range-three", lambda: kclr.OneCycle((0.01, 0.1, 1.0)), TypeError, "`lr_range`", "pair"),
    case("OneCycle-lr_range-string", lambda: kclr.OneCycle("ab"), TypeError, "`lr_range`", "pair"),
    case(
        "OneCycle-lr_range-text-item", lambda: kclr.OneCycle(("a", 0.1)), TypeError, "`lr_range[0]`", "real"
    ),
    case("CLR-lr_range-bool-item", lambda: kclr.CLR(2, (True, 2.0)), TypeError, "`lr_range[0]`", "real"),
    case(
        "OneCycle-momentum_range-one",
        lambda: kclr.OneCycle(LR, (0.95, 1.0)),
        ValueError,
        "`momentum_range[1]`",
        "[0.0, 1.0)",
    ),
    case(
        "CLR-momentum_range-negative",
        lambda: kclr.CLR(2, LR, (-0.1, 0.9)),
        ValueError,
        "`momentum_range[0]`",
        "[0.0, 1.0)",
    ),
    case(
        "OneCycle-momentum_range-nan",
        lambda: kclr.OneCycle(LR, (math.nan, 0.9)),
        ValueError,
        "`momentum_range[0]`",
    ),
    case(
        "OneCycle-momentum_range-one-item",
        lambda: kclr.OneCycle(LR, (0.95,)),
        TypeError,
        "`momentum_range`",
        "pair",
    ),
    case("CLR-momentum_range-string", lambda: kclr.CLR(2, LR, "0.9"), TypeError, "`momentum_range`", "pair"),
    case(
        "OneCycle-phase_one_fraction-zero",
        lambda: kclr.OneCycle(LR, phase_one_fraction=0.0),
        ValueError,
        "`phase_one_fraction`",
        "(0.0, 1.0)",
    ),
    case(
        "CLR-phase_one_fraction-one",
        lambda: kclr.CLR(2, LR, phase_one_fraction=1.0),
        ValueError,
        "`phase_one_fraction`",
        "(0.0, 1.0)",
    ),
    case(
        "OneCycle-phase_one_fraction-bool",
        lambda: kclr.OneCycle(LR, phase_one_fraction=True),
        TypeError,
        "`phase_one_fraction`",
    ),
    case(
        "OneCycle-phase_one_fraction-half-with-three_phase",
        lambda: kclr.OneCycle(LR, phase_one_fraction=0.5, three_phase=True),
        ValueError,
        "`phase_one_fraction`",
        "(0, 0.5) when three_phase=True",
    ),
    case(
        "OneCycle-record_frq-zero",
        lambda: kclr.OneCycle(LR, record_frq=0),
        ValueError,
        "`record_frq`",
        ">= 1",
    ),
    case(
        "CLR-record_frq-float", lambda: kclr.CLR(2, LR, record_frq=2.5), TypeError, "`record_frq`", "integer"
    ),
    case("OneCycle-record_frq-bool", lambda: kclr.OneCycle(LR, record_frq=True), TypeError, "`record_frq`"),
    case(
        "OneCycle-reset_on_train_begin-string",
        lambda: kclr.OneCycle(LR, reset_on_train_begin="yes"),
        TypeError,
        "`reset_on_train_begin`",
        "bool",
    ),
    case(
        "OneCycle-final_lr-negative",
        lambda: kclr.OneCycle(LR, final_lr=-1e-3),
        ValueError,
        "`final_lr`",
        "[0.0, inf)",
    ),
    case(
        "OneCycle-final_lr-inf",
        lambda: kclr.OneCycle(LR, final_lr=math.inf),
        ValueError,
        "`final_lr`",
        "finite",
    ),
    case(
        "OneCycle-anneal-unknown",
        lambda: kclr.OneCycle(LR, anneal="exp"),
        ValueError,
        "`anneal`",
        "'cos', 'linear'",
    ),
    case(
        "OneCycle-anneal-array",
        lambda: kclr.OneCycle(LR, anneal=np.array(["cos"])),
        TypeError,
        "`anneal`",
        "'cos', 'linear'",
    ),
    case(
        "OneCycle-three_phase-int",
        lambda: kclr.OneCycle(LR, three_phase=1),
        TypeError,
        "`three_phase`",
        "bool",
    ),
    case("CLR-cyc-zero", lambda: kclr.CLR(0, LR), ValueError, "`cyc`", ">= 1"),
    case("CLR-cyc-float", lambda: kclr.CLR(2.0, LR), TypeError, "`cyc`", "integer"),
    case("CLR-cyc-bool", lambda: kclr.CLR(True, LR), TypeError, "`cyc`"),
    case("CLR-mode-unknown", lambda: kclr.CLR(2, LR, mode="sine"), ValueError, "`mode`", "'triangular2'"),
    case("CLR-mode-none", lambda: kclr.CLR(2, LR, mode=None), TypeError, "`mode`", "'exp_range'"),
    case(
        "CLR-gamma-zero",
        lambda: kclr.CLR(2, LR, mode="exp_range", gamma=0.0),
        ValueError,
        "`gamma`",
        "(0.0, 1.0]",
    ),
    case("CLR-gamma-above-one", lambda: kclr.CLR(2, LR, mode="exp_range", gamma=1.5), ValueError, "`gamma`"),
    case(
        "CLR-gamma-nan",
        lambda: kclr.CLR(2, LR, mode="exp_range", gamma=math.nan),
        ValueError,
        "`gamma`",
        "finite",
    ),
    case(
        "CLR-amplitude_fn-not-callable",
        lambda: kclr.CLR(2, LR, amplitude_fn=0.5),
        TypeError,
        "`amplitude_fn`",
    ),
    case(
        "CLR-amplitude_fn-takes-no-argument",
        lambda: kclr.CLR(2, LR, amplitude_fn=lambda: 1.0),
        TypeError,
        "`amplitude_fn`",
        "f(cycle_index)",
    ),
    case(
        "CLR-amplitude_fn-negative",
        lambda: kclr.CLR(2, LR, amplitude_fn=lambda c: -1.0),
        ValueError,
        "`amplitude_fn(0)`",
        "[0.0, inf)",
    ),
    case(
        "CLR-amplitude_fn-nan-in-cycle-2",
        lambda: kclr.CLR(3, LR, amplitude_fn=lambda c: [1, 1, math.nan][c]),
        ValueError,
        "`amplitude_fn(2)`",
    ),
    case(
        "CLR-amplitude_fn-with-triangular2",
        lambda: kclr.CLR(2, LR, mode="triangular2", amplitude_fn=lambda c: 1.0),
        ValueError,
        "`amplitude_fn`",
        "None with mode='triangular2'",
    ),
    case(
        "CLR-find_n_epoch-generator",
        lambda: kclr.CLR(2, LR).find_n_epoch(batches()),
        ValueError,
        "`dataset`",
        "steps_per_epoch",
    ),
    case(
        "CLR-find_n_epoch-batch_size-zero",
        lambda: kclr.CLR(2, LR).find_n_epoch(X, 0),
        ValueError,
        "`batch_size`",
        ">= 1",
    ),
    case(
        "OneCycle-schedule_values-n_iter-zero",
        lambda: kclr.OneCycle(LR).schedule_values(0),
        ValueError,
        "`n_iter`",
    ),
    case(
        "CLR-test_run-n_iter-float", lambda: kclr.CLR(2, LR).test_run(2.5), TypeError, "`n_iter`", "integer"
    ),
    # -- OneCycle.from_range_test ------------------------------------------------------------------
    case(
        "from_range_test-lrrt-none",
        lambda: kclr.OneCycle.from_range_test(None),
        TypeError,
        "`lrrt`",
        "LrRangeTest",
    ),
    case(
        "from_range_test-lrrt-not-run",
        lambda: kclr.OneCycle.from_range_test(LrRangeTest()),
        ValueError,
        "`lrrt`",
        "has run",
    ),
    case(
        "from_range_test-divisor-below-one",
        lambda: kclr.OneCycle.from_range_test(finished_range_test(), divisor=0.5),
        ValueError,
        "`divisor`",
        "[1.0, inf)",
    ),
    case(
        "choose_one_cycle-total_steps-zero",
        lambda: finished_range_test().choose_one_cycle(total_steps=0),
        ValueError,
        "`total_steps`",
        "integer >= 1",
    ),
    case(
        "from_range_test-div_factor-one",
        lambda: kclr.OneCycle.from_range_test(finished_range_test(), div_factor=1),
        ValueError,
        "`div_factor`",
        "(1.0, inf)",
    ),
    case(
        "from_range_test-set-unknown",
        lambda: kclr.OneCycle.from_range_test(finished_range_test(), set="test"),
        ValueError,
        "`set`",
        "'train', 'valid'",
    ),
    case(
        "from_range_test-kwargs-bad",
        lambda: kclr.OneCycle.from_range_test(finished_range_test(), momentum_range=(0.95, 1.5)),
        ValueError,
        "`momentum_range[1]`",
    ),
    # -- the schedules (their other cases are in test_schedules.py) --------------------------------
    case(
        "OneCycleSchedule-peak_value-bool",
        lambda: kclr.OneCycleSchedule(0.1, True, 0.0, 10),
        TypeError,
        "`peak_value`",
    ),
    case(
        "OneCycleSchedule-name-int",
        lambda: kclr.OneCycleSchedule(0.1, 1.0, 0.0, 10, name=3),
        TypeError,
        "`name`",
        "string",
    ),
    case(
        "CyclicSchedule-name-slash",
        lambda: kclr.CyclicSchedule(0.1, 1.0, 10, name="a/b"),
        ValueError,
        "`name`",
        "'/'",
    ),
    case(
        "CyclicSchedule-cycle_steps-inf",
        lambda: kclr.CyclicSchedule(0.1, 1.0, math.inf),
        ValueError,
        "`cycle_steps`",
        "finite",
    ),
    case(
        "CyclicSchedule-gamma-negative",
        lambda: kclr.CyclicSchedule(0.1, 1.0, 10, gamma=-0.5),
        ValueError,
        "`gamma`",
        "(0.0, 1.0]",
    ),
    case(
        "CyclicSchedule-amplitudes-string",
        lambda: kclr.CyclicSchedule(0.1, 1.0, 10, amplitudes="1"),
        TypeError,
        "`amplitudes`",
    ),
    # -- LrRangeTest (its plain-range cases are in test_range_test.py) -----------------------------
    case(
        "LrRangeTest-lr_range-string", lambda: LrRangeTest(lr_range="1e-3"), TypeError, "`lr_range`", "pair"
    ),
    case("LrRangeTest-wd_list-string", lambda: LrRangeTest(wd_list="0.1"), TypeError, "`wd_list`"),
    case(
        "LrRangeTest-wd_list-bool-item", lambda: LrRangeTest(wd_list=[0.0, True]), TypeError, "`wd_list[1]`"
    ),
    case("LrRangeTest-steps-bool", lambda: LrRangeTest(steps=True), TypeError, "`steps`", ">= 2"),
    case(
        "LrRangeTest-batches_per_step-float",
        lambda: LrRangeTest(batches_per_step=2.5),
        TypeError,
        "`batches_per_step`",
    ),
    case(
        "LrRangeTest-threshold_multiplier-inf",
        lambda: LrRangeTest(threshold_multiplier=math.inf),
        ValueError,
        "`threshold_multiplier`",
        "finite",
    ),
    case(
        "LrRangeTest-validation_data-number",
        lambda: LrRangeTest(validation_data=(X, 5)),
        TypeError,
        "`validation_data`",
        "(ndarray, int)",
    ),
    case(
        "LrRangeTest-validation_data-triple",
        lambda: LrRangeTest(validation_data=(X, Y, Y)),
        TypeError,
        "`validation_data`",
    ),
    case(
        "LrRangeTest-validation_data-empty",
        lambda: LrRangeTest(validation_data=(X[:0], Y[:0])),
        ValueError,
        "`validation_data`",
    ),
    case("LrRangeTest-sweep-none", lambda: LrRangeTest(sweep=None), TypeError, "`sweep`", "'exp', 'linear'"),
    case("find_n_epoch-string", lambda: LrRangeTest().find_n_epoch("abc"), TypeError, "`dataset`"),
    case(
        "find_n_epoch-empty-list", lambda: LrRangeTest().find_n_epoch([]), TypeError, "`dataset`", "non-empty"
    ),
    case(
        "find_n_epoch-scalar",
        lambda: LrRangeTest().find_n_epoch(np.float64(3.0)),
        TypeError,
        "`dataset`",
        "scalar",
    ),
    case(
        "find_n_epoch-no-samples",
        lambda: LrRangeTest().find_n_epoch(X[:0]),
        ValueError,
        "`dataset`",
        "at least one sample",
    ),
    case(
        "find_n_epoch-generator",
        lambda: LrRangeTest().find_n_epoch(batches()),
        ValueError,
        "`dataset`",
        "steps_per_epoch",
    ),
    case(
        "find_n_epoch-batch_size-float", lambda: LrRangeTest().find_n_epoch(X, 4.0), TypeError, "`batch_size`"
    ),
    case(
        "suggest-method-unknown",
        lambda: finished_range_test().suggest("lowest"),
        ValueError,
        "`method`",
        "'valley'",
    ),
    case(
        "suggest-set-unknown",
        lambda: finished_range_test().suggest(set="test"),
        ValueError,
        "`set`",
        "'valid'",
    ),
    case(
        "suggest-set-valid-without-validation_data",
        lambda: finished_range_test().suggest(set="valid"),
        ValueError,
        "`set`",
        "validation_data",
    ),
    case(
        "suggest-minimum-divisor",
        lambda: finished_range_test().suggest("minimum", divisor=0.5),
        ValueError,
        "`divisor`",
        "[1.0, inf)",
    ),
    case(
        "suggest-slide-lr_diff-float",
        lambda: finished_range_test().suggest("slide", lr_diff=2.5),
        TypeError,
        "`lr_diff`",
    ),
    case(
        "suggest-slide-thresh-nan",
        lambda: finished_range_test().suggest("slide", thresh=math.nan),
        ValueError,
        "`thresh`",
        "finite",
    ),
    case("plot-set-unknown", lambda: finished_range_test().plot(set="val"), ValueError, "`set`"),
    case(
        "plot-x_scale-unknown",
        lambda: finished_range_test().plot(x_scale="loog"),
        ValueError,
        "`x_scale`",
        "'log'",
    ),
    case(
        "plot-y_scale-none",
        lambda: finished_range_test().plot(y_scale=None),
        TypeError,
        "`y_scale`",
        "'linear'",
    ),
    case("plot-mark-string", lambda: finished_range_test().plot(mark="0.1"), TypeError, "`mark`"),
    case(
        "plot-mark-negative",
        lambda: finished_range_test().plot(mark=-0.1),
        ValueError,
        "`mark`",
        "(0.0, inf)",
    ),
    case("plot-window-zero", lambda: finished_range_test().plot(window=0), ValueError, "`window`", ">= 1"),
    case("plot-ma-string", lambda: finished_range_test().plot(ma="no"), TypeError, "`ma`", "bool"),
    # -- suggestion rules, pure functions of (lrs, losses) -----------------------------------------
    case("smooth-beta-one", lambda: suggest.smooth([1.0, 2.0], beta=1.0), ValueError, "`beta`", "[0.0, 1.0)"),
    case("smooth-losses-2d", lambda: suggest.smooth([[1.0, 2.0]]), ValueError, "`losses`", "one-dimensional"),
    case("minimum-losses-text", lambda: suggest.minimum([0.1, 1.0], ["a", "b"]), TypeError, "`losses`"),
    case(
        "valley-lengths-differ",
        lambda: suggest.valley([0.1, 1.0, 10.0], [1.0, 0.5]),
        ValueError,
        "`lrs`",
        "`losses`",
    ),
    case(
        "steepest-lrs-negative",
        lambda: suggest.steepest([-1.0, 1.0, 2.0], [3.0, 2.0, 1.0]),
        ValueError,
        "`lrs`",
        "positive",
    ),
    case(
        "slide-adjust_value-zero",
        lambda: suggest.slide([0.1, 1.0], [1.0, 0.5], adjust_value=0),
        ValueError,
        "`adjust_value`",
    ),
    # -- history utilities (their other cases are in test_history.py) ------------------------------
    case("concatenate_history-string", lambda: kclr.concatenate_history("abc"), TypeError, "`hlist`", "list"),
    case(
        "concatenate_history-reindex_epoch-int",
        lambda: kclr.concatenate_history([{"loss": [1.0]}], 1),
        TypeError,
        "`reindex_epoch`",
        "bool",
    ),
    case(
        "concatenate_history-item-none",
        lambda: kclr.concatenate_history([{"loss": [1.0]}, None]),
        TypeError,
        "`hlist[1]`",
    ),
    case(
        "save_history_to_csv-history-list",
        lambda: kclr.save_history_to_csv([1.0], "/no/such/folder/h.csv"),
        TypeError,
        "`history`",
    ),
    case(
        "save_history_to_csv-filepath-int",
        lambda: kclr.save_history_to_csv({"loss": [1.0]}, 3),
        TypeError,
        "`filepath`",
        "os.PathLike",
    ),
    case(
        "load_history_from_csv-filepath-none",
        lambda: kclr.load_history_from_csv(None),
        TypeError,
        "`filepath`",
    ),
    case(
        "moving_window_avg-window-bool",
        lambda: kclr.moving_window_avg([1.0, 2.0], True),
        TypeError,
        "`window`",
        ">= 1",
    ),
    case(
        "moving_window_avg-window-negative",
        lambda: kclr.moving_window_avg([1.0, 2.0], -2),
        ValueError,
        "`window`",
        ">= 1",
    ),
    case(
        "moving_window_avg-x-2d",
        lambda: kclr.moving_window_avg(np.ones((2, 2)), 2),
        ValueError,
        "`x`",
        "one-dimensional",
    ),
    # -- plot functions ----------------------------------------------------------------------------
    case(
        "plot_from_history-metrics-unknown",
        lambda: kclr.plot_from_history({"loss": [1.0]}, "acc"),
        ValueError,
        "`metrics`",
        "loss",
    ),
    case(
        "plot_from_history-show_lr-string",
        lambda: kclr.plot_from_history({"loss": [1.0], "lr": [0.1]}, show_lr="yes"),
        TypeError,
        "`show_lr`",
    ),
    case(
        "plot_from_history-ax-string",
        lambda: kclr.plot_from_history({"loss": [1.0]}, ax="left"),
        TypeError,
        "`ax`",
        "Axes",
    ),
    case(
        "plot_from_history-policy-string",
        lambda: kclr.plot_from_history({"loss": [1.0]}, show_lr=True, policy="ocp"),
        TypeError,
        "`policy`",
        "OneCycle or CLR",
    ),
    case(
        "plot_from_history-policy-without-show_lr",
        lambda: kclr.plot_from_history({"loss": [1.0]}, policy=kclr.OneCycle(LR)),
        ValueError,
        "`policy`",
        "show_lr=False",
    ),
    case("plot_schedule-values-array", lambda: plot.plot_schedule(np.ones(5)), TypeError, "`values`", '"lr"'),
    case(
        "plot_schedule-ax-figure",
        lambda: plot.plot_schedule({"lr": np.ones(3)}, ax=a_figure()),
        TypeError,
        "`ax`",
        "Axes",
    ),
    case(
        "plot_loss_curves-histories-list",
        lambda: plot.plot_loss_curves([{"loss": [1.0]}]),
        TypeError,
        "`histories`",
    ),
    case(
        "plot_range_test-labels-too-many",
        lambda: plot.plot_range_test([0.1, 1.0], [1.0, 0.5], ["a", "b"]),
        ValueError,
        "`labels`",
        "(1)",
    ),
    case(
        "plot_range_test-losses-short",
        lambda: plot.plot_range_test([0.1, 1.0, 10.0], [1.0, 0.5], ["a"]),
        ValueError,
        "`losses`",
        "steps=len(lrs)=3",
    ),
    # -- attach_schedules --------------------------------------------------------------------------
    case(
        "attach_schedules-nothing",
        lambda: kclr.attach_schedules(keras.optimizers.SGD(momentum=0.9)),
        ValueError,
        "`learning_rate`",
        "`momentum`",
        "`weight_decay`",
    ),
    case(
        "attach_schedules-momentum-on-Adagrad",
        lambda: kclr.attach_schedules(keras.optimizers.Adagrad(), momentum=0.9),
        ValueError,
        "`momentum`",
        "neither",
    ),
    case(
        "attach_schedules-momentum-on-SGD-without-momentum",
        lambda: kclr.attach_schedules(keras.optimizers.SGD(), momentum=0.9),
        ValueError,
        "`momentum`",
        "momentum=0.0",
    ),
]


@pytest.mark.parametrize(("call", "error", "words"), INVALID)
def test_invalid_argument_is_named_in_the_message(call, error, words):
    with pytest.raises(error) as raised:
        call()
    message = str(raised.value)
    assert message.startswith(("Argument", "Arguments")), message
    assert "Received" in message, message
    for word in words:
        assert word in message, message


# -- errors only a model can reveal, and lr_find ---------------------------------------------------


def tiny_model(optimizer=None, steps_per_execution=1, compiled=True):
    """A compiled Dense model whose weights and optimizer state are arbitrary but non-trivial."""
    rng = np.random.default_rng(1)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
    if not compiled:
        return model
    optimizer = optimizer or keras.optimizers.SGD(0.01, momentum=0.9)
    model.compile(optimizer, "mse", steps_per_execution=steps_per_execution)
    optimizer.build(model.trainable_variables)
    # Mid-training state, so that a reset to zeros would not pass for "unchanged".
    for variable in optimizer.variables:
        if variable is optimizer.iterations:
            variable.assign(7)
        else:
            variable.assign(rng.uniform(0.1, 1.0, size=variable.shape).astype(variable.dtype))
    return model


def training_state(model):
    """Every weight and optimizer variable as (name, dtype, shape, bytes); the step counter on its own too."""
    named = [(f"weights[{i}]", w) for i, w in enumerate(model.get_weights())]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        named += [(v.path, v.numpy()) for v in optimizer.variables]
        named.append(("iterations", optimizer.iterations.numpy()))
    return [(name, np.asarray(a).dtype.str, np.shape(a), np.asarray(a).tobytes()) for name, a in named]


def assert_same_state(before, after):
    assert [entry[0] for entry in after] == [entry[0] for entry in before]
    changed = [b[0] for b, a in zip(before, after, strict=True) if a != b]
    assert not changed, f"changed by the failed call: {changed}"


def schedule_sgd():
    return keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9), momentum=0.9)


def fit(model, callback, x=X, y=Y, **kwargs):
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[callback], **kwargs)


def fit_all(model, *callbacks):
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0, callbacks=list(callbacks))


def at_fit(case_id, build, call, error, *words, marks=()):
    """One row: on the model `build()` returns, `call(model)` raises `error` naming the argument."""
    return pytest.param(build, call, error, words, id=case_id, marks=marks)


NO_MULTI_STEP = pytest.mark.skipif(
    BACKEND == "torch", reason="Keras refuses steps_per_execution > 1 on torch"
)

AT_FIT = [
    at_fit(
        "OneCycle-momentum_range-on-SGD-without-momentum",
        lambda: tiny_model(keras.optimizers.SGD(0.01)),
        lambda m: fit(m, kclr.OneCycle(LR, (0.95, 0.85))),
        ValueError,
        "`momentum_range`",
        "momentum=0.0",
    ),
    at_fit(
        "CLR-momentum_range-on-SGD-without-momentum",
        lambda: tiny_model(keras.optimizers.SGD(0.01)),
        lambda m: fit(m, kclr.CLR(2, LR, (0.95, 0.85))),
        ValueError,
        "`momentum_range`",
        "momentum=0.0",
    ),
    at_fit(
        "OneCycle-on-an-optimizer-with-a-LearningRateSchedule",
        lambda: tiny_model(schedule_sgd()),
        lambda m: fit(m, kclr.OneCycle(LR)),
        ValueError,
        "`learning_rate`",
        "float",
    ),
    at_fit(
        "CLR-on-an-optimizer-with-a-LearningRateSchedule",
        lambda: tiny_model(schedule_sgd()),
        lambda m: fit(m, kclr.CLR(2, LR)),
        ValueError,
        "`learning_rate`",
    ),
    at_fit(
        "LrRangeTest-on-an-optimizer-with-a-LearningRateSchedule",
        lambda: tiny_model(schedule_sgd()),
        lambda m: fit(m, LrRangeTest(steps=4, batches_per_step=1)),
        ValueError,
        "`learning_rate`",
    ),
    at_fit(
        "OneCycle-generator-without-steps_per_epoch",
        tiny_model,
        lambda m: m.fit(batches(), epochs=1, verbose=0, callbacks=[kclr.OneCycle(LR)]),
        ValueError,
        "`steps_per_epoch`",
    ),
    at_fit(
        "LrRangeTest-batches_per_step-not-a-multiple-of-steps_per_execution",
        lambda: tiny_model(steps_per_execution=2),
        lambda m: fit(m, LrRangeTest(steps=4, batches_per_step=3)),
        ValueError,
        "`batches_per_step`",
        "multiple of the model's steps_per_execution (2)",
        marks=NO_MULTI_STEP,
    ),
    at_fit(
        "OneCycle-with-LearningRateScheduler",
        tiny_model,
        lambda m: fit_all(m, kclr.OneCycle(LR), keras.callbacks.LearningRateScheduler(lambda e, lr: lr)),
        ValueError,
        "`callbacks`",
        "OneCycle and LearningRateScheduler",
    ),
    at_fit(
        "ReduceLROnPlateau-with-CLR",
        tiny_model,
        lambda m: fit_all(m, keras.callbacks.ReduceLROnPlateau("loss"), kclr.CLR(2, LR)),
        ValueError,
        "`callbacks`",
        "CLR and ReduceLROnPlateau",
    ),
    at_fit(
        "LrRangeTest-with-OneCycle",
        tiny_model,
        lambda m: fit_all(m, LrRangeTest(steps=4, batches_per_step=1), kclr.OneCycle(LR)),
        ValueError,
        "`callbacks`",
        "LrRangeTest and OneCycle",
    ),
    at_fit(
        "lr_find-with-ReduceLROnPlateau",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y, steps=4, callbacks=[keras.callbacks.ReduceLROnPlateau("loss")]),
        ValueError,
        "`callbacks`",
        "LrRangeTest and ReduceLROnPlateau",
    ),
    at_fit(
        "lr_find-on-an-optimizer-with-a-LearningRateSchedule",
        lambda: tiny_model(schedule_sgd()),
        lambda m: kclr.lr_find(m, X, Y, batch_size=4, steps=4),
        ValueError,
        "`learning_rate`",
    ),
    at_fit(
        "lr_find-model-not-compiled",
        lambda: tiny_model(compiled=False),
        lambda m: kclr.lr_find(m, X, Y, steps=4),
        TypeError,
        "`model`",
        "compiled",
    ),
    at_fit(
        "lr_find-model-string",
        tiny_model,
        lambda m: kclr.lr_find("model.keras", X, Y, steps=4),
        TypeError,
        "`model`",
    ),
    at_fit(
        "lr_find-x-generator",
        tiny_model,
        lambda m: kclr.lr_find(m, batches(), steps=4),
        ValueError,
        "`x`",
        "steps_per_epoch",
    ),
    at_fit(
        "lr_find-x-empty",
        tiny_model,
        lambda m: kclr.lr_find(m, X[:0], Y[:0], steps=4),
        ValueError,
        "`x`",
        "at least one sample",
    ),
    at_fit(
        "lr_find-batch_size-zero",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y, batch_size=0, steps=4),
        ValueError,
        "`batch_size`",
    ),
    at_fit(
        "lr_find-callbacks-string",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y, callbacks="history", steps=4),
        TypeError,
        "`callbacks`",
    ),
    at_fit(
        "lr_find-steps-one",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y, steps=1),
        ValueError,
        "`steps`",
        ">= 2",
    ),
    at_fit(
        "lr_find-wd_list-negative",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y, steps=4, wd_list=[0.0, -1e-4]),
        ValueError,
        "`wd_list[1]`",
    ),
    at_fit(
        "lr_find-validation_data-mismatched",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y, steps=4, validation_data=(X, Y[:5])),
        ValueError,
        "`validation_data`",
        "len(y_val)=5",
    ),
    at_fit(
        "lr_find-sweep-unknown",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y, steps=4, sweep="log"),
        ValueError,
        "`sweep`",
    ),
    # Not ours: Keras's and Python's own messages, which still name the arguments.
    at_fit(
        "lr_find-x-and-y-of-different-lengths",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y[:5], batch_size=4, steps=4),
        ValueError,
        "'x' sizes: 16",
        "'y' sizes: 5",
    ),
    at_fit(
        "lr_find-misspelt-argument",
        tiny_model,
        lambda m: kclr.lr_find(m, X, Y, lr_rnage=(1e-3, 1.0)),
        TypeError,
        "lr_rnage",
    ),
]


@pytest.mark.parametrize(("build", "call", "error", "words"), AT_FIT)
def test_error_at_fit_start_leaves_weights_and_optimizer_bit_identical(build, call, error, words):
    model = build()
    before = training_state(model)
    with pytest.raises(error) as raised:
        call(model)
    message = str(raised.value)
    for word in words:
        assert word in message, message
    assert_same_state(before, training_state(model))


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model_and_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    model = tiny_model()
    model.save(folder / "model.keras")
    np.savez(folder / "data.npz", x=X, y=Y)
    return str(folder / "model.keras"), str(folder / "data.npz")


PLOT = ["plot-schedule", "one-cycle", "--steps", "50", "--lr-min", "0.01", "--lr-max", "0.1"]
PLOT_CLR = ["plot-schedule", "clr", "--steps", "50", "--lr-min", "0.01", "--lr-max", "0.1"]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        pytest.param([*PLOT, "--phase-one-fraction", "1.5"], "`phase_one_fraction`", id="phase-one-fraction"),
        pytest.param([*PLOT, "--final-lr", "-1"], "`final_lr`", id="final-lr"),
        pytest.param([*PLOT, "--anneal", "exp"], "`anneal`", id="anneal"),
        pytest.param([*PLOT_CLR, "--gamma", "0", "--mode", "exp_range"], "`gamma`", id="gamma"),
        pytest.param([*PLOT_CLR[:-2], "--lr-max", "nan"], "`lr_range[1]`", id="lr-max-nan"),
        pytest.param([*PLOT[:2], "--steps", "0", *PLOT[4:]], "--steps", id="steps-zero"),
        pytest.param([*PLOT[:2], "--steps", "2.5", *PLOT[4:]], "--steps", id="steps-float"),
        pytest.param(
            ["lr-find", "{model}", "{data}", "--batches-per-step", "0"],
            "`batches_per_step`",
            id="lr-find-batches-per-step",
        ),
        pytest.param(
            ["lr-find", "{model}", "{data}", "--wd", "0", "-0.001"], "`wd_list[1]`", id="lr-find-wd"
        ),
        pytest.param(["lr-find", "{model}", "{data}", "--steps", "2.5"], "--steps", id="lr-find-steps-float"),
    ],
)
def test_cli_reports_the_argument_on_one_line_and_changes_nothing(
    argv, named, saved_model_and_data, tmp_path, capsys
):
    model_path, data_path = saved_model_and_data
    model_bytes = Path(model_path).read_bytes()
    out = tmp_path / "out"
    argv = [arg.format(model=model_path, data=data_path) for arg in argv]
    status = cli.main([*argv, "--out", str(out / "schedule.png" if argv[0] == "plot-schedule" else out)])
    captured = capsys.readouterr()
    assert status == cli.USAGE_ERROR
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert named in lines[0]
    assert not out.exists()
    assert Path(model_path).read_bytes() == model_bytes
