"""Interpolation between two values at a position in [0, 1], in `keras.ops`.

The one place where curve shapes are written. Schedules combine these into phases; the values that are
plotted and the values that train come from the same functions.
"""

from __future__ import annotations

import math

from keras import ops


def cos_anneal(start, end, pct):
    """Half a cosine from `start` (pct=0) to `end` (pct=1); fastai's `sched_cos`, torch's "cos"."""
    return end + (start - end) / 2.0 * (ops.cos(math.pi * pct) + 1.0)


def linear_anneal(start, end, pct):
    """A straight line from `start` (pct=0) to `end` (pct=1)."""
    # Weighted form rather than start + (end - start) * pct: exact at both ends in float32.
    return start * (1.0 - pct) + end * pct


def exp_anneal(start, end, pct):
    """Geometric interpolation from `start` (pct=0) to `end` (pct=1), both > 0: the range test's
    exponential sweep."""
    return start * ops.power(end / start, pct)


ANNEALERS = {"cos": cos_anneal, "linear": linear_anneal, "exp": exp_anneal}
