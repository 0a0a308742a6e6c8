"""fit_one_cycle and the widened lr_find: the range test, its choice and one cycle, in one call."""

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr
from fit_inputs import fit_inputs
from keras_one_cycle_clr.range_test_result import RangeTestResult

RNG = np.random.default_rng(0)
X = RNG.normal(size=(192, 6)).astype("float32")
Y = (X[:, :3].sum(axis=1) > 0).astype("int64")
BATCH = 16
# Short, and still a sweep whose loss falls well beyond its noise where the rules read it, on every
# backend (FALL_SIGMAS): 16 rates from 1e-3 fell only 3 noises on torch before the trimmed end.
RANGE_TEST = {"steps": 24, "batches_per_step": 2, "lr_range": (1e-2, 10.0)}


def model_and_state(weight_decay=None):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)]
    )
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9, weight_decay=weight_decay)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    optimizer.build(model.trainable_variables)
    return model, [w.copy() for w in model.get_weights()]


@pytest.fixture
def budget_for_the_grid(monkeypatch):
    """A range-test budget with room for the weight-decay grid on these tests' short cycles."""
    from keras_one_cycle_clr import workflow

    monkeypatch.setattr(workflow, "RANGE_TEST_BUDGET", 1e3)


def test_with_nothing_given_a_range_test_chooses_the_peak_and_weight_decay_and_one_cycle_trains(
    budget_for_the_grid,
):
    model, _ = model_and_state()
    history = kclr.fit_one_cycle(model, X, Y, epochs=2, batch_size=BATCH, verbose=0, range_test=RANGE_TEST)
    choice = history.one_cycle_choice
    assert isinstance(history.range_test, RangeTestResult)
    assert history.range_test.loss.shape == (24, 4)  # the default weight-decay grid
    assert choice.weight_decay in history.range_test.wd_list
    steps = 2 * len(X) // BATCH  # the cycle's length: the peak is chosen for it
    assert choice.total_steps == steps
    assert choice.peak == pytest.approx(history.range_test.choose_one_cycle(total_steps=steps).peak)
    assert history.params["lr_max"] == choice.peak
    assert model.optimizer.weight_decay == choice.weight_decay or not choice.weight_decay
    # The cycle peaked where the choice says: the largest learning rate the fit logged.
    assert max(history.history["learning_rate"]) <= choice.peak * (1 + 1e-6)
    assert int(model.optimizer.iterations.numpy()) == 2 * len(X) // BATCH  # the range test left no steps


def test_given_values_skip_the_range_test():
    model, _ = model_and_state()
    history = kclr.fit_one_cycle(
        model, X, Y, epochs=1, lr_max=0.05, weight_decay=1e-3, batch_size=BATCH, verbose=0
    )
    assert history.range_test is None
    assert history.one_cycle_choice is None
    assert model.optimizer.weight_decay == 1e-3
    assert history.params["lr_max"] == 0.05


def test_lr_find_takes_fits_data_arguments_and_restores_the_model():
    model, before = model_and_state()
    weights = np.where(Y == 1, 2.0, 0.5)
    result = kclr.lr_find(
        model,
        X,
        Y,
        batch_size=BATCH,
        sample_weight=weights,
        class_weight=None,
        shuffle=False,
        validation_split=0.25,
        **RANGE_TEST,
    )
    assert result.val_loss.shape == (24, 1)
    reached = np.isfinite(result.loss)  # a sweep may stop early near lr 3
    assert reached.sum() >= 6
    assert np.isfinite(result.val_loss[reached]).all()
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with_class_weight = kclr.lr_find(
        model, X, Y, batch_size=BATCH, class_weight={0: 1.0, 1: 3.0}, **RANGE_TEST
    )
    plain = kclr.lr_find(model, X, Y, batch_size=BATCH, shuffle=False, **RANGE_TEST)
    assert not np.allclose(with_class_weight.loss, plain.loss)  # the class weights counted


