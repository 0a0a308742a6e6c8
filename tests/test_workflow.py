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
RANGE_TEST = {"steps": 16, "batches_per_step": 2, "lr_range": (1e-3, 10.0)}
RATES = {"steps": 16, "lr_range": (1e-3, 10.0)}  # the rest sized to the cycle


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
    assert history.range_test.loss.shape == (16, 4)  # the default weight-decay grid
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
    assert result.val_loss.shape == (16, 1)
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
    assert history.range_test.val_loss.shape == (16, 1)  # the validation arrays reached the range test
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
    size = "4 sweeps x 16 learning rates x 2 batches"
    assert f"fit_one_cycle: a range test ({size}) chooses the peak and the weight decay first" in printed
    assert "Range test sweep 4/4, weight decay 0.01: 16 learning rates" in printed
    announced = f"fit_one_cycle: one cycle of {choice.total_steps} steps, learning rate"
    assert f"{announced} {choice.peak / 25:.3g} to {choice.peak:.3g} ({choice.reason})" in printed
    assert printed.index(announced) < printed.index("Epoch 1/2")


@pytest.mark.parametrize(
    ("cycle_batches", "kwargs", "expected"),
    [
        (100_000, {}, ((0.0, 1e-4, 1e-3, 1e-2), 5)),  # LrRangeTest's default size, no more
        (8_000, {}, ((0.0, 1e-4, 1e-3, 1e-2), 5)),
        (1_600, {}, ((0.0, 1e-4, 1e-3, 1e-2), 1)),  # four sweeps of one batch per learning rate
        (1_599, {}, ((), 3)),  # no room for four: one sweep, at the optimizer's own weight decay
        (400, {}, ((), 1)),
        (10, {}, ((), 1)),  # the least it runs, whatever the budget
        (3_200, {"validation": True}, ((0.0, 1e-4, 1e-3, 1e-2), 1)),  # a validation pass counts as a batch
        (3_199, {"validation": True}, ((), 5)),  # room for 6 batches per rate: 5 at most
        (800, {"steps": 50}, ((0.0, 1e-4, 1e-3, 1e-2), 1)),
        (10, {"keep_wd_list": True}, ((0.0, 1e-4, 1e-3, 1e-2), 1)),
    ],
    ids=["long", "default-size", "grid-edge", "below-grid-edge", "short", "tiny", "validation-edge",
         "below-validation-edge", "fewer-rates", "keep"],
)  # fmt: skip
def test_the_range_test_reads_at_most_a_quarter_of_the_cycles_batches(cycle_batches, kwargs, expected):
    from keras_one_cycle_clr.workflow import range_test_for_cycle

    wd_list, batches = expected
    sized = range_test_for_cycle(cycle_batches, (0.0, 1e-4, 1e-3, 1e-2), **kwargs)
    assert sized == {"wd_list": wd_list, "batches_per_step": batches}
    rates, validation = kwargs.get("steps", 100), int(kwargs.get("validation", False))
    read = max(1, len(wd_list)) * rates * (batches + validation)
    least = max(1, len(wd_list) if kwargs.get("keep_wd_list") else 1) * rates * (1 + validation)
    assert read <= max(0.25 * cycle_batches, least)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"cycle_batches": 0}, "cycle_batches"), ({"steps": 1}, "steps")],
    ids=["cycle", "steps"],
)
def test_range_test_for_cycle_names_a_bad_argument(kwargs, name):
    from keras_one_cycle_clr.workflow import range_test_for_cycle

    with pytest.raises(ValueError, match=f"`{name}`"):
        range_test_for_cycle(**{"cycle_batches": 100, "wd_list": (0.0,), **kwargs})


def recording_lr_find(monkeypatch):
    """Replaces workflow's lr_find by one that records its keyword arguments and runs the real one."""
    from keras_one_cycle_clr import workflow

    calls = []

    def lr_find(*args, **kwargs):
        calls.append(kwargs)
        return kclr.lr_find(*args, **kwargs)

    monkeypatch.setattr(workflow, "lr_find", lr_find)
    return calls


