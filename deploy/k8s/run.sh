#!/usr/bin/env bash
# Runs the sharded eval of eval-indexed-job.yaml, then, once every index has succeeded, the merge
# of merge-job.yaml; exits non-zero naming the Job that failed. Needs kubectl for the cluster.
#
#   deploy/k8s/run.sh [NAMESPACE]     # TIMEOUT (default 24h) bounds each wait
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=(); [ $# -ge 1 ] && ns=(--namespace "$1")
timeout=${TIMEOUT:-24h}
kubectl "${ns[@]}" apply -f "$here/eval-indexed-job.yaml"
# Complete (every index succeeded) or Failed (an index out of retries): whichever comes first.
kubectl "${ns[@]}" wait --for=condition=complete job/lrp-eval --timeout="$timeout" &
ok=$!
kubectl "${ns[@]}" wait --for=condition=failed job/lrp-eval --timeout="$timeout" &
bad=$!
while kill -0 "$ok" 2>/dev/null && kill -0 "$bad" 2>/dev/null; do sleep 5; done
if ! kill -0 "$ok" 2>/dev/null && wait "$ok"; then
  kill "$bad" 2>/dev/null || true
else
  kill "$ok" 2>/dev/null || true
  echo "run.sh: job/lrp-eval failed: kubectl logs -l job-name=lrp-eval shows why; fix it and delete the Job, then run again (the shards resume)" >&2
  exit 1
fi
kubectl "${ns[@]}" delete job/lrp-merge --ignore-not-found
kubectl "${ns[@]}" apply -f "$here/merge-job.yaml"
kubectl "${ns[@]}" wait --for=condition=complete job/lrp-merge --timeout="$timeout" || {
  echo "run.sh: job/lrp-merge did not complete: kubectl logs job/lrp-merge says why" >&2
  exit 1
}
kubectl "${ns[@]}" logs job/lrp-merge
