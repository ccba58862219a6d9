#!/usr/bin/env bash
# The checks of a lent GPU machine (an H100 or H200), in one go, under 8 minutes: what the adapter
# offers (with Dawn's allow_unsafe_apis toggle), the forward and relevance benches and an eval of
# the paper's analyzers on VGG-16 at batch 8 and 32, and zennit on CUDA beside webgpu-lrp on the
# same GPU. Every step has its own time limit and writes its log under OUT; a failed step is
# reported and the next one runs.
#
#   bash bench/device.sh [OUT]          (OUT defaults to $OUT, else ./device-out)
#
# Needs node with this repository's node_modules (the `webgpu` package) and a Vulkan driver for
# the GPU; for the zennit step, python3 with torch and torchvision and zennit's source in
# ZENNIT (default ../shared/peers/zennit-0.5.1; carry it into an ignored folder of the checkout on
# a machine without ../shared, e.g. ZENNIT=.peers/zennit-0.5.1). STEPS picks steps by name
# (default: all, in this order): probe forward relevance winograd tiles eval zennit. `auto` runs
# direct convolutions on GPUs, so the winograd step times both paths side by side (one model per
# mode in one process) for the forward pass and every relevance pass.
# Dry run on any machine (lavapipe): QUICK=1 shrinks every step to batch 1 and tiny sizes, zennit
# on the CPU.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-device-out}}"
mkdir -p "$out"
steps="${STEPS:-probe forward relevance winograd tiles eval zennit}"
zennit="${ZENNIT:-../shared/peers/zennit-0.5.1}"
dawn=(--dawn disable-dawn-features=timestamp_quantization)
if [ "${QUICK:-0}" = 1 ]; then
  batches=1; evalImages=2; evalBatch=1; repeat=1; warm=0; tileLayers=features.24; inner=1; zdevice=cpu
else
  batches=8,32; evalImages=64; evalBatch=16; repeat=5; warm=3000; tileLayers=features.2,features.10,features.24; inner=10; zdevice=cuda
fi
# The paper's nine analyzers (the demo's list, src/node/demo/run.ts, PatternAttribution's patterns
# learned first over the bench's images), one forward pass per image.
analyzers=paper
# The dry run keeps two of them (one learns patterns): nine take minutes on lavapipe.
[ "${QUICK:-0}" = 1 ] && analyzers=cmp-alpha2-flat,pattern-attribution

failed=()
step() {
  local name=$1 limit=$2; shift 2
  # The limits fit a lent GPU's budget; the dry run on lavapipe needs several times more.
  [ "${QUICK:-0}" = 1 ] && limit=$((limit * 5))
  case " $steps " in *" $name "*) ;; *) return ;; esac
  echo "=== $name (limit ${limit}s): $*" | tee -a "$out/summary.txt"
  local t0=$SECONDS
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "=== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
  tail -n 40 "$out/$name.log"
  [ $rc -eq 0 ] || failed+=("$name")
}

{ date; uname -a; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null; node --version; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

step probe 60 npx tsx bench/adapter-probe.ts --json "$out/probe.json"
step forward 60 npx tsx bench/forward.ts --batch "$batches" --repeat "$repeat" --warmup-ms "$warm" "${dawn[@]}"
step relevance 150 npx tsx bench/relevance.ts --batch "$batches" --composite cmp-alpha2-flat,lrp-z --repeat "$repeat" --warmup-ms "$warm" --layers "${dawn[@]}"
step winograd 120 npx tsx bench/relevance.ts --batch "${batches%%,*}" --composite cmp-alpha2-flat,lrp-z --conv direct,winograd --repeat "$repeat" --warmup-ms "$warm" --layers "${dawn[@]}"
step tiles 90 npx tsx bench/conv-tiles.ts --kernel stab,transpose --layers "$tileLayers" --batch "${batches%%,*}" --repeat 3 --inner "$inner" --json "$out/tiles.jsonl" "${dawn[@]}"
step eval 90 npx tsx bench/eval.ts --images "$evalImages" --batch "$evalBatch" --composite "$analyzers"
if [ -d "$zennit" ]; then
  step zennit 120 npx tsx bench/peers/compare.ts --batch "$batches" --composite cmp-alpha2-flat,lrp-z --device "$zdevice" --repeat "$repeat" --zennit "$zennit" --dir /tmp/lrp-peers
else
  echo "=== zennit: skipped, no zennit source at $zennit (set ZENNIT)" | tee -a "$out/summary.txt"
fi

echo "=== done; failed: ${failed[*]:-none}" | tee -a "$out/summary.txt"
[ ${#failed[@]} -eq 0 ]
