"""Bad input gets a clear error naming the argument and the accepted range, at construction."""

import math

import keras
import numpy as np
import pytest

import keras_one_cycle_clr as kclr

LR = (0.01, 0.1)
INVALID = {
    # name: (factory, error, words the message must contain)
    "lr_range-inverted": (lambda: kclr.OneCycle((0.1, 0.01)), ValueError, "`lr_range`"),
    "lr_range-equal": (lambda: kclr.OneCycle((0.1, 0.1)), ValueError, "`lr_range`"),
    "lr_range-zero": (lambda: kclr.OneCycle((0.0, 0.1)), ValueError, "`lr_range[0]`"),
    "lr_range-negative": (lambda: kclr.CLR(2, (-0.1, 0.1)), ValueError, "`lr_range[0]`"),
    "lr_range-nan": (lambda: kclr.OneCycle((0.01, math.nan)), ValueError, "`lr_range[1]` must be finite"),
    "lr_range-inf": (lambda: kclr.CLR(2, (0.01, math.inf)), ValueError, "`lr_range[1]` must be finite"),
    "lr_range-one-number": (lambda: kclr.OneCycle(0.1), TypeError, "`lr_range` must be a pair"),
    "lr_range-three": (lambda: kclr.OneCycle((0.01, 0.1, 1.0)), TypeError, "`lr_range` must be a pair"),
    "lr_range-string": (lambda: kclr.OneCycle(("a", 0.1)), TypeError, "`lr_range[0]` must be a real"),
    "momentum-one": (
        lambda: kclr.OneCycle(LR, (0.95, 1.0)),
        ValueError,
        "`momentum_range[1]` must be in [0.0, 1.0)",
    ),
    "momentum-negative": (lambda: kclr.CLR(2, LR, (-0.1, 0.9)), ValueError, "`momentum_range[0]`"),
    "momentum-nan": (lambda: kclr.OneCycle(LR, (math.nan, 0.9)), ValueError, "`momentum_range[0]`"),
    "phase-zero": (lambda: kclr.OneCycle(LR, phase_one_fraction=0.0), ValueError, "`phase_one_fraction`"),
    "phase-one": (lambda: kclr.CLR(2, LR, phase_one_fraction=1.0), ValueError, "`phase_one_fraction`"),
    "phase-three-phase": (
        lambda: kclr.OneCycle(LR, phase_one_fraction=0.5, three_phase=True),
        ValueError,
        "`phase_one_fraction` must be in (0, 0.5) when three_phase=True",
    ),
    "record_frq-zero": (
        lambda: kclr.OneCycle(LR, record_frq=0),
        ValueError,
        "`record_frq` must be an integer >= 1",
    ),
    "record_frq-float": (lambda: kclr.CLR(2, LR, record_frq=2.5), TypeError, "`record_frq`"),
    "reset-not-bool": (
        lambda: kclr.OneCycle(LR, reset_on_train_begin="yes"),
        TypeError,
        "`reset_on_train_begin`",
    ),
    "final_lr-negative": (lambda: kclr.OneCycle(LR, final_lr=-1e-3), ValueError, "`final_lr`"),
    "anneal-unknown": (
        lambda: kclr.OneCycle(LR, anneal="exp"),
        ValueError,
        "`anneal` must be one of 'cos', 'linear'",
    ),
    "cyc-zero": (lambda: kclr.CLR(0, LR), ValueError, "`cyc` must be an integer >= 1"),
    "cyc-float": (lambda: kclr.CLR(2.0, LR), TypeError, "`cyc`"),
    "cyc-bool": (lambda: kclr.CLR(True, LR), TypeError, "`cyc`"),
    "mode-unknown": (lambda: kclr.CLR(2, LR, mode="sine"), ValueError, "`mode` must be one of"),
    "gamma-zero": (lambda: kclr.CLR(2, LR, mode="exp_range", gamma=0.0), ValueError, "`gamma`"),
    "gamma-above-one": (lambda: kclr.CLR(2, LR, mode="exp_range", gamma=1.5), ValueError, "`gamma`"),
    "amplitude_fn-not-callable": (lambda: kclr.CLR(2, LR, amplitude_fn=0.5), TypeError, "`amplitude_fn`"),
    "amplitude_fn-negative": (
        lambda: kclr.CLR(2, LR, amplitude_fn=lambda c: -1.0),
        ValueError,
        "`amplitude_fn(0)`",
    ),
    "amplitude_fn-nan": (
        lambda: kclr.CLR(3, LR, amplitude_fn=lambda c: [1, 1, math.nan][c]),
        ValueError,
        "`amplitude_fn(2)`",
    ),
    "amplitude_fn-with-triangular2": (
        lambda: kclr.CLR(2, LR, mode="triangular2", amplitude_fn=lambda c: 1.0),
        ValueError,
        "`amplitude_fn`",
    ),
    "n_iter-zero": (lambda: kclr.OneCycle(LR).schedule_values(0), ValueError, "`n_iter`"),
    "schedule-total_steps": (
        lambda: kclr.OneCycleSchedule(0.1, 1.0, 0.0, total_steps=0),
        ValueError,
        "`total_steps`",
    ),
    "schedule-pct_start": (
        lambda: kclr.OneCycleSchedule(0.1, 1.0, 0.0, 10, pct_start=1.2),
        ValueError,
        "`pct_start`",
    ),
    "schedule-cycle_steps": (
        lambda: kclr.CyclicSchedule(0.1, 1.0, cycle_steps=0),
        ValueError,
        "`cycle_steps`",
    ),
    "schedule-amplitudes-empty": (
        lambda: kclr.CyclicSchedule(0.1, 1.0, 10, amplitudes=[]),
        ValueError,
        "`amplitudes`",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_argument_is_named_with_its_accepted_range(case):
    factory, error, words = INVALID[case]
    with pytest.raises(error) as raised:
        factory()
    message = str(raised.value)
    assert words in message
    assert "Received:" in message


def test_invalid_callback_raises_before_any_weight_changes():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01, momentum=0.0), "mse")
    weights = model.get_weights()
    with pytest.raises(ValueError, match="`momentum_range`"):
        model.fit(np.ones((8, 2)), np.ones((8, 1)), verbose=0, callbacks=[kclr.OneCycle(LR, (0.95, 0.85))])
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
