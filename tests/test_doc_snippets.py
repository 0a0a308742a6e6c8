"""The code in README.md and docs/ that a reader copies: it runs, and says what the code does."""

import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(path):
    """The ```python blocks of a Markdown file, in order."""
    return re.findall(r"```python\n(.*?)```", (ROOT / path).read_text(), flags=re.DOTALL)


def test_readme_total_steps_counts_the_last_short_batch():
    # fit runs ceil(n / batch_size) batches an epoch; floor division would miss the short last one.
    (line,) = [
        line
        for line in (ROOT / "README.md").read_text().splitlines()
        if "choose_one_cycle(total_steps=" in line
    ]
    expression = re.search(r"total_steps=(.*)\)\s*(#.*)?$", line).group(1)
    x_train = np.zeros((1437, 64))  # the demo's digits: 1437 samples, 45 batches of 32 an epoch
    assert eval(expression, {"len": len, "math": math, "x_train": x_train}) == 20 * 45


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the JAX loop of docs/callbacks-and-loops.md")
def test_the_jax_custom_loop_of_the_docs_runs_and_trains_the_schedules():
    schedules, _, jax_loop = python_blocks("docs/callbacks-and-loops.md")[:3]
    assert "stateless_apply" in jax_loop
    namespace = {"epochs": 5, "steps_per_epoch": 20}
    exec(schedules, namespace)
    exec(jax_loop, namespace)
    model, optimizer, attached = namespace["model"], namespace["optimizer"], namespace["schedules"]
    assert not attached.attached
    assert int(optimizer.iterations.numpy()) == 100
    # The schedules ran, and the optimizer has its own hyper-parameters back.
    assert float(optimizer.learning_rate) == pytest.approx(0.01)
    assert optimizer.momentum == 0.9
    x = np.random.default_rng(1).normal(size=(256, 8)).astype("float32")
    loss = float(np.mean((model.predict(x, verbose=0) - x.sum(axis=1, keepdims=True)) ** 2))
    assert loss < 0.05  # learned y = sum(x) from a starting loss of about 8


@pytest.mark.parametrize("policy", ["OneCycle", "CLR"])
def test_a_rising_momentum_range_is_documented_and_taken_as_given(policy):
    import warnings

    import keras_one_cycle_clr as kclr

    callback = getattr(kclr, policy)
    (entry,) = re.findall(r"momentum_range: (.*?)\n        \w+:", callback.__doc__, flags=re.DOTALL)
    assert "the smaller first is taken as given, without a warning" in " ".join(entry.split())
    arguments = {"lr_range": (0.01, 0.1), "momentum_range": (0.85, 0.95)}
    if policy == "CLR":
        arguments["cyc"] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "without a warning"
        values = callback(**arguments).schedule_values(100)
    # As documented: momentum rises with the learning rate, to 0.95 where it peaks.
    peak = int(np.argmax(values["lr"]))
    assert values["momentum"][0] == pytest.approx(0.85)
    assert values["momentum"][peak] == pytest.approx(0.95)
