#!/usr/bin/env bash
# The LLaMA-7B-shaped load benchmark of issue 3, in one GPU-machine call:
#
#   bash scripts/gpu-load-bench.sh build/gpu-bundle /tmp/llama $OUT [load_bench.py options...]
#
# BUNDLE is what scripts/gpu-bundle.sh gathers (slimrt, slimrt-load, lib/*.so). WORK receives the
# ~13.5 GB model (ONNX + external data), its safetensors twin and the engine (about 41 GB in all;
# the model is reused when WORK already has it). LOGS receives load_bench.json, load_bench.md,
# load_bench.log and one log per step. Extra options go to scripts/load_bench.py, e.g.
# `--warm-reps 1`, `--steps build,raw,slimrt,safetensors`, `--load-args '--threads 8'`,
# `--build-cache cached,uncached` (the default: the build's memory with the model in the page
# cache and not).
# Needs root for the cold runs (echo 3 > /proc/sys/vm/drop_caches); python3 with numpy, onnx,
# torch and safetensors (PYTHON=... to pick another one).
set -uo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 BUNDLE_DIR WORK_DIR LOG_DIR [load_bench.py options...]" >&2
  exit 2
fi
bundle=$1 work=$2 logs=$3
shift 3
# A bundle archive (build/gpu-bundle.tar.xz, what the device tool carries) is unpacked first.
if [[ "$bundle" == *.tar.xz ]]; then
  dir=/tmp/slimrt-bundle
  rm -rf "$dir" && mkdir -p "$dir" && tar -xJf "$bundle" -C "$dir" && bundle=$dir
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$logs" "$work"
export PYTHONUNBUFFERED=1
cudnn_lib=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$(cd "$bundle" && pwd)/lib${cudnn_lib:+:$cudnn_lib}:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
py=${PYTHON:-python3}
{
  echo "== gpu-load-bench $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || true
  df -h "$work" | tail -1
  # The disk under WORK: what the cold figures depend on (readahead, request size, queue).
  dev=$(df --output=source "$work" | tail -1)
  blk=$(lsblk -no pkname "$dev" 2>/dev/null | head -1)
  blk=${blk:-$(basename "$dev")}
  for q in read_ahead_kb max_sectors_kb nr_requests rotational scheduler; do
    [ -r "/sys/block/$blk/queue/$q" ] && echo "disk $blk $q: $(cat "/sys/block/$blk/queue/$q")"
  done
  uname -r
  free -g | head -2
  for f in slimrt slimrt-load; do [ -x "$bundle/$f" ] || echo "WARNING: $bundle/$f missing"; done
} 2>&1 | tee "$logs/load_bench.log"
"$py" "$here/load_bench.py" --bundle "$bundle" --work "$work" --logs "$logs" --python "$py" "$@" \
  2>&1 | tee -a "$logs/load_bench.log"
rc=${PIPESTATUS[0]}
echo "== load_bench.py exit $rc; results in $logs/load_bench.md" | tee -a "$logs/load_bench.log"
exit "$rc"
