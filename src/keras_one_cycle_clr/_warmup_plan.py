"""An adaptive one cycle's schedules, as pure functions of its settings: planned, and as turned.

`AdaptiveOneCycle` (`keras_one_cycle_clr.adaptive`) wires them into `fit`; `WarmupWatch` decides
where the warm-up turns. The warm-up rises geometrically from `lr_range[0]` to the ceiling
`lr_range[1]` over `warmup_steps` steps, momentum falling linearly; after the turn the learning rate
jumps to the chosen peak and anneals to `final_lr` (cosine), momentum rising back.
"""

from __future__ import annotations

import dataclasses

from keras_one_cycle_clr import schedules


@dataclasses.dataclass(frozen=True)
class WarmupPlan:
    """A cycle of `total_steps` steps whose warm-up may take `warmup_fraction` of it.

    Example:

    >>> plan = WarmupPlan((1e-4, 1.0), (0.95, 0.85), 0.3, 0.0, total_steps=100)
    >>> plan.warmup_steps, round(plan.learning_rate_at(29), 6), round(plan.momentum_at(29), 6)
    (30, 1.0, 0.85)
    >>> turned = plan.turned(turn_step=10, peak=0.01)
    >>> [round(float(v), 5) for v in schedules.evaluate(turned["lr"], 13)[9:]]
    [0.00174, 0.0024, 0.01, 0.01]
    """

    lr_range: tuple  # (start, ceiling)
    momentum_range: tuple | None  # (start, low), or None: momentum left alone
    warmup_fraction: float
    final_lr: float
    total_steps: int

    @property
    def warmup_steps(self):
        """The longest the warm-up may take, in steps (at least 2)."""
        return max(2, round(self.warmup_fraction * self.total_steps))

    def learning_rate_at(self, step):
        """The warm-up's learning rate at `step` (a float step is between two): geometric."""
        low, high = self.lr_range
        end = self.warmup_steps - 1
        return low * (high / low) ** (min(step, end) / end)

    def momentum_at(self, step):
        """The warm-up's momentum at `step`: linear from `momentum_range[0]` to `[1]`."""
        start, low = self.momentum_range
        end = self.warmup_steps - 1
        return start + (low - start) * min(step, end) / end

    def planned(self):
        """`{"lr": Piecewise, "momentum": Piecewise or None}` of a warm-up that never turns: to the
        ceiling, then annealing from it."""
        end, last = float(self.warmup_steps - 1), float(self.total_steps - 1)
        low, high = self.lr_range
        lr = schedules.Piecewise((0.0, end, last), (low, high, self.final_lr), ("exp", "cos"))
        momentum = None
        if self.momentum_range is not None:
            start, trough = self.momentum_range
            momentum = schedules.Piecewise((0.0, end, last), (start, trough, start), ("linear", "cos"))
        return {"lr": lr, "momentum": momentum}

    def turned(self, turn_step, peak):
        """The schedules as they run after turning at `turn_step`: the warm-up up to it, `peak` at
        the next step, cosine annealing to the end."""
        knots = (0.0, float(turn_step), float(turn_step + 1), float(max(self.total_steps - 1, turn_step + 1)))
        lr = schedules.Piecewise(
            knots,
            (self.lr_range[0], self.learning_rate_at(turn_step), peak, self.final_lr),
            ("exp", "linear", "cos"),
        )
        momentum = None
        if self.momentum_range is not None:
            start, trough = self.momentum_range
            momentum = schedules.Piecewise(
                knots, (start, self.momentum_at(turn_step), trough, start), ("linear", "linear", "cos")
            )
        return {"lr": lr, "momentum": momentum}
