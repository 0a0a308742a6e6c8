"""OneCycle and CLR give the learning rate and momentum that PyTorch's own schedulers give, step by step.

The PyTorch schedulers run eagerly on a dummy optimizer whatever `KERAS_BACKEND` is; the values they set
are compared with `schedule_values`, which is what the callbacks install into the train step.
"""

import numpy as np
import pytest

import keras_one_cycle_clr as kclr

torch = pytest.importorskip("torch")

# float32 (this package) against float64 (PyTorch's Python floats).
RTOL = 1e-5
ATOL = 1e-7
MAX_MOMENTUM = 0.95
BASE_MOMENTUM = 0.85


def torch_trace(make_scheduler, total_steps):
    """`param_groups[0]`'s lr and momentum at step 0 and after each of `total_steps - 1` steps."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    lrs, momentums = [], []
    for step in range(total_steps):
        if step:
            optimizer.step()  # before `scheduler.step()`, or PyTorch warns about the order
            scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
        momentums.append(optimizer.param_groups[0]["momentum"])
    return np.array(lrs), np.array(momentums)


def assert_same_trace(ours, theirs):
    lrs, momentums = theirs
    assert ours["lr"].shape == lrs.shape
    np.testing.assert_allclose(ours["lr"], lrs, rtol=RTOL, atol=ATOL, err_msg="learning rate")
    np.testing.assert_allclose(ours["momentum"], momentums, rtol=RTOL, atol=ATOL, err_msg="momentum")


ONE_CYCLE_SHAPES = [(100, 0.3), (37, 0.25), (41, 0.45)]


@pytest.mark.parametrize("three_phase", [False, True], ids=["two-phase", "three-phase"])
@pytest.mark.parametrize("anneal", ["cos", "linear"], ids=["cos", "linear"])
@pytest.mark.parametrize(
    ("total_steps", "pct_start"), ONE_CYCLE_SHAPES, ids=[f"T{t}-pct{p}" for t, p in ONE_CYCLE_SHAPES]
)
def test_one_cycle_matches_one_cycle_lr(total_steps, pct_start, anneal, three_phase):
    max_lr, div_factor, final_div_factor = 0.1, 25.0, 1e4
    theirs = torch_trace(
        lambda optimizer: torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr,
            total_steps=total_steps,
            pct_start=pct_start,
            anneal_strategy=anneal,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            three_phase=three_phase,
            cycle_momentum=True,
            base_momentum=BASE_MOMENTUM,
            max_momentum=MAX_MOMENTUM,
        ),
        total_steps,
    )
    ours = kclr.OneCycle(
        lr_range=(max_lr / div_factor, max_lr),
        momentum_range=(MAX_MOMENTUM, BASE_MOMENTUM),
        phase_one_fraction=pct_start,
        final_lr=max_lr / div_factor / final_div_factor,
        anneal=anneal,
        three_phase=three_phase,
    ).schedule_values(total_steps)
    assert_same_trace(ours, theirs)


def test_one_cycle_matches_one_cycle_lr_on_a_cycle_shorter_than_its_warm_up():
    # pct_start * total_steps < 1: the first phase ends before step 0, and both start part-way down.
    total_steps, pct_start = 3, 0.3
    theirs = torch_trace(
        lambda optimizer: torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            0.1,
            total_steps=total_steps,
            pct_start=pct_start,
            base_momentum=BASE_MOMENTUM,
            max_momentum=MAX_MOMENTUM,
        ),
        total_steps,
    )
    ours = kclr.OneCycle(
        (0.1 / 25, 0.1), (MAX_MOMENTUM, BASE_MOMENTUM), pct_start, final_lr=0.1 / 25 / 1e4
    ).schedule_values(total_steps)
    assert_same_trace(ours, theirs)


CYCLIC_SHAPES = [(120, 3), (60, 1), (100, 3), (50, 4)]  # the last two: step_size_up is not whole


@pytest.mark.parametrize(
    ("mode", "gamma"),
    [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.99)],
    ids=["triangular", "triangular2", "exp_range"],
)
@pytest.mark.parametrize(
    ("total_steps", "cyc"),
    CYCLIC_SHAPES,
    ids=[f"T{t}-cyc{c}-up{t / (2 * c):g}" for t, c in CYCLIC_SHAPES],
)
def test_clr_matches_cyclic_lr(total_steps, cyc, mode, gamma):
    base_lr, max_lr = 0.001, 0.01
    step_size = total_steps / (2 * cyc)
    theirs = torch_trace(
        lambda optimizer: torch.optim.lr_scheduler.CyclicLR(
            optimizer,
            base_lr,
            max_lr,
            step_size_up=step_size,
            step_size_down=step_size,
            mode=mode,
            gamma=gamma,
            cycle_momentum=True,
            base_momentum=BASE_MOMENTUM,
            max_momentum=MAX_MOMENTUM,
        ),
        total_steps,
    )
    ours = kclr.CLR(
        cyc,
        lr_range=(base_lr, max_lr),
        momentum_range=(MAX_MOMENTUM, BASE_MOMENTUM),
        phase_one_fraction=0.5,
        mode=mode,
        gamma=gamma,
    ).schedule_values(total_steps)
    assert_same_trace(ours, theirs)
