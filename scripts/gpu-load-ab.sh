#!/usr/bin/env bash
# One GPU-machine call for issue 13 items 16-17: the load benchmark (gen, build cached+uncached,
# cold pairs, warm), then interleaved A/B cold pairs of the loader's read modes against a raw read.
# Here: bash scripts/gpu-bundle.sh --no-baseline (makes build/gpu-bundle.tar.xz). There (device
# tool, carry build/gpu-bundle.tar.xz): bash scripts/gpu-load-ab.sh  (about 7-8 minutes; the
# budgets below shorten it). Logs: /tmp/lb, copied to $OUT.
set -uo pipefail
H=$(cd "$(dirname "$0")" && pwd)
BUNDLE=${BUNDLE:-$H/../build/gpu-bundle.tar.xz}
OUTDIR=${OUT:-/tmp/out}
L=/tmp/lb
mkdir -p $L
t0=$(date +%s)
bash $H/gpu-load-bench.sh $BUNDLE /tmp/llama $L --steps gen,build,raw,slimrt,safetensors \
  --cold-reps ${COLD_REPS:-5} --warm-reps 3 --budget-s ${BUDGET_S:-380} --deadline-s ${DEADLINE_S:-450}
cp $L/load_bench.json $L/load_bench.md $L/load_bench.log $OUTDIR/ 2>/dev/null
tar -czf $OUTDIR/steps.tar.gz -C $L steps 2>/dev/null
# A/B: the read modes against the raw read, interleaved, caches dropped before each run.
B=/tmp/slimrt-bundle E=/tmp/llama/llama.engine
export LD_LIBRARY_PATH=$B/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
{
for rep in 1 2 3; do
  for m in raw auto parallel; do
    [ $(( $(date +%s) - t0 )) -gt ${AB_STOP_S:-500} ] && break 2
    sync; echo 3 > /proc/sys/vm/drop_caches
    if [ $m = raw ]; then
      python3 -c "
import time
b=bytearray(64<<20); v=memoryview(b); t=time.monotonic(); n=0
with open('$E','rb',buffering=0) as f:
    while True:
        k=f.readinto(v)
        if not k: break
        n+=k
s=time.monotonic()-t; print(f'ab rep $rep raw {s:.3f} s {n/s/1e9:.2f} GB/s')"
    else
      $B/slimrt-load $E --json --no-device-check --read-mode $m | python3 -c "
import json,sys; d=json.load(sys.stdin)
print(f\"ab rep $rep $m {d['load_seconds']:.3f} s {d['gbps']:.2f} GB/s streamed {d['slots_streamed']} parallel {d['slots_parallel']} rss {d['rss_growth_kib']//1024} MiB\")"
    fi
  done
done
} 2>&1 | tee $OUTDIR/ab.log
echo "total $(( $(date +%s) - t0 )) s"
