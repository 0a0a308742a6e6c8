"""The cache of train functions traced with schedules, and the loss count their steps report."""

import keras
import numpy as np

from keras_one_cycle_clr import _compiled_steps
from keras_one_cycle_clr._compiled_steps import CompiledSteps, compiled_steps, layout

BACKEND = keras.backend.backend()
NAMES, SLOTS = ("learning_rate", "momentum", "weight_decay"), (4, 16)


def compiled_model():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    model.make_train_function()
    return model


def test_the_cache_lives_on_the_model_until_its_own_train_function_changes():
    model = compiled_model()
    assert compiled_steps(model) is None
    steps = CompiledSteps.of(model)
    assert CompiledSteps.of(model) is steps
    assert compiled_steps(model) is steps
    model.make_train_function(force=True)  # a recompile: the steps traced before are stale
    assert CompiledSteps.of(model) is not steps
    _compiled_steps.forget_compiled_steps(model)
    assert compiled_steps(model) is None


def test_the_layout_follows_the_optimizers_configuration_but_not_the_driven_values():
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    before = layout(optimizer, NAMES, SLOTS, False)
    optimizer.learning_rate = 0.2  # driven: read from the schedules, not baked into the trace
    optimizer.momentum = 0.8
    assert layout(optimizer, NAMES, SLOTS, False) == before
    assert layout(optimizer, NAMES, (5, 16), False) != before  # another packing
    assert layout(optimizer, NAMES, SLOTS, True) != before  # a step that counts the loss
    optimizer.clipnorm = 1.0  # baked into the trace
    assert layout(optimizer, NAMES, SLOTS, False) != before
    other = keras.optimizers.SGD(0.05, momentum=0.9)
    assert layout(other, NAMES, SLOTS, False) != before  # another optimizer: its own variables


def test_a_train_function_is_traced_once_per_layout_and_cached_with_its_variable():
    model = compiled_model()
    steps = CompiledSteps.of(model)
    key = layout(model.optimizer, NAMES, SLOTS, False)
    variable = object()
    first = steps.train_function(model, key, variable, counts_loss=False)
    assert steps.train_function(model, key, object(), counts_loss=False) is first
    assert steps.variable(key) is variable
    assert steps.variable(layout(model.optimizer, NAMES, (5, 16), False)) is None
    assert model.train_function is not first  # the model keeps its own until it is installed


def test_the_loss_count_is_reported_only_by_a_counting_step():
    model = compiled_model()
    x = np.ones((4, 1), "float32")
    model.train_on_batch(x, x)
    assert _compiled_steps.last_loss_count(model) is None  # the model's own step
    if not _compiled_steps.can_count_loss(model):
        assert BACKEND == "torch"  # eager: nothing compiled to report it
        return
    steps = CompiledSteps.of(model)
    counting = steps.train_function(model, layout(model.optimizer, NAMES, SLOTS, True), None, True)
    assert counting.loss_count is None  # before its first call
    model.train_function = counting
    model.reset_metrics()  # Keras 3.15's train_on_batch resets them; 3.8's keeps counting
    model.train_on_batch(x, x)
    assert _compiled_steps.last_loss_count(model) == 4.0
