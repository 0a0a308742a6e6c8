"""Suggestion rules for a learning-rate range test: pure functions of `(lrs, losses)`.

They need no training to test. NaN entries (steps a sweep never reached) are ignored.
"""

from __future__ import annotations

import numpy as np

from keras_one_cycle_clr import _checks


def smooth(losses, beta=0.98):
    """Debiased exponential moving average of `losses` (fastai's smoothing), NaN left as NaN.

    Example:

    >>> smooth([4.0, 2.0], beta=0.5).tolist()  # (0.5 * 4) / 0.5, then (0.5 * 2 + 0.5 * 2) / 0.75
    [4.0, 2.6666666666666665]

    Args:
        losses: A 1-D sequence of floats.
        beta: A Python float in [0, 1): the weight of the past. Defaults to 0.98.

    Returns:
        A float64 NumPy array of the same length.
    """
    beta = _checks.check_number("beta", beta, low=0.0, high=1.0, high_inclusive=False)
    losses = _as_1d("losses", losses)
    out = np.full_like(losses, np.nan)
    average, count = 0.0, 0
    for i, loss in enumerate(losses):
        if not np.isfinite(loss):
            continue
        count += 1
        average = beta * average + (1 - beta) * loss
        out[i] = average / (1 - beta**count)
    return out


def trim(lrs, losses, skip_start, skip_end=5):
    """Drops the first `skip_start` and the last `skip_end` reached steps, as fastai does before its
    rules: the smoothed curve starts biased and ends in divergence. Keeps everything when too few
    steps would remain.

    Example:

    >>> trim(np.arange(10.0), np.arange(10.0), skip_start=2, skip_end=3)[0].tolist()
    [2.0, 3.0, 4.0, 5.0, 6.0]

    Returns:
        `(lrs, losses)`, the reached steps that are kept.
    """
    lrs, losses = _finite(lrs, losses)
    if len(losses) - skip_start - skip_end < 2:
        return lrs, losses
    return lrs[skip_start : len(losses) - skip_end], losses[skip_start : len(losses) - skip_end]


def _as_1d(name, values):
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        _checks.fail(name, "a 1-D sequence of numbers", values, TypeError)
    if array.ndim != 1:
        _checks.fail(name, "one-dimensional", values)
    return array


def _finite(lrs, losses):
    lrs = _as_1d("lrs", lrs)
    losses = _as_1d("losses", losses)
    if lrs.shape != losses.shape:
        msg = (
            "Arguments `lrs` and `losses` must have one length. "
            f"Received: len(lrs)={len(lrs)}, len(losses)={len(losses)}"
        )
        raise ValueError(msg)
    keep = np.isfinite(losses)
    if keep.sum() < 2:
        msg = f"A suggestion needs at least 2 finite losses. Received: losses with {int(keep.sum())} finite"
        raise ValueError(msg)
    return lrs[keep], losses[keep]


def steepest(lrs, losses):
    """The learning rate where the loss falls fastest against log(lr) (fastai's `steep`).

    Example:

    >>> steepest([1e-3, 1e-2, 1e-1, 1.0], [1.0, 0.9, 0.5, 2.0])
    0.01
    """
    lrs, losses = _finite(lrs, losses)
    if not np.all(lrs > 0):  # the slope is taken against log(lr)
        msg = f"Argument `lrs` must be positive. Received: lrs with minimum {lrs.min()!r}"
        raise ValueError(msg)
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(slopes))])


def minimum(lrs, losses, divisor=10.0):
    """The learning rate at the lowest loss, divided by `divisor` (fastai's `minimum` rule: 10).

    Example:

    >>> minimum([1e-3, 1e-2, 1e-1, 1.0], [1.0, 0.9, 0.5, 2.0])
    0.01

    Args:
        lrs, losses: The range test's learning rates and (smoothed) losses.
        divisor: A Python float >= 1. Defaults to 10.
    """
    divisor = _checks.check_number("divisor", divisor, low=1.0)
    lrs, losses = _finite(lrs, losses)
    return float(lrs[int(np.argmin(losses))] / divisor)


def valley(lrs, losses):
    """fastai's `valley`: two-thirds of the way down the longest decreasing run of the loss.

    Example:

    >>> lrs = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0]
    >>> valley(lrs, [1.0, 0.98, 0.9, 0.7, 0.5, 0.4, 0.38, 2.0, 5.0])
    0.001

    The index arithmetic is fastai's own, kept so that both libraries suggest the same value.
    """
    lrs, losses = _finite(lrs, losses)
    n = len(losses)
    run = np.ones(n, dtype=int)  # longest decreasing subsequence ending at i
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
            if run[max_end] < run[i]:
                max_end = i
                max_start = max_end - run[max_end]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


def slide(lrs, losses, lr_diff=15, thresh=0.005, adjust_value=1.0):
    """fastai's `slide`: walks down from the high end until the loss gradient over `lr_diff` steps
    flattens to within `thresh`, and suggests the learning rate there.

    Example:

    >>> lrs = np.geomspace(1e-4, 1, 40)
    >>> slide(lrs, np.where(lrs < 0.1, 1.0, 1.0 + 50 * (lrs - 0.1) ** 2)) < 0.1
    True

    Args:
        lrs, losses: The range test's learning rates and (smoothed) losses.
        lr_diff: A Python int >= 1: the distance, in steps, over which gradients are compared.
            Defaults to 15.
        thresh: A Python float >= 0: how close the two gradients must be. Defaults to 0.005.
        adjust_value: A Python float > 0 that multiplies the result. Defaults to 1.
    """
    lr_diff = _checks.check_count("lr_diff", lr_diff)
    thresh = _checks.check_number("thresh", thresh, low=0.0)
    adjust_value = _checks.check_positive("adjust_value", adjust_value)
    lrs, losses = _finite(lrs, losses)
    gradient = np.gradient(losses)
    right = -1
    left = right - lr_diff
    local_min_lr = lrs[max(left, -len(lrs))]
    while left >= -len(losses) and abs(gradient[right] - gradient[left]) > thresh:
        local_min_lr = lrs[left]
        right -= 1
        left -= 1
    return float(local_min_lr * adjust_value)


RULES = {"valley": valley, "steepest": steepest, "minimum": minimum, "slide": slide}
