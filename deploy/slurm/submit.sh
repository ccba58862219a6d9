#!/usr/bin/env bash
# Submits a sharded `lrp eval` as a Slurm job array and its merge as a job that waits for it.
#
#   deploy/slurm/submit.sh RUN_DIR SHARDS [SBATCH_OPTION...] -- EVAL_OPTION...
#
#   deploy/slurm/submit.sh runs/vgg16-voc 8 --gres=gpu:1 --time=04:00:00 -- \
#       --model vgg16.onnx --dataset voc:/data/VOCdevkit/VOC2007 --split trainval+test \
#       --composite cmp-alpha2-flat,lrp-z --batch 32
#
# Task i of the array runs `lrp eval EVAL_OPTION... --shard auto --resume --out RUN_DIR/shard-i`
# (eval-array.sbatch): --shard auto reads the shard off SLURM_ARRAY_TASK_ID, and --resume makes
# a task that runs again (requeued, preempted, node failure) finish what its earlier attempt
# began. The merge job (merge.sbatch) runs once every task has succeeded and writes
# RUN_DIR/merged. SBATCH_OPTIONs go to both jobs (partition, account, time); GPU requests to the
# array only: --gres, --gpus*, --cpus-per-task and --mem are not passed to the merge, which needs
# one CPU. Give SBATCH_OPTIONs as --name=value.
#
# RUN_DIR/jobs.env records the job ids for requeue.sh; RUN_DIR/logs holds each task's output
# (appended across attempts). LRP (default `lrp`) is the command that runs the tool, e.g.
# LRP="node /opt/webgpu-lrp/bin/lrp.js".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 3 ]; then
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
run=$1 shards=$2
shift 2
case $shards in ''|*[!0-9]*|0) echo "submit.sh: SHARDS must be a whole number >= 1, got '$shards'" >&2; exit 2 ;; esac
sbatch_opts=() merge_opts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  sbatch_opts+=("$1")
  case $1 in --gres=*|--gpus*|--gpu-*|--cpus-per-*|--mem=*|--mem-per-*) ;; *) merge_opts+=("$1") ;; esac
  shift
done
[ "${1:-}" = "--" ] || { echo "submit.sh: put -- before the lrp eval options" >&2; exit 2; }
shift
[ $# -gt 0 ] || { echo "submit.sh: no lrp eval options after --" >&2; exit 2; }
for a in "$@"; do
  case $a in --out|--out=*|--shard|--shard=*|--resume) echo "submit.sh: $a is set per task; leave it out" >&2; exit 2 ;; esac
done

mkdir -p "$run/logs"
run=$(cd "$run" && pwd)
# The eval options, one per line (NUL-safe enough for paths without newlines), read back by the tasks.
printf '%s\n' "$@" > "$run/eval-args"

array=$(sbatch --parsable --array="0-$((shards - 1))" --job-name=lrp-eval --requeue --open-mode=append \
  --output="$run/logs/eval-%A_%a.out" "${sbatch_opts[@]}" "$here/eval-array.sbatch" "$run")
array=${array%%;*}
deps=$(seq -s: -f "${array}_%g" 0 $((shards - 1)))
merge=$(sbatch --parsable --job-name=lrp-merge --dependency="afterok:$deps" --kill-on-invalid-dep=no \
  --output="$run/logs/merge-%j.out" --open-mode=append "${merge_opts[@]}" "$here/merge.sbatch" "$run")
merge=${merge%%;*}
printf 'ARRAY_JOB=%s\nMERGE_JOB=%s\nSHARDS=%s\n' "$array" "$merge" "$shards" > "$run/jobs.env"
echo "submitted: eval array $array (tasks 0-$((shards - 1))), merge $merge after it; run folder $run"
