"""OneCycle, CLR and LrRangeTest under data-parallel distribution: the same training as on one device.

Each setup runs `distributed_worker.py` in a fresh process (the devices must be configured before
TensorFlow or JAX starts), and its results are compared with the same scenarios run here on one
device, and with the NumPy simulation of the optimizer: a wrong learning rate or momentum at any step
moves the weights off both.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import distributed_worker as worker
import keras_one_cycle_clr as kclr
from simulate import adam, sgd

BACKEND = keras.backend.backend()
WORKER = Path(__file__).with_name("distributed_worker.py")
SRC = str(Path(kclr.__file__).resolve().parents[1])  # wherever this run imports the package from
# A hang's limit, not a speed check: a worker takes 20-60 s alone, several times that beside the
# pytest-xdist workers of a loaded 2-core machine (180 s was exceeded there).
TIMEOUT_S = 600
TRAJECTORIES = {"onecycle-sgd": sgd, "onecycle-adam": adam, "clr-sgd": sgd}
POLICY_OF = {"onecycle-sgd": "onecycle", "onecycle-adam": "onecycle", "clr-sgd": "clr"}

# One pytest-xdist worker runs this module (`--dist loadgroup`): its module fixtures start
# subprocess workers, which must not run once per xdist worker.
pytestmark = pytest.mark.xdist_group("distribution")

tensorflow_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="a tf.distribute strategy")
jax_only = pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution on JAX")


def worker_env(**extra):
    paths = [SRC, os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "KERAS_BACKEND": BACKEND,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "TF_CPP_MIN_LOG_LEVEL": "1",
        "CUDA_VISIBLE_DEVICES": "",  # the CPU devices these setups describe, also on a GPU machine
    }
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def launch(mode, env, log_dir, name):
    """Starts the worker, its output going to files: two workers must never block on a full pipe."""
    out, err = log_dir / f"{name}.out", log_dir / f"{name}.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:  # the child keeps its own copies
        process = subprocess.Popen(
            [sys.executable, str(WORKER), mode, "--no-jit" if BACKEND == "tensorflow" else "--jit"],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    return process, out, err


def finish(process, out, err, deadline):
    """Waits for the worker; returns its parsed result, or fails with the end of its log."""
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        pytest.fail(f"worker still running after {TIMEOUT_S} s; its stderr ends:\n{err.read_text()[-3000:]}")
    lines = [line for line in out.read_text().splitlines() if line.startswith(worker.RESULT_PREFIX)]
    if process.returncode != 0 or not lines:
        pytest.fail(f"worker exited with {process.returncode}; its stderr ends:\n{err.read_text()[-3000:]}")
    return json.loads(lines[-1][len(worker.RESULT_PREFIX) :])


def run_workers(mode, envs, log_dir):
    """Runs one worker per environment at once; kills every one still running if any fails."""
    deadline = time.monotonic() + TIMEOUT_S
    launched = [launch(mode, env, log_dir, f"{mode}-{i}") for i, env in enumerate(envs)]
    try:
        return [finish(*files, deadline) for files in launched]
    finally:
        for process, _, _ in launched:
            if process.poll() is None:
                process.kill()
                process.wait()


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:  # all bound at once, so the ports differ
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="module")
def reference():
    """The scenarios on this process's one device, compiled as the distributed runs are."""
    return worker.run_scenarios(jit_compile=BACKEND != "tensorflow")


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    env = worker_env()
    return run_workers("mirrored", [env], tmp_path_factory.mktemp("mirrored"))[0]