def test_a_cycle_too_short_for_the_grid_gets_one_sweep_and_keeps_the_optimizers_weight_decay(
    monkeypatch, capsys
):
    calls = recording_lr_find(monkeypatch)
    model, _ = model_and_state(weight_decay=3e-3)
    history = kclr.fit_one_cycle(model, X, Y, epochs=2, batch_size=BATCH, verbose=2, range_test=RATES)
    printed = capsys.readouterr().out
    assert (
        "a range test (1 sweep x 16 learning rates x 1 batch, at the optimizer's own weight decay: the "
        "cycle is too short for the weight-decay grid) chooses the peak first" in printed
    )
    assert calls[0]["wd_list"] == ()
    assert calls[0]["batches_per_step"] == 1
    assert history.range_test.loss.shape == (16, 1)
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


def test_range_test_arguments_given_are_used_as_given(monkeypatch):
    given = arguments_of_the_range_test(monkeypatch, epochs=1, range_test={**RATES, "wd_list": (0.0, 1e-3)})
    assert given["wd_list"] == (0.0, 1e-3)  # kept, though the cycle is too short for them
    assert given["batches_per_step"] == 1  # sized
    given = arguments_of_the_range_test(monkeypatch, epochs=1, range_test={**RATES, "batches_per_step": 3})
    assert given["wd_list"] == ()  # sized
    assert given["batches_per_step"] == 3  # kept
    given = arguments_of_the_range_test(monkeypatch, epochs=1, weight_decay=0.01)
    assert given["wd_list"] == (0.01,)  # the one weight decay given, never dropped


def test_the_range_test_counts_the_batches_of_the_cycle_as_fit_runs_them(monkeypatch):
    from keras_one_cycle_clr import workflow

    monkeypatch.setattr(workflow, "RANGE_TEST_BUDGET", 400 / 24)  # 400 batches for a cycle of 24
    given = arguments_of_the_range_test(monkeypatch, epochs=2, range_test={**RATES, "steps": 20})
    assert given["wd_list"] == workflow.DEFAULT_WD_LIST
    assert given["batches_per_step"] == 5  # 4 sweeps x 20 rates x 5 = 400
    # validation_split: fit trains on the other half (200 batches' budget), and the range test reads
    # a validation pass per learning rate: 200 // (4 x 20) - 1
    given = arguments_of_the_range_test(
        monkeypatch, epochs=2, validation_split=0.5, range_test={**RATES, "steps": 20}
    )
    assert given["wd_list"] == workflow.DEFAULT_WD_LIST
    assert given["batches_per_step"] == 1
    given = arguments_of_the_range_test(
        monkeypatch, epochs=2, steps_per_epoch=6, range_test={**RATES, "steps": 20}
    )
    assert given["batches_per_step"] == 2  # 2 epochs of the 6 steps given: a budget of 200, 200 // 80


def test_a_sized_range_test_too_short_to_show_a_peak_runs_again_with_five_batches_per_rate(
    monkeypatch, capsys
):
    from keras_one_cycle_clr import workflow

    lr = np.geomspace(1e-5, 10, 100)
    noise = np.random.default_rng(0).normal(0, 0.01, (100, 1))
    flat, bowl = 0.69 + noise, 1.0 + (np.log10(lr)[:, None] + 2) ** 2 + noise
    calls = []

    def lr_find(*args, **kwargs):
        calls.append(kwargs)  # a flat curve from one batch per rate, a bowl from five
        return RangeTestResult(
            lr, flat if kwargs["batches_per_step"] < 5 else bowl, wd_list=kwargs["wd_list"]
        )

    monkeypatch.setattr(workflow, "lr_find", lr_find)
    model, _ = model_and_state()
    result = workflow.range_test_for_fit(model, X, Y, epochs=1, batch_size=BATCH, verbose=1)
    assert [c["batches_per_step"] for c in calls] == [1, 5]
    assert calls[1]["wd_list"] == calls[0]["wd_list"] == ()
    assert result.loss is bowl
    assert "Running the range test again with 5 batches per rate" in capsys.readouterr().out
    calls.clear()  # flat at five batches too: the error reaches the caller
    bowl = flat
    with pytest.raises(kclr.CannotChooseError, match="never fell"):
        workflow.range_test_for_fit(model, X, Y, epochs=1, batch_size=BATCH, verbose=0)
    assert [c["batches_per_step"] for c in calls] == [1, 5]
    for given in (5, 1):  # a range test of five batches per rate, or of the batches given: not again
        calls.clear()
        with pytest.raises(kclr.CannotChooseError, match="never fell"):
            kclr.fit_one_cycle(
                model, X, Y, epochs=1, batch_size=BATCH, verbose=0, range_test={"batches_per_step": given}
            )
        assert len(calls) == 1
