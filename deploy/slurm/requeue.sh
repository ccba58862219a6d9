#!/usr/bin/env bash
# Runs array tasks of a submitted run again (after `scancel JOB_TASK`, or a task that failed):
#
#   deploy/slurm/requeue.sh RUN_DIR TASK...
#
# Each task is requeued (`scontrol requeue`; its --resume run continues the shard from its last
# finished batch) and released at once (Slurm holds a requeued job back ~2 minutes). The merge
# job, which a cancelled or failed task left waiting forever (DependencyNeverSatisfied), is
# pointed at the array tasks again so that it runs once all have succeeded.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
run=$1
shift
# shellcheck source=/dev/null
source "$run/jobs.env"
for t in "$@"; do
  scontrol requeue "${ARRAY_JOB}_${t}"
  scontrol update jobid="${ARRAY_JOB}_${t}" StartTime=now
  echo "requeued ${ARRAY_JOB}_${t}"
done
deps=$(seq -s: -f "${ARRAY_JOB}_%g" 0 $((SHARDS - 1)))
if scontrol show job "$MERGE_JOB" >/dev/null 2>&1; then
  scontrol update jobid="$MERGE_JOB" dependency="afterok:$deps"
  echo "merge $MERGE_JOB waits for ${ARRAY_JOB}_[0-$((SHARDS - 1))] again"
else
  echo "the merge job $MERGE_JOB is gone: once the tasks finish, run deploy/slurm/merge.sbatch (sbatch deploy/slurm/merge.sbatch $run)"
fi
