"""The `keras-one-cycle-clr` command, run in-process: plot-schedule, argument errors and the demo."""

import json
import runpy
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_one_cycle_clr import cli
from keras_one_cycle_clr.range_test_result import RangeTestResult

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


def test_plot_schedule_without_an_extension_writes_and_reports_a_png(tmp_path, capsys):
    out = tmp_path / "noext"
    argv = ["plot-schedule", "one-cycle", "--steps", "50", "--lr-min", "0.01", "--lr-max", "0.1"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    read_png(tmp_path / "noext.png")
    assert capsys.readouterr().out == f"wrote {tmp_path / 'noext.png'}\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["noext.png"]


def test_plot_schedule_clr_triangular_modes_rise_over_half_a_cycle_by_default(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(cli.CLR, "test_run", lambda policy, n_iter: drawn.append(policy) or a_figure())
    argv = ["plot-schedule", "clr", "--steps", "50", "--lr-min", "0.01", "--lr-max", "0.1"]
    for mode in ("triangular", "cosine"):
        assert cli.main([*argv, "--mode", mode, "--out", str(tmp_path / f"{mode}.png")]) == 0
    assert [policy.phase_one_fraction for policy in drawn] == [0.5, 0.3]


def a_figure():
    from matplotlib.figure import Figure

    return Figure()


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
    read_png(out / "range_test.png")
    read_png(out / "schedule.png")
    read_png(out / "loss_curves.png")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == keras.backend.backend()
    assert summary["lr_range_source"] == "RangeTestResult.choose_one_cycle(total_steps=...)"
    assert summary["weight_decay"] in summary["range_test"]["wd_list"]
    assert 0 < summary["lr_range"][0] < summary["lr_range"][1]
    assert set(summary["range_test"]["suggestions"]) == {"valley", "steepest", "minimum", "slide"}
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


@pytest.fixture
def saved_model_and_data(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(momentum=0.9), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
    model.fit(x, y, epochs=1, verbose=0)  # a saved optimizer is a built one
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    data_path = tmp_path / "data.npz"
    np.savez(data_path, x=x, y=y)
    return str(model_path), str(data_path)


def test_lr_find_prints_suggestions_and_writes_plot_and_json(saved_model_and_data, tmp_path, capsys):
    model_path, data_path = saved_model_and_data
    before = Path(model_path).read_bytes()
    out = tmp_path / "out"
    code = cli.main(
        ["lr-find", model_path, data_path, "--steps", "12", "--wd", "0", "1e-3", "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "valley:" in printed
    assert "best wd:" in printed
    assert (out / "lr_find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "lr_find.json").read_text())
    assert set(summary["suggestions"]) == {"valley", "steepest", "minimum", "slide"}
    assert set(summary["loss"]) == {"wd=0", "wd=0.001"}
    assert len(summary["lr"]) == 12
    assert summary["one_cycle"]["total_steps"] is None
    assert "pass --epochs" in printed
    assert Path(model_path).read_bytes() == before


def test_lr_find_with_epochs_chooses_the_peak_for_that_cycle_length(saved_model_and_data, tmp_path, capsys):
    model_path, data_path = saved_model_and_data
    out = tmp_path / "out"
    argv = ["lr-find", model_path, data_path, "--steps", "12", "--wd", "0", "--epochs", "50"]
    argv += ["--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "lr_find.json").read_text())
    loss = np.asarray(summary["loss"]["wd=0"], dtype=float)[:, None]  # null -> NaN
    result = RangeTestResult(np.asarray(summary["lr"]), loss, wd_list=[0.0])
    expected = result.choose_one_cycle(total_steps=100)  # 50 epochs x 2 batches of 32
    assert summary["one_cycle"]["total_steps"] == 100
    assert summary["one_cycle"]["peak"] == pytest.approx(expected.peak)
    assert "for 50 epochs" in printed
    assert "for a cycle of 100 steps" in printed


def test_lr_find_on_a_model_saved_before_training_shows_no_optimizer_warning(tmp_path, capsys):
    # Keras warns "Skipping variable loading for optimizer" on loading a model whose optimizer was
    # never built; nothing is lost, so the command keeps it quiet (pytest turns warnings into errors).
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    model.save(tmp_path / "untrained.keras")
    np.savez(tmp_path / "data.npz", x=np.ones((32, 4), "float32"), y=np.ones((32, 1), "float32"))
    argv = ["lr-find", str(tmp_path / "untrained.keras"), str(tmp_path / "data.npz"), "--steps", "4"]
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err == ""


def test_lr_find_still_reports_other_optimizer_mismatches(monkeypatch):
    import warnings

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(momentum=0.9), "mse")
    mismatch = (
        "Skipping variable loading for optimizer 'sgd', because it has 4 variables whereas the saved "
        "optimizer has 3 variables."
    )

    def load_model(path, safe_mode):
        warnings.warn(mismatch, UserWarning, stacklevel=1)
        return model

    monkeypatch.setattr(keras.models, "load_model", load_model)
    # pytest.warns would also catch, and then re-raise, Keras's own deprecation warnings.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        assert cli._load_model("any.keras") is model
    assert [str(w.message) for w in caught] == [mismatch]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda m, d: [m + ".missing", d], "no such file"),
        (lambda m, d: [m, d, "--x-key", "inputs"], "has no array 'inputs'"),
        (lambda m, d: [m, d, "--steps", "1"], "`steps`"),
        (lambda m, d: [d, d], "cannot load"),
    ],
    ids=["missing-model", "bad-key", "bad-steps", "not-a-model"],
)
def test_lr_find_errors_are_one_line(saved_model_and_data, tmp_path, capsys, change, words):
    model_path, data_path = saved_model_and_data
    code = cli.main(["lr-find", *change(model_path, data_path), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert words in err
    assert "\n" not in err
