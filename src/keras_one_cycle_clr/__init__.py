"""One-cycle policy, cyclical learning rates and the learning-rate range test for Keras 3.

Works on the TensorFlow, JAX and PyTorch backends. The schedules run inside the compiled train step.
"""

from keras_one_cycle_clr._keras_compat import KerasCompatibilityError
from keras_one_cycle_clr.adaptive import AdaptiveOneCycle
from keras_one_cycle_clr.callbacks import CLR, OneCycle
from keras_one_cycle_clr.history import (
    concatenate_history,
    cuda_release_memory,
    load_history_from_csv,
    moving_window_avg,
    reset_keras,
    save_history_to_csv,
)
from keras_one_cycle_clr.hyperparams import AttachedSchedules, attach_schedules
from keras_one_cycle_clr.range_test import LrRangeTest, lr_find
from keras_one_cycle_clr.range_test_result import CannotChooseError, RangeTestResult
from keras_one_cycle_clr.schedules import CyclicSchedule, OneCycleSchedule
from keras_one_cycle_clr.workflow import fit_one_cycle

__all__ = [
    "CLR",
    "AdaptiveOneCycle",
    "AttachedSchedules",
    "CannotChooseError",
    "CyclicSchedule",
    "KerasCompatibilityError",
    "LrRangeTest",
    "OneCycle",
    "OneCycleSchedule",
    "RangeTestResult",
    "attach_schedules",
    "concatenate_history",
    "cuda_release_memory",
    "fit_one_cycle",
    "load_history_from_csv",
    "lr_find",
    "moving_window_avg",
    "plot_from_history",
    "reset_keras",
    "save_history_to_csv",
]
__version__ = "0.1.0"


def __getattr__(name):
    # Plotting stays lazy: `import keras_one_cycle_clr` must not load matplotlib.
    if name == "plot_from_history":
        from keras_one_cycle_clr.plot import plot_from_history

        return plot_from_history
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