EPOCH = len(X) // BATCH
INPUTS = fit_inputs(X, Y, BATCH)
INPUTS["numpy-class-weight"] = lambda: ((X, Y), {"batch_size": BATCH, "class_weight": {0: 1.0, 1: 3.0}})


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_lr_find_and_fit_one_cycle_take_every_input_fit_takes(name):
    args, fit_kwargs = INPUTS[name]()
    model, before = model_and_state()
    result = kclr.lr_find(model, *args, **fit_kwargs, **RANGE_TEST)
    assert np.isfinite(result.loss[:6]).all()
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # restored bit for bit
    assert int(model.optimizer.iterations.numpy()) == 0
    history = kclr.fit_one_cycle(
        model,
        *args,
        epochs=2,
        weight_decay=0.0,  # one sweep: the peak is what is chosen here
        validation_data=(X[:32], Y[:32]),
        verbose=0,
        range_test=RANGE_TEST,
        **fit_kwargs,
    )
    choice = history.one_cycle_choice
    assert choice.total_steps == 2 * EPOCH  # the cycle's length, found for this input
    assert int(model.optimizer.iterations.numpy()) == 2 * EPOCH  # the range test left no steps
    assert history.range_test.val_loss.shape == (24, 1)  # the validation arrays reached the range test
    assert np.isfinite(history.range_test.loss[:6]).all()
    assert history.params["lr_max"] == choice.peak
    assert max(history.history["learning_rate"]) <= choice.peak * (1 + 1e-6)
    assert len(history.history["val_loss"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"epochs": 0}, ValueError, "`epochs`"),
        ({"epochs": 1, "lr_max": -1.0}, ValueError, "`lr_max`"),
        ({"epochs": 1, "weight_decay": -1.0}, ValueError, "`weight_decay`"),
        ({"epochs": 1, "momentum_range": (0.95, 1.5)}, ValueError, "`momentum_range[1]`"),
        ({"epochs": 1, "range_test": [1]}, TypeError, "`range_test`"),
        ({"epochs": 1, "range_test": {"stpes": 3}}, TypeError, "stpes"),
        ({"epochs": 1, "bacth_size": 3}, TypeError, "bacth_size"),
    ],
    ids=["epochs", "lr_max", "weight_decay", "momentum", "range_test-type", "range_test-name", "fit-name"],
)
def test_bad_arguments_are_named_before_any_training(kwargs, error, words):
    model, before = model_and_state()
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        kclr.fit_one_cycle(model, X, Y, verbose=0, **kwargs)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations.numpy()) == 0


# -- issue 21: the peak that trained, checks before work, no range test for a given peak, progress --
def test_the_range_test_it_returns_knows_the_peak_that_trained():
    pytest.importorskip("matplotlib")
    model, _ = model_and_state()
    history = kclr.fit_one_cycle(model, X, Y, epochs=3, batch_size=BATCH, verbose=0, range_test=RANGE_TEST)
    choice = history.one_cycle_choice
    assert history.range_test.one_cycle_choice == choice
    assert f"peak {choice.peak:.3g} for {choice.total_steps} steps" in repr(history.range_test)
    ax = history.range_test.plot().axes[0]
    (line,) = [ln for ln in ax.lines if ln.get_label().startswith("one-cycle peak")]
    assert line.get_xdata()[0] == pytest.approx(choice.peak)
    assert line.get_label().startswith(
        f"one-cycle peak {choice.peak:.3g} (trained, {choice.total_steps} steps"
    )


def refuse_range_test(*args, **kwargs):
    msg = "a range test ran"
    raise AssertionError(msg)


