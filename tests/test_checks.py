"""The argument-check helpers: what each accepts, what it returns, and the one message shape.

Which public argument uses which check, and that the message reaches the user, is tested entry point
by entry point in test_bad_input.py.
"""

import math

import numpy as np
import pytest

from keras_one_cycle_clr import _checks


def test_fail_message_has_the_keras_shape():
    with pytest.raises(ValueError, match=r"^Argument `decay_steps` must be > 0\. Received: decay_steps=0$"):
        _checks.fail("decay_steps", "> 0", 0)
    with pytest.raises(TypeError, match=r"^Argument `name` must be a str\. Received: name='x'$"):
        _checks.fail("name", "a str", "x", TypeError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3.0), (0.25, 0.25), (np.float32(0.5), 0.5), (np.int64(2), 2.0)],
    ids=["int", "float", "np-float32", "np-int64"],
)
def test_check_number_returns_a_python_float(value, expected):
    result = _checks.check_number("x", value)
    assert type(result) is float
    assert result == expected


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (True, TypeError, "Argument `x` must be a real number. Received: x=True"),
        ("1", TypeError, "Argument `x` must be a real number. Received: x='1'"),
        (None, TypeError, "Argument `x` must be a real number. Received: x=None"),
        (1j, TypeError, "Argument `x` must be a real number. Received: x=1j"),
        (math.nan, ValueError, "Argument `x` must be finite and in [0.0, 1.0). Received: x=nan"),
        (-math.inf, ValueError, "Argument `x` must be finite and in [0.0, 1.0). Received: x=-inf"),
        (-0.1, ValueError, "Argument `x` must be in [0.0, 1.0). Received: x=-0.1"),
        (1.0, ValueError, "Argument `x` must be in [0.0, 1.0). Received: x=1.0"),
    ],
    ids=["bool", "str", "none", "complex", "nan", "minus-inf", "below", "at-open-end"],
)
def test_check_number_refuses(value, error, message):
    with pytest.raises(error) as raised:
        _checks.check_number("x", value, low=0.0, high=1.0, high_inclusive=False)
    assert str(raised.value) == message


def test_check_number_interval_ends():
    assert _checks.check_number("x", 0.0, low=0.0) == 0.0  # inclusive end
    assert _checks.check_number("x", -1e300) == -1e300  # no bounds: any finite number
    with pytest.raises(ValueError, match=r"must be in \(0\.0, inf\)\. Received: x=0\.0$"):
        _checks.check_positive("x", 0.0)
    assert _checks.check_positive("x", 5e-324) == 5e-324
    with pytest.raises(ValueError, match=r"must be in \(-inf, 2\.0\]"):
        _checks.check_number("x", 3, high=2.0)


@pytest.mark.parametrize("value", [0.0, 1.0, -0.5, 1.5], ids=["zero", "one", "negative", "above-one"])
def test_check_fraction_is_the_open_unit_interval(value):
    with pytest.raises(ValueError, match=r"must be in \(0\.0, 1\.0\)"):
        _checks.check_fraction("pct", value)
    assert _checks.check_fraction("pct", 0.5) == 0.5


def test_check_count():
    assert _checks.check_count("n", 3) == 3
    result = _checks.check_count("n", np.int64(4))
    assert type(result) is int
    assert result == 4
    assert _checks.check_count("n", 0, minimum=0) == 0
    with pytest.raises(ValueError, match=r"^Argument `n` must be an integer >= 2\. Received: n=1$"):
        _checks.check_count("n", 1, minimum=2)
    for value in (True, 2.0, "2", None):
        with pytest.raises(TypeError, match=r"^Argument `n` must be an integer >= 1\."):
            _checks.check_count("n", value)


def test_check_pair_and_lr_range():
    assert _checks.check_pair("p", [1, 2]) == (1, 2)
    for value in ("ab", b"ab", (1,), (1, 2, 3), 1.0, {1: 2, 3: 4}):
        with pytest.raises(TypeError, match=r"^Argument `p` must be a pair \(start, end\) of two numbers"):
            _checks.check_pair("p", value)
    low, high = _checks.check_lr_range("lr_range", (1, np.float32(2)))
    assert (type(low), type(high), low, high) == (float, float, 1.0, 2.0)
    with pytest.raises(ValueError, match=r"lr_range\[0\] < lr_range\[1\]\. Received: lr_range=\(2, 1\)"):
        _checks.check_lr_range("lr_range", (2, 1))
    with pytest.raises(ValueError, match=r"^Argument `lr_range\[1\]` must be in \(0\.0, inf\)"):
        _checks.check_lr_range("lr_range", (0.1, -1.0))


def test_check_momentum_range():
    assert _checks.check_momentum_range("m", None) is None
    assert _checks.check_momentum_range("m", (0.0, 0.95)) == (0.0, 0.95)
    assert _checks.check_momentum_range("m", (0.85, 0.95)) == (0.85, 0.95)  # either direction
    with pytest.raises(ValueError, match=r"^Argument `m\[1\]` must be in \[0\.0, 1\.0\)"):
        _checks.check_momentum_range("m", (0.9, 1.0))


def test_check_choice_takes_strings_only():
    assert _checks.check_choice("mode", "b", ("a", "b")) == "b"
    with pytest.raises(ValueError, match=r"^Argument `mode` must be one of 'a', 'b'\. Received: mode='c'$"):
        _checks.check_choice("mode", "c", ("a", "b"))
    # An array equal to a choice is no choice: `np.array(["a"]) in ("a",)` is True.
    for value in (np.array(["a"]), np.array(["a", "b"]), ["a"], None):
        with pytest.raises(TypeError, match=r"^Argument `mode` must be one of 'a', 'b'"):
            _checks.check_choice("mode", value, ("a", "b"))


def test_check_bool_and_check_name():
    assert _checks.check_bool("flag", False) is False
    for value in (0, 1, "True", None):
        with pytest.raises(TypeError, match=r"^Argument `flag` must be a bool"):
            _checks.check_bool("flag", value)
    assert _checks.check_name("name", "") == ""  # keras.name_scope takes it
    assert _checks.check_name("name", "OneCycle_lr") == "OneCycle_lr"
    with pytest.raises(ValueError, match=r"^Argument `name` must be a string without '/'"):
        _checks.check_name("name", "lr/momentum")
    with pytest.raises(TypeError, match=r"^Argument `name` must be a string without '/'"):
        _checks.check_name("name", None)
