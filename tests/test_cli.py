"""The `keras-one-cycle-clr` command, run in-process: plot-schedule, argument errors and the demo."""

import json
import runpy
import sys

import keras
import pytest

from keras_one_cycle_clr import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), f"{path} is not a PNG"
    return data


@pytest.mark.parametrize(
    "policy_args",
    [
        pytest.param(["one-cycle"], id="one-cycle"),
        pytest.param(
            ["one-cycle", "--momentum-start", "0.95", "--momentum-low", "0.85", "--three-phase"],
            id="one-cycle-momentum-three-phase",
        ),
        pytest.param(
            ["clr", "--cycles", "3", "--mode", "triangular2", "--phase-one-fraction", "0.5"], id="clr"
        ),
        pytest.param(["clr", "--momentum-start", "0.95", "--momentum-low", "0.85"], id="clr-momentum"),
    ],
)
def test_plot_schedule_writes_a_png(tmp_path, capsys, policy_args):
    out = tmp_path / "schedule.png"
    argv = ["plot-schedule", *policy_args, "--steps", "120", "--lr-min", "0.01", "--lr-max", "0.1"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    read_png(out)
    captured = capsys.readouterr()
    assert str(out) in captured.out
    assert captured.err == ""


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        pytest.param(["one-cycle", "--lr-min", "0.5", "--lr-max", "0.1"], "`lr_range`", id="lr-decreasing"),
        pytest.param(["one-cycle", "--lr-min", "0", "--lr-max", "0.1"], "`lr_range[0]`", id="lr-zero"),
        pytest.param(
            ["one-cycle", "--lr-min", "0.01", "--lr-max", "0.1", "--anneal", "exp"], "`anneal`", id="anneal"
        ),
        pytest.param(
            [
                "one-cycle",
                "--lr-min",
                "0.01",
                "--lr-max",
                "0.1",
                "--momentum-start",
                "0.95",
                "--momentum-low",
                "1.5",
            ],
            "`momentum_range[1]`",
            id="momentum-out-of-range",
        ),
        pytest.param(
            ["one-cycle", "--lr-min", "0.01", "--lr-max", "0.1", "--momentum-start", "0.95"],
            "--momentum-low",
            id="momentum-half-given",
        ),
        pytest.param(["clr", "--lr-min", "0.01", "--lr-max", "0.1", "--cycles", "0"], "`cyc`", id="cycles"),
        pytest.param(["clr", "--lr-min", "0.01", "--lr-max", "0.1", "--mode", "zigzag"], "`mode`", id="mode"),
        pytest.param(["clr", "--lr-min", "0.01", "--lr-max", "x"], "--lr-max", id="not-a-number"),
        pytest.param(
            ["one-cycle", "--lr-min", "0.01", "--lr-max", "0.1", "--cycles", "2"], "--cycles", id="clr-only"
        ),
    ],
)
def test_invalid_argument_is_one_error_line_and_status_2(tmp_path, capsys, argv, named):
    out = tmp_path / "schedule.png"
    status = cli.main(["plot-schedule", *argv, "--steps", "100", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert named in lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="no-command"),
        pytest.param(["plot-schedule", "one-cycle", "--lr-min", "0.01", "--lr-max", "0.1"], id="missing"),
        pytest.param(["demo", "--epochs", "0"], id="demo-epochs"),
    ],
)
def test_usage_errors_are_one_line_too(capsys, argv):
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")


def test_help_returns_0(capsys):
    assert cli.main(["plot-schedule", "clr", "--help"]) == 0
    assert "--cycles" in capsys.readouterr().out


def test_python_dash_m_runs_main(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["keras_one_cycle_clr", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("keras_one_cycle_clr", run_name="__main__")
    assert exit_info.value.code == 0
    assert "plot-schedule" in capsys.readouterr().out


def test_quick_demo_writes_plots_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--quick", "--out", str(out), "--seed", "1"]) == 0
    read_png(out / "schedule.png")
    read_png(out / "loss_curves.png")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == keras.backend.backend()
    assert {"lr_range", "epochs", "steps", "steps_per_epoch", "runs"} <= set(summary)
    assert summary["steps"] == summary["epochs"] * summary["steps_per_epoch"]
    assert set(summary["runs"]) == {"one_cycle", "constant"}
    for run in summary["runs"].values():
        assert 0.0 <= run["final_val_accuracy"] <= 1.0
        assert run["wall_time_s"] > 0
        assert run["epochs_run"] == summary["epochs"]
    captured = capsys.readouterr()
    assert captured.err == ""
    epoch_lines = [line for line in captured.out.splitlines() if line.startswith("[epoch]")]
    assert len(epoch_lines) == 2 * summary["epochs"]
