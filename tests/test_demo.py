"""The demo's comparison: over seeds, concluded from the numbers, and never drawn from a smoke run."""

import io
import json

import pytest

from keras_one_cycle_clr import demo


def seeds(one_cycle, constant, constant_long=None):
    """The per-seed results `compare_over_seeds` reads, from lists of accuracies."""
    runs = []
    for index, (a, b) in enumerate(zip(one_cycle, constant, strict=True)):
        run = {"seed": index, "one_cycle": {"final_val_accuracy": a}, "constant": {"final_val_accuracy": b}}
        if constant_long is not None:
            run["constant_long"] = {"final_val_accuracy": constant_long[index]}
        runs.append(run)
    return runs


@pytest.mark.parametrize(
    ("one_cycle", "constant", "verdict", "wins"),
    [
        pytest.param([0.98, 0.97, 0.99], [0.97, 0.96, 0.98], "ahead", 3, id="higher-on-every-seed"),
        pytest.param([0.96, 0.95, 0.97], [0.97, 0.96, 0.98], "behind", 0, id="lower-on-every-seed"),
        pytest.param([0.98, 0.95, 0.98], [0.97, 0.96, 0.98], "level", 1, id="seeds-disagree"),
        pytest.param([0.98, 0.97, 0.98], [0.97, 0.96, 0.98], "level", 2, id="a-tie-is-not-ahead"),
    ],
)
def test_compare_over_seeds_verdict_needs_every_seed(one_cycle, constant, verdict, wins):
    comparison = demo.compare_over_seeds(seeds(one_cycle, constant), validation_samples=360)
    assert comparison["verdict"] == comparison["against"]["constant"]["verdict"] == verdict
    assert comparison["against"]["constant"]["wins"] == wins
    assert comparison["seeds"] == [0, 1, 2]
    assert comparison["mean"]["one_cycle"] == pytest.approx(sum(one_cycle) / 3)
    differences = [a - b for a, b in zip(one_cycle, constant, strict=True)]
    assert comparison["against"]["constant"]["differences"] == pytest.approx(differences)


def test_the_conclusion_says_plainly_when_the_one_cycle_does_not_win():
    level = demo.compare_over_seeds(
        seeds([0.9722, 0.9833, 0.9806], [0.9722, 0.9750, 0.9778], [0.9722, 0.9750, 0.9806]), 360
    )
    assert level["conclusion"].startswith(
        "Against the constant for as many epochs, the one cycle is level with it: higher on 2, tied on 1 "
        "of 3 seeds, +0.37 points on average; against the constant for twice the epochs, level with it"
    )
    assert (
        "At this size the one cycle does not clearly beat a tuned constant learning rate"
        in level["conclusion"]
    )
    assert "one of the 360 validation images is 0.28 points" in level["conclusion"]
    behind = demo.compare_over_seeds(seeds([0.96, 0.95], [0.97, 0.96]), 360)
    assert "behind it on every seed (-1.00 points)" in behind["conclusion"]
    assert "At this size the one cycle does not beat a tuned constant" in behind["conclusion"]
    assert "peaks too high for so short a cycle" in behind["conclusion"]  # measured on TensorFlow
    assert "peaks too high" not in level["conclusion"]
    # Ahead of both constants on every seed: the numbers say so, and nothing explains them away.
    ahead = demo.compare_over_seeds(seeds([0.99, 0.98], [0.97, 0.96], [0.98, 0.97]), 360)
    assert ahead["verdict"] == "ahead"
    assert "At this size" not in ahead["conclusion"]
    assert ahead["conclusion"].endswith("ahead of it on every seed (+1.00 points).")


def test_quick_demo_is_a_smoke_run_that_compares_nothing(tmp_path):
    stream = io.StringIO()
    summary = demo.run_demo(tmp_path, quick=True, stream=stream)
    assert summary["quick"] is True
    assert summary["seeds"] == [0]
    assert summary["comparison"] == {"skipped": demo.SMOKE_RUN}
    assert summary["constant_long_epochs"] is None
    assert set(summary["runs"]) == {"one_cycle", "constant"}
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(summary))
    summary_lines = [line for line in stream.getvalue().splitlines() if line.startswith("[summary]")]
    assert summary_lines == [f"[summary] {demo.SMOKE_RUN}"]
    assert "say nothing about the one cycle against the constant" in demo.SMOKE_RUN


def test_demo_compares_over_seeds_with_the_constant_at_twice_the_epochs(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "RANGE_TEST", {**demo.RANGE_TEST, "steps": 30})  # seconds, not minutes
    stream = io.StringIO()
    summary = demo.run_demo(tmp_path, epochs=1, seed=3, stream=stream, seed_count=2)
    comparison = summary["comparison"]
    assert summary["seeds"] == comparison["seeds"] == [3, 4]
    assert summary["constant_long_epochs"] == 2
    assert [run["seed"] for run in comparison["per_seed"]] == [3, 4]
    for run in comparison["per_seed"]:
        assert set(run["runs"]) == {"one_cycle", "constant", "constant_long"}
        assert [run["runs"][name]["epochs_run"] for name in ("one_cycle", "constant", "constant_long")] == [
            1,
            1,
            2,
        ]
        assert run["weight_decay"] in demo.WD_GRID
    # The first seed's runs are also the summary's `runs`, as before seeds were added.
    assert summary["runs"] == {
        name: comparison["per_seed"][0]["runs"][name] for name in ("one_cycle", "constant")
    }
    assert comparison["verdict"] in {"ahead", "level", "behind"}
    printed = stream.getvalue()
    lines = [line.removeprefix("[summary] ") for line in printed.splitlines() if line.startswith("[summary]")]
    assert lines[0].startswith("validation accuracy over 2 seeds")
    assert lines[1].split() == [
        "seed",
        "one",
        "cycle,",
        "1",
        "ep",
        "constant,",
        "1",
        "ep",
        "constant,",
        "2",
        "ep",
    ]
    assert lines[2].split()[0] == "3"
    assert lines[4].split()[0] == "mean"
    assert " ".join(lines[5:]) == comparison["conclusion"]
    # Epoch lines for the first seed only: 1 + 1 + 2.
    assert sum(line.startswith("[epoch]") for line in printed.splitlines()) == 4
