#!/usr/bin/env bash
# The fresh5 tasks' real runs (issue 23): seeds 0, 1, 2 (outer) x the nine fresh5 tasks (inner), one
# process per task and seed, JAX, one thread (tasks.py's default), niced; every run's line lands in
# bench/results/tasks_fresh5_jax.jsonl as it ends, and --resume skips a (task, seed) already complete,
# so the script can be started again after a stop. Library code from this worktree's src/.
#   nohup setsid bash bench/run_fresh5.sh > /tmp/fresh5.log 2>&1 &
cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-/work/main/.venv/bin/python}
OUT=bench/results/tasks_fresh5_jax.jsonl
TASKS="quantiles_tiny_long_sgd friedman1_tiny_long_adam digits_wide_1m_sgd digits_cnn_aug_adam
shapes_flip_cnn_sgd digits_rows_attention_adamw negation_embedding_adam negation_attention_adamw
noisy_class3_adamw"
for seed in 0 1 2; do
    for task in $TASKS; do
        echo "== $(date '+%F %T') $task seed $seed"
        KERAS_BACKEND=jax PYTHONPATH="$PWD/src" nice -n 10 "$PYTHON" bench/tasks.py --tasks "$task" \
            --seeds 1 --first-seed "$seed" --out "$OUT" --resume \
            || echo "!! $task seed $seed failed (exit $?)"
    done
done
echo "== $(date '+%F %T') all done"
