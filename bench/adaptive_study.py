"""AdaptiveOneCycle against the library's range-test rule, seed by seed, on the task suite (issue 23).

Reads the suite's results (`tasks.py`: the grid, the constants and the `auto` runs of each task and
seed) and `--adaptive-only` runs (each file's under the file's name), and prints, for every task and every
seed both have, each rule's gap to the best grid one cycle **of that seed** in target units (0.5
points of accuracy, 5% of the MSE; + = worse), the best constant's beside it, then per split: the
mean gap, the mean capped at 4 units, how many tasks are within target (gap <= 1) and how many fall
below the best constant. Same-seed gaps, not `rule_fit.py --verdict`'s seed means: adaptive runs of
one seed against grids of five would mix seeds.

    .venv/bin/python bench/adaptive_study.py --suite bench/results/tasks_*jax.jsonl \\
        --adaptive bench/results/rules_adaptive_*_seed0_jax.jsonl --seeds 0
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
import rule_fit
import tasks

# Studies of other settings, not the suite's runs (give them as --adaptive files to compare them).
SKIP = ("rangetest_steps50", "before_sweepwatch", "budget")


def gap_units(value, best, regression):
    """`value`'s distance to `best` in target units; + = worse; a diverged run (None) is capped."""
    if value is None:
        return rule_fit.CAP
    if regression:
        return 100.0 * (value - best) / best / rule_fit.TARGET["mse"]
    return (best - value) / rule_fit.TARGET["accuracy"]


def gaps(records, seeds):
    """{(split, task, seed): {rule: gap}} for the seeds where the grid and a rule both ran."""
    by_seed = defaultdict(list)
    for r in records:
        if r.get("seed") in seeds:
            by_seed[(r["task"], r["seed"])].append(r)
    out = {}
    for (task, seed), runs in sorted(by_seed.items()):
        grid = [r for r in runs if r["kind"] == "one_cycle" and r["metric"] is not None]
        if not grid:
            continue
        regression = runs[0]["regression"]
        pick = min if regression else max
        best = pick(r["metric"] for r in grid)
        row = {}
        constants = [r["metric"] for r in runs if r["kind"] == "constant" and r["metric"] is not None]
        if constants:
            row["best constant"] = gap_units(pick(constants), best, regression)
        for r in runs:
            if r["kind"] == "auto" or r["kind"].startswith("rule:"):
                name = "library rule (auto)" if r["kind"] == "auto" else r["kind"][len("rule:") :]
                row[name] = gap_units(r["metric"], best, regression)
        out[(runs[0]["split"], task, seed)] = row
    return out


def rule_name(path):
    """The name a results file's runs are reported under."""
    name = os.path.basename(path).removesuffix(".jsonl").removesuffix("_jax").split("_seed")[0]
    return name.removeprefix("rules_").removeprefix("tasks_")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", nargs="+", required=True, help="tasks.py result files")
    parser.add_argument("--adaptive", nargs="+", required=True, help="--adaptive-only result files")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    args = parser.parse_args(argv)
    seeds = {int(s) for s in args.seeds.split(",")}
    suite = [p for p in args.suite if not any(skip in p for skip in SKIP)]
    # Each file's runs (a rule's, or a study's `auto` runs) under the file's name
    # (rules_adaptive_v2_seed0_jax.jsonl: adaptive_v2; tasks_budget_range_test_jax.jsonl:
    # budget_range_test): the same rule name in two files is two versions of the code.
    adaptive = [
        {**r, "kind": "rule:" + rule_name(path)}
        for path in args.adaptive
        for r in tasks.read_results(path)
        if r["kind"] == "auto" or r["kind"].startswith("rule:")
    ]
    table = gaps([*tasks.read_results(*suite), *adaptive], seeds)
    rules = sorted({name for row in table.values() for name in row if name != "best constant"})
    columns = [*rules, "best constant"]
    rows = [
        [task, split, str(seed), *(f"{row[c]:+.2f}" if c in row else "" for c in columns)]
        for (split, task, seed), row in table.items()
    ]
    print("## Gap to the seed's best grid one cycle (target units: 0.5 points or 5% of the MSE; + = worse)")
    print()
    print(tasks.table(["task", "split", "seed", *columns], rows))
    splits = sorted({split for split, _, _ in table}, key=lambda s: (s not in ("tune", "holdout"), s))
    summary = []
    for group in [*splits, "all"]:
        members = [row for (split, _, _), row in table.items() if group in (split, "all")]
        for rule in rules:
            values = [row[rule] for row in members if rule in row]
            below = sum(row[rule] > row["best constant"] + 1.0 for row in members if rule in row)
            if values:
                summary.append(
                    [
                        group,
                        rule,
                        str(len(values)),
                        f"{np.mean(values):+.2f}",
                        f"{np.mean(np.minimum(values, rule_fit.CAP)):+.2f}",
                        f"{sum(v <= 1.0 for v in values)}/{len(values)}",
                        str(below),
                    ]
                )
    print()
    print("## Summary per split")
    print()
    header = ["split", "rule", "task-seeds", "mean gap", f"capped at {rule_fit.CAP:g}", "within target",
              "over 1 unit below the best constant"]  # fmt: skip
    print(tasks.table(header, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
