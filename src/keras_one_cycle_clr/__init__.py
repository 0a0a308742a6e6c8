"""One-cycle policy, cyclical learning rates and the learning-rate range test for Keras 3.

Works on the TensorFlow, JAX and PyTorch backends. The schedules run inside the compiled train step.
"""

from keras_one_cycle_clr.callbacks import CLR, OneCycle
from keras_one_cycle_clr.range_test import LrRangeTest, lr_find
from keras_one_cycle_clr.schedules import CyclicSchedule, OneCycleSchedule

__all__ = ["CLR", "CyclicSchedule", "LrRangeTest", "OneCycle", "OneCycleSchedule", "lr_find"]
__version__ = "0.1.0"