@pytest.mark.parametrize(
    ("make_optimizer", "callbacks", "message"),
    [
        (
            lambda: keras.optimizers.SGD(0.01, momentum=0.9),
            lambda: [keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr)],
            "only one callback that sets the learning rate",
        ),
        (lambda: keras.optimizers.SGD(0.01), lambda: [], "needs an optimizer with momentum"),
    ],
    ids=["learning-rate-scheduler", "sgd-without-momentum"],
)
@pytest.mark.parametrize("lr_max", [None, 0.01], ids=["auto", "lr_max"])
def test_a_refused_call_raises_before_the_range_test_and_changes_nothing(
    monkeypatch, make_optimizer, callbacks, message, lr_max
):
    from keras_one_cycle_clr import workflow

    monkeypatch.setattr(workflow, "lr_find", refuse_range_test)
    model, before = model_and_state()
    model.compile(make_optimizer(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match=message):
        kclr.fit_one_cycle(
            model, X, Y, epochs=2, lr_max=lr_max, weight_decay=0.01, batch_size=BATCH, callbacks=callbacks()
        )
    assert model.optimizer.weight_decay is None
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_given_peak_runs_no_range_test_and_keeps_the_optimizers_weight_decay(monkeypatch):
    from keras_one_cycle_clr import workflow

    monkeypatch.setattr(workflow, "lr_find", refuse_range_test)
    model, _ = model_and_state(weight_decay=1e-3)
    history = kclr.fit_one_cycle(model, X, Y, epochs=1, lr_max=0.05, batch_size=BATCH, verbose=0)
    assert history.range_test is None
    assert model.optimizer.weight_decay == 1e-3
    assert history.params["weight_decay"] == 1e-3


def test_verbose_shows_the_range_tests_progress_and_the_choice_before_the_cycle(capsys, budget_for_the_grid):
    model, _ = model_and_state()
    history = kclr.fit_one_cycle(model, X, Y, epochs=2, batch_size=BATCH, verbose=2, range_test=RANGE_TEST)
    printed = capsys.readouterr().out
    choice = history.one_cycle_choice
    size = "4 sweeps x 24 learning rates x 2 batches"
    assert f"fit_one_cycle: a range test ({size}) chooses the peak and the weight decay first" in printed
    assert "Range test sweep 4/4, weight decay 0.01: 24 learning rates" in printed
    announced = f"fit_one_cycle: one cycle of {choice.total_steps} steps, learning rate"
    assert f"{announced} {choice.peak / 25:.3g} to {choice.peak:.3g} ({choice.reason})" in printed
    assert printed.index(announced) < printed.index("Epoch 1/2")


GRID = (0.0, 1e-4, 1e-3, 1e-2)


@pytest.mark.parametrize(
    ("cycle_batches", "kwargs", "expected"),
    [
        (100_000, {}, GRID),
        (8_000, {}, GRID),  # 4 sweeps x 100 rates x 5 batches: a quarter of the cycle
        (7_999, {}, ()),  # no room: one sweep, at the optimizer's own weight decay
        (10, {}, ()),  # one sweep whatever the budget
        (9_600, {"validation": True}, GRID),  # a validation pass counts as a batch
        (9_599, {"validation": True}, ()),
        (4_000, {"steps": 50}, GRID),
        (1_600, {"batches_per_step": 1}, GRID),
        (1_599, {"batches_per_step": 1}, ()),
        (10, {"wd_list": (1e-3,)}, (1e-3,)),  # one weight decay given: its sweep
    ],
    ids=["long", "grid-edge", "below-grid-edge", "tiny", "validation-edge", "below-validation-edge",
         "fewer-rates", "one-batch", "below-one-batch", "one-weight-decay"],
)  # fmt: skip
def test_the_grid_runs_when_its_sweeps_read_at_most_a_quarter_of_the_cycles_batches(
    cycle_batches, kwargs, expected
):
    from keras_one_cycle_clr.workflow import range_test_for_cycle

    wd_list = kwargs.pop("wd_list", GRID)
    assert range_test_for_cycle(cycle_batches, wd_list, **kwargs) == expected


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"cycle_batches": 0}, "cycle_batches"),
        ({"steps": 1}, "steps"),
        ({"batches_per_step": 0}, "batches_per_step"),
    ],
    ids=["cycle", "steps", "batches"],
)
def test_range_test_for_cycle_names_a_bad_argument(kwargs, name):
    from keras_one_cycle_clr.workflow import range_test_for_cycle

    with pytest.raises(ValueError, match=f"`{name}`"):
        range_test_for_cycle(**{"cycle_batches": 100, "wd_list": GRID, **kwargs})


