#!/usr/bin/env bash
# Runs on the GPU machine in one call: the GPU test suite and a smoke run, then a short table.
#   bash scripts/gpu-check.sh [BUNDLE_DIR] [LOG_DIR]
# BUNDLE_DIR comes from scripts/gpu-bundle.sh (default build/gpu-bundle); logs go to LOG_DIR
# (default $OUT or /tmp/slimrt-gpu-logs).
set -uo pipefail
bundle=${1:-build/gpu-bundle}
logs=${2:-${OUT:-/tmp/slimrt-gpu-logs}}
mkdir -p "$logs"
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

declare -a rows
row() { rows+=("$(printf '%-28s %-6s %s' "$1" "$2" "$3")"); }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$logs/gpu.txt" 2>&1
row "gpu" "info" "$(head -1 "$logs/gpu.txt")"

"$bundle/slimrt_gpu_tests" >"$logs/gpu_tests.log" 2>&1
rc=$?
summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$logs/gpu_tests.log" | tr '\n' ' ')
if [[ $rc -eq 0 ]] && grep -q 'SKIPPED' "$logs/gpu_tests.log"; then status=SKIP; elif [[ $rc -eq 0 ]]; then status=PASS; else status=FAIL; fi
row "gpu tests" "$status" "$summary"

"$bundle/slimrt_runtime_only" >"$logs/runtime_only.log" 2>&1
row "runtime-only binary" "$([[ $? -eq 0 ]] && echo PASS || echo FAIL)" "$(head -1 "$logs/runtime_only.log")"

"$bundle/slimrt" run "$bundle/tinynet.onnx" --shapes image:8x3x64x64 --iterations 10 --warmup 2 >"$logs/cli_run.log" 2>&1
row "cli run (cpu backend)" "$([[ $? -eq 0 ]] && echo PASS || echo FAIL)" "$(grep '^timing' "$logs/cli_run.log")"

"$bundle/slimrt" build "$bundle/tinynet.onnx" -o "$logs/tinynet.engine" --min image:1x3x64x64 \
  --opt image:4x3x64x64 --max image:8x3x64x64 >"$logs/build.log" 2>&1
row "build tinynet engine" "$([[ $? -eq 0 ]] && echo PASS || echo FAIL)" "$(grep -E '^(weights|engine)' "$logs/build.log" | tr -s ' ' | tr '\n' ' ')"

"$bundle/slimrt-load" "$logs/tinynet.engine" >"$logs/load.log" 2>&1
rc=$?
row "slimrt-load (cuda, byte check)" "$([[ $rc -eq 0 ]] && grep -q 'check against the file: ok' "$logs/load.log" && echo PASS || echo FAIL)" \
  "$(grep -E 'loaded|host memory' "$logs/load.log" | tr -s ' ' | tr '\n' ' ')"

printf '\n%-28s %-6s %s\n' "check" "result" "detail"
printf '%s\n' "${rows[@]}"
grep -q FAIL <<<"${rows[*]}" && exit 1 || exit 0
