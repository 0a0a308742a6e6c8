"""The 2019 library's `utils` names, kept so that `from keras_one_cycle_clr.utils import ...` works."""

from keras_one_cycle_clr.history import (
    concatenate_history,
    cuda_release_memory,
    load_history_from_csv,
    moving_window_avg,
    reset_keras,
    save_history_to_csv,
)

__all__ = [
    "concatenate_history",
    "cuda_release_memory",
    "load_history_from_csv",
    "moving_window_avg",
    "reset_keras",
    "save_history_to_csv",
]


def __getattr__(name):
    if name == "plot_from_history":
        from keras_one_cycle_clr.plot import plot_from_history

        return plot_from_history
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
