"""Argument checks shared by every public class: one message shape, raised before training."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence


def fail(name: str, requirement: str, value: object, error: type[Exception] = ValueError):
    msg = f"Argument `{name}` must be {requirement}. Received: {name}={value!r}"
    raise error(msg)


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Returns `value` as a float after checking it is a finite real in the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, "a real number", value, TypeError)
    value = float(value)
    # An infinite end is never in the interval: a real number must be finite.
    left = "[" if low_inclusive and low is not None else "("
    right = "]" if high_inclusive and high is not None else ")"
    interval = f"in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    if not math.isfinite(value):
        fail(name, f"finite and {interval}", value)
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        fail(name, interval, value)
    return value


def check_positive(name: str, value: object) -> float:
    return check_number(name, value, low=0.0, low_inclusive=False)


def check_fraction(name: str, value: object) -> float:
    """A fraction strictly inside (0, 1)."""
    return check_number(name, value, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)


def check_rise_fraction(name: str, value: object, three_phase: bool) -> float:
    """A one cycle's rising fraction: in (0, 1), and below 0.5 when `three_phase` (whose second
    phase mirrors the first)."""
    value = check_fraction(name, value)
    if three_phase and value >= 0.5:
        fail(name, "in (0, 0.5) when three_phase=True", value)
    return value


def check_count(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, f"an integer >= {minimum}", value, TypeError)
    if value < minimum:
        fail(name, f"an integer >= {minimum}", value)
    return int(value)


def check_pair(name: str, value: object) -> tuple[object, object]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        fail(name, "a pair (start, end) of two numbers", value, TypeError)
    return value[0], value[1]


def check_lr_range(name: str, value: object) -> tuple[float, float]:
    """A learning-rate pair `(low, high)` with `0 < low < high`, both finite."""
    low, high = check_pair(name, value)
    low = check_positive(f"{name}[0]", low)
    high = check_positive(f"{name}[1]", high)
    if not low < high:
        fail(name, "increasing: lr_range[0] < lr_range[1]", value)
    return low, high


def check_momentum_range(name: str, value: object) -> tuple[float, float] | None:
    """A momentum pair, each in [0, 1), or None.

    In either order, without a warning: `(0.85, 0.95)`, a momentum that rises with the learning
    rate, is taken as given, as the 2019 library, PyTorch's `OneCycleLR` and fastai take it; the
    `momentum_range` docs of OneCycle and CLR say which order is the usual one.
    """
    if value is None:
        return None
    start, end = check_pair(name, value)
    start = check_number(f"{name}[0]", start, low=0.0, high=1.0, high_inclusive=False)
    end = check_number(f"{name}[1]", end, low=0.0, high=1.0, high_inclusive=False)
    return start, end


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    requirement = "one of " + ", ".join(repr(c) for c in choices)
    # The str test comes first: `np.array(["cos"]) in ("cos",)` is True, and a longer array raises.
    if not isinstance(value, str):
        fail(name, requirement, value, TypeError)
    if value not in choices:
        fail(name, requirement, value)
    return value  # type: ignore[return-value]


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        fail(name, "a bool", value, TypeError)
    return value


def check_name(name: str, value: object) -> str:
    """A name for `keras.name_scope`, checked here rather than at the first call inside a traced step."""
    if not isinstance(value, str):
        fail(name, "a string without '/'", value, TypeError)
    if "/" in value:
        fail(name, "a string without '/'", value)
    return value
