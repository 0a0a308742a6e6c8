"""What the other callbacks of a `fit` mean for ours, worked out when the fit starts.

`OneCycle`, `CLR` and `LrRangeTest` set the learning rate inside every training step. Another
callback that assigns `optimizer.learning_rate` during the same fit (Keras's `LearningRateScheduler`
and `ReduceLROnPlateau`, or a second one of ours) would announce its values and see them overwritten
at the next step, so the combination is refused before any training step.
"""

from __future__ import annotations

import keras

from keras_one_cycle_clr import _keras_compat as compat

# Keras's callbacks that assign `optimizer.learning_rate` during `fit`.
KERAS_LEARNING_RATE_CALLBACKS = (keras.callbacks.LearningRateScheduler, keras.callbacks.ReduceLROnPlateau)


def sets_learning_rate_in_step(callback):
    """Whether `callback` is one of this package's, which set the learning rate inside the step."""
    return getattr(callback, "_sets_learning_rate_in_step", False)


def other_callbacks(callback):
    """The other callbacks of the `fit` now calling `callback`'s hook, in their order; `callback`
    itself again if it was passed twice. Empty when its hooks are called by hand."""
    members = compat.fit_callbacks(callback) or []
    others = [member for member in members if member is not callback]
    if len(members) - len(others) > 1:
        others.append(callback)
    return others


def check_sole_learning_rate_callback(callback, others):
    """Raises a ValueError naming the first callback in `others` that also sets the learning rate.

    `callback` is ours: an instance in the fit, or its class when the check runs before the
    instance exists (`fit_one_cycle` checks before its range test).

    Example:

    >>> import keras
    >>> import keras_one_cycle_clr as kclr
    >>> ocp = kclr.OneCycle((0.01, 0.1))
    >>> check_sole_learning_rate_callback(ocp, [keras.callbacks.History()])
    >>> check_sole_learning_rate_callback(ocp, [keras.callbacks.ReduceLROnPlateau()])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Argument `callbacks` of `fit` must hold only one callback that sets the learning rate, ...
    """
    name = callback.__name__ if isinstance(callback, type) else type(callback).__name__
    for other in others:
        other_name = type(other).__name__
        if isinstance(other, keras.callbacks.ReduceLROnPlateau):
            advice = (
                f"{name} sets the learning rate inside every training step, so the reductions "
                f"{other_name} reports would never be applied. {name} already anneals the learning "
                f"rate; to reduce it on plateaus after the cycle, run a second `fit` with {other_name} "
                f"and without {name} (set `optimizer.learning_rate` to the rate to start from first)."
            )
        elif isinstance(other, keras.callbacks.LearningRateScheduler):
            advice = (
                f"{name} sets the learning rate inside every training step, so the rates {other_name} "
                f"reports would never be used. Pass only one of them, or run them in consecutive "
                "`fit` calls."
            )
        elif other is callback:
            advice = f"The same {name} is passed twice: pass it once."
        elif sets_learning_rate_in_step(other):
            advice = (
                "Both set the learning rate (and momentum or weight decay) inside every training "
                "step. Run them in consecutive `fit` calls (a range test first, then the schedule)."
            )
        else:
            continue
        received = ", ".join([name, *(type(member).__name__ for member in others)])
        msg = (
            "Argument `callbacks` of `fit` must hold only one callback that sets the learning rate, "
            f"but it holds {name} and {other_name}. {advice} Received: callbacks with {received}"
        )
        raise ValueError(msg)


def print_message(callback, message):
    """Prints `message` as Keras's own callbacks do: through Keras's printer, and on a line of its
    own after `fit`'s live progress bar (verbose=1), which leaves its line open until the epoch
    ends."""
    line_break = "\n" if (callback.params or {}).get("verbose") in (1, "auto") else ""
    compat.print_msg(line_break + message)
