#!/usr/bin/env bash
# The real runs of one split of bench/tasks.py (fresh5, fresh6, ...): the seeds in SEEDS (outer, default
# "0 1 2") x the split's tasks (inner), one process per task and seed, JAX, one thread (tasks.py's
# default), niced. Every run's line lands in bench/results/tasks_<split>_jax.jsonl as it ends, and
# --resume skips a (task, seed) already complete, so the script can be started again after a stop.
#   nohup setsid bash bench/run_split.sh fresh6 > /tmp/fresh6.log 2>&1 &
cd "$(dirname "$0")/.." || exit 1
SPLIT=${1:?usage: bench/run_split.sh SPLIT}
PYTHON=${PYTHON:-/work/main/.venv/bin/python}
OUT=bench/results/tasks_${SPLIT}_jax.jsonl
TASKS=$(PYTHONPATH="$PWD/src" "$PYTHON" -c "
import sys; sys.path.insert(0, 'bench'); import tasks
print(' '.join(t.name for t in tasks.TASKS if t.split == '$SPLIT'))" 2>/dev/null | tail -1)
[ -n "$TASKS" ] || { echo "no task has split $SPLIT" >&2; exit 1; }
for seed in ${SEEDS:-0 1 2}; do
    for task in $TASKS; do
        echo "== $(date '+%F %T') $task seed $seed"
        KERAS_BACKEND=jax PYTHONPATH="$PWD/src" nice -n 10 "$PYTHON" bench/tasks.py --tasks "$task" \
            --seeds 1 --first-seed "$seed" --out "$OUT" --resume \
            || echo "!! $task seed $seed failed (exit $?)"
    done
done
echo "== $(date '+%F %T') all done"
