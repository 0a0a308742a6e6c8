"""ScheduleVariable: the packed schedules in one variable, read by the compiled step."""

import keras
import numpy as np
import pytest

from keras_one_cycle_clr import _keras_compat as compat
from keras_one_cycle_clr import schedules
from keras_one_cycle_clr._patches import Patches
from keras_one_cycle_clr._schedule_variable import ScheduleVariable, updates_done
from keras_one_cycle_clr.schedules import Piecewise

FORMS = {
    "learning_rate": schedules.OneCycleSchedule(0.01, 0.1, 0.0, total_steps=20).piecewise(),
    "momentum": Piecewise.constant(0.9),
}


def built_sgd():
    weight = keras.Variable(np.ones(2, "float32"))
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    optimizer.build([weight])
    return optimizer


@pytest.mark.parametrize("start", [3, 2**24 + 3])  # the second is not a float32: 2**24 + 4 is
@pytest.mark.parametrize("accumulation", [1, 2])
def test_values_are_the_schedules_at_the_updates_since_the_start(start, accumulation):
    slots = FORMS["learning_rate"].slots
    variable = ScheduleVariable(sorted(FORMS), slots)
    variable.write(FORMS, start)
    counter = compat.step_counter(built_sgd())  # the variable the compiled step reads
    expected = schedules.evaluate(FORMS["learning_rate"], 20)
    for step in (start - 1, start, start + 5, start + 13, start + 100):
        counter.assign(step)
        values = variable.values(counter, accumulation)
        update = max(updates_done(step, start, accumulation), 0)
        assert float(values["learning_rate"]) == pytest.approx(expected[min(update, 19)], rel=1e-6)
        assert float(values["momentum"]) == pytest.approx(0.9)


def test_a_written_schedule_replaces_the_last_one_in_the_same_variable():
    variable = ScheduleVariable(["learning_rate"], FORMS["learning_rate"].slots)
    same = variable.variable
    variable.write({"learning_rate": Piecewise.constant(0.5)}, 0)
    counter = compat.step_counter(built_sgd())
    counter.assign(7)
    assert variable.variable is same
    assert float(variable.values(counter, 1)["learning_rate"]) == pytest.approx(0.5)


def test_attached_it_joins_the_optimizers_variables_but_not_what_they_save():
    optimizer = built_sgd()
    own = list(optimizer.variables)
    variable = ScheduleVariable(["learning_rate"], FORMS["learning_rate"].slots)
    patches = Patches()
    variable.attach(optimizer, patches)
    assert [id(v) for v in optimizer.variables] == [id(v) for v in own] + [id(variable.variable)]
    store = {}
    optimizer.save_own_variables(store)
    assert len(store) == len(own)
    optimizer.load_own_variables(store)  # the same count: loads without a warning
    assert optimizer.variables[-1] is variable.variable  # still attached after both
    patches.undo()
    assert [id(v) for v in optimizer.variables] == [id(v) for v in own]
    assert "save_own_variables" not in vars(optimizer)


def test_attached_to_a_loss_scale_optimizer_it_joins_the_inner_ones_variables():
    inner = built_sgd()
    outer = keras.optimizers.LossScaleOptimizer(inner)
    variable = ScheduleVariable(["learning_rate"], FORMS["learning_rate"].slots)
    patches = Patches()
    variable.attach(outer, patches)
    assert inner.variables[-1] is variable.variable
    assert {"save_own_variables", "load_own_variables"} <= set(vars(outer)) & set(vars(inner))
    patches.undo()
    assert all(v is not variable.variable for v in inner.variables)
