#!/usr/bin/env bash
# The fresh6 tasks' real runs (issue 23): seeds 0 and 1 (outer) x the nine fresh6 tasks (inner), one
# process per task and seed, JAX, one thread (tasks.py's default), niced; every run's line lands in
# bench/results/tasks_fresh6_jax.jsonl as it ends, and --resume skips a (task, seed) already complete,
# so the script can be started again after a stop. Library code from this worktree's src/.
#   nohup setsid bash bench/run_fresh6.sh > /tmp/fresh6.log 2>&1 &
cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-/work/main/.venv/bin/python}
OUT=bench/results/tasks_fresh6_jax.jsonl
TASKS="circles_tiny_long_adamw hastie_long_sgd friedman1_wide_1m_adam digits_cnn_noise_sgd
shapes_cnn_noise_adam motif_attention_adam negation_bag_sgd noisy_binary_sgd adding_conv1d_adam"
for seed in ${SEEDS:-0 1}; do
    for task in $TASKS; do
        echo "== $(date '+%F %T') $task seed $seed"
        KERAS_BACKEND=jax PYTHONPATH="$PWD/src" nice -n 10 "$PYTHON" bench/tasks.py --tasks "$task" \
            --seeds 1 --first-seed "$seed" --out "$OUT" --resume \
            || echo "!! $task seed $seed failed (exit $?)"
    done
done
echo "== $(date '+%F %T') all done"