def assert_same_training(result, reference, devices):
    """Every scenario of a distributed run trained as the one-device reference did."""
    assert result["replicas"] == 2
    runs, expected = result["scenarios"], reference
    for name, simulate in TRAJECTORIES.items():
        run = runs[name]
        assert run["devices"] == devices, name  # the model's variables really were replicated
        assert run["steps"] == list(range(worker.TOTAL)), name
        np.testing.assert_allclose(run["weights"], expected[name]["weights"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(run["learning_rate"], expected[name]["learning_rate"], rtol=1e-6)
        np.testing.assert_allclose(run["momentum"], expected[name]["momentum"], rtol=1e-6)
        # Step by step, the weight is what the schedules' learning rate and momentum produce...
        values = worker.policies()[POLICY_OF[name]]().schedule_values(worker.TOTAL)
        simulated = simulate(1.0, values["lr"], values["momentum"])
        np.testing.assert_allclose(run["weights"], simulated, rtol=2e-4, atol=1e-6, err_msg=name)
        # ...and not what the optimizer's constant momentum would have produced.
        constant = simulate(1.0, values["lr"], np.full(worker.TOTAL, 0.9))
        assert not np.allclose(run["weights"], constant, rtol=1e-3), name

    mlp = runs["mlp-onecycle"]
    for got, want in zip(mlp["weights"], expected["mlp-onecycle"]["weights"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mlp["loss"], expected["mlp-onecycle"]["loss"], rtol=1e-5)

    test = runs["range-test"]
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(test[key], expected["range-test"][key], rtol=1e-5, equal_nan=True)
    assert np.isfinite(test["loss"]).sum() >= 8  # the sweeps ran, whatever they stopped at
    assert test["restore_shapes_equal"]
    assert test["restore_max_abs_diff"] == 0.0  # weights and optimizer variables bit-identical
    assert test["learning_rate_after"] == pytest.approx(0.05, rel=1e-7)

    fresh = runs["lr-find-fresh"]
    np.testing.assert_allclose(fresh["loss"], expected["lr-find-fresh"]["loss"], rtol=1e-5, equal_nan=True)
    assert fresh["weights_max_abs_diff"] == 0.0
    assert fresh["iterations"] == 0
    assert fresh["optimizer_devices"] == devices  # built where the strategy put the model


def assert_hyper_parameters_as_configured(result):
    """After fit, `momentum` / `beta_1` are the optimizer's floats again, `weight_decay` its None."""
    for name in TRAJECTORIES:
        assert result["scenarios"][name]["momentum_attribute_after"] == "float", name
    assert result["scenarios"]["range-test"]["weight_decay_after"] == "NoneType"


@tensorflow_only
def test_mirrored_strategy_on_two_logical_cpus_trains_as_one_device(mirrored, reference):
    # jit_compile=False: with XLA, MirroredStrategy over two logical CPUs fails even without any
    # callback ("Trying to access resource ... located in device CPU:1 from device CPU:0").
    assert mirrored["jit_compile"] is False
    assert_same_training(mirrored, reference, devices=2)


@tensorflow_only
def test_mirrored_strategy_leaves_the_optimizer_hyper_parameters_as_configured(mirrored):
    # MirroredStrategy runs the replicas' `apply` on overlapping threads: restoring what each found
    # on the optimizer left another replica's _InStepValue behind, so saving the model failed
    # ("Cannot serialize object ... _InStepValue") and so did the next fit ("... is out of scope").
    assert_hyper_parameters_as_configured(mirrored)


@tensorflow_only
def test_multi_worker_mirrored_strategy_with_two_workers_trains_as_one_device(tmp_path, reference):
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    envs = [
        worker_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        for i in range(2)
    ]
    chief, other = run_workers("multiworker", envs, tmp_path)

    # Without the worker's two patches, Keras 3.15 cannot fit under this strategy at all. When this
    # fails, Keras has fixed it: drop `patch_keras_for_multiworker`.
    assert chief["plain_fit_error_without_patch"] is not None
    assert_same_training(chief, reference, devices=1)  # one replica per worker
    for name in TRAJECTORIES:
        assert chief["scenarios"][name]["weights"] == other["scenarios"][name]["weights"], name
    assert_hyper_parameters_as_configured(chief)
    assert chief["scenarios"]["range-test"]["loss"] == other["scenarios"]["range-test"]["loss"]


@jax_only
def test_data_parallel_on_two_host_devices_trains_as_one_device(tmp_path, reference):
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2".strip()
    env = worker_env(XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    (result,) = run_workers("dataparallel", [env], tmp_path)
    assert_same_training(result, reference, devices=2)
    assert_hyper_parameters_as_configured(result)