def test_a_cycle_too_short_for_the_grid_gets_one_sweep_and_keeps_the_optimizers_weight_decay(capsys):
    model, _ = model_and_state(weight_decay=3e-3)
    history = kclr.fit_one_cycle(model, X, Y, epochs=2, batch_size=BATCH, verbose=2, range_test=RANGE_TEST)
    printed = capsys.readouterr().out
    assert (
        "a range test (1 sweep x 24 learning rates x 2 batches, at the optimizer's own weight decay: the "
        "cycle is too short for the weight-decay grid) chooses the peak first" in printed
    )
    assert history.range_test.wd_list == ()
    assert history.range_test.loss.shape == (24, 1)
    assert history.one_cycle_choice.weight_decay is None  # nothing chosen: the optimizer's own
    assert model.optimizer.weight_decay == pytest.approx(3e-3)
    assert history.params["weight_decay"] == pytest.approx(3e-3)


class Recorded(Exception):
    """Raised by `arguments_of_the_range_test`'s lr_find once it has the arguments."""


def arguments_of_the_range_test(monkeypatch, **kwargs):
    """The keyword arguments fit_one_cycle gives lr_find (which does not run) for `kwargs`."""
    from keras_one_cycle_clr import workflow

    calls = []

    def lr_find(*args, **arguments):
        calls.append(arguments)
        raise Recorded

    monkeypatch.setattr(workflow, "lr_find", lr_find)
    model, _ = model_and_state()
    with pytest.raises(Recorded):
        kclr.fit_one_cycle(model, X, Y, batch_size=BATCH, verbose=0, **kwargs)
    return calls[0]


def test_a_wd_list_given_is_used_as_given_and_a_weight_decay_given_is_swept(monkeypatch):
    given = arguments_of_the_range_test(
        monkeypatch, epochs=1, range_test={**RANGE_TEST, "wd_list": (0.0, 1e-3)}
    )
    assert given["wd_list"] == (0.0, 1e-3)  # kept, though the cycle is too short for a grid
    assert given["batches_per_step"] == RANGE_TEST["batches_per_step"]
    given = arguments_of_the_range_test(monkeypatch, epochs=1, weight_decay=0.01)
    assert given["wd_list"] == (0.01,)  # the one weight decay given, never dropped
    assert "batches_per_step" not in given  # LrRangeTest's default


def test_the_budget_counts_the_batches_of_the_cycle_as_fit_runs_them(monkeypatch):
    from keras_one_cycle_clr import workflow

    # 4 sweeps x 24 rates x 2 batches = 192 batches: a budget of 192 / 24 fits a cycle of 24 batches
    monkeypatch.setattr(workflow, "RANGE_TEST_BUDGET", 192 / 24)
    given = arguments_of_the_range_test(monkeypatch, epochs=2, range_test=RANGE_TEST)
    assert given["wd_list"] == workflow.DEFAULT_WD_LIST
    # validation_split: fit trains on the other half, and the range test reads a validation pass per
    # learning rate: no room for the grid
    given = arguments_of_the_range_test(monkeypatch, epochs=2, validation_split=0.5, range_test=RANGE_TEST)
    assert given["wd_list"] == ()
    # 2 epochs of the 6 steps given: 12 batches, not 24
    given = arguments_of_the_range_test(monkeypatch, epochs=2, steps_per_epoch=6, range_test=RANGE_TEST)
    assert given["wd_list"] == ()
    given = arguments_of_the_range_test(monkeypatch, epochs=4, steps_per_epoch=6, range_test=RANGE_TEST)
    assert given["wd_list"] == workflow.DEFAULT_WD_LIST
