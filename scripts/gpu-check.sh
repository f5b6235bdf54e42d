#!/usr/bin/env bash
# Runs on the GPU machine: the GPU test suite, the ONNX conformance cases on CUDA, the exported
# architectures as fp32/fp16 engines on CUDA, compute-sanitizer on the op tests and smoke runs,
# then prints a short table.
#   bash scripts/gpu-check.sh [BUNDLE_DIR] [LOG_DIR] [--only tests,conformance,conformance-engine,models,sanitize,smoke]
#                             [--filter GTEST_FILTER] [--sanitize-filter GTEST_FILTER] [--models a,b]
# BUNDLE_DIR comes from scripts/gpu-bundle.sh (default build/gpu-bundle.tar.xz, unpacked to /tmp);
# logs go to LOG_DIR
# (default $OUT or /tmp/slimrt-gpu-logs). Each section fits in one device call (< 10 min).
set -uo pipefail
bundle=build/gpu-bundle.tar.xz
logs=${OUT:-/tmp/slimrt-gpu-logs}
only=tests,conformance,conformance-engine,models,sanitize,smoke
filter='*'
sfilter='CudaElementwise*:CudaReduction*:CudaTensor*:CudaIndex*:CudaLinalg*:CudaNn*:CudaFusedPattern*:CudaLayout*:CudaFusedElementwise*:CudaInputConvert*:CudaHostIo*:CudaPipeline*'
models=resnet50,mobilenet_v2,vit_b_16,bert_base,llama_tiny,lraspp_mobilenet_v3_large
positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --sanitize-filter) sfilter=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
[[ ${#positional[@]} -ge 1 ]] && bundle=${positional[0]}
[[ ${#positional[@]} -ge 2 ]] && logs=${positional[1]}
# A bundle archive (build/gpu-bundle.tar.xz, what the device tool carries) is unpacked first.
if [[ "$bundle" == *.tar.xz ]]; then
  dir=/tmp/slimrt-bundle
  rm -rf "$dir" && mkdir -p "$dir" && tar -xJf "$bundle" -C "$dir" && bundle=$dir
fi
mkdir -p "$logs"
want() { [[ ",$only," == *",$1,"* ]]; }

# cuDNN 9.19 (matching the headers slimrt was built with) lives in the Python venv there.
cudnn_lib=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$bundle/lib${cudnn_lib:+:$cudnn_lib}:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

declare -a rows
row() { rows+=("$(printf '%-30s %-6s %s' "$1" "$2" "$3")"); }
passfail() { [[ $1 -eq 0 ]] && echo PASS || echo FAIL; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$logs/gpu.txt" 2>&1
row "gpu" "info" "$(head -1 "$logs/gpu.txt"); cuDNN from ${cudnn_lib:-system}"

if want tests; then
  "$bundle/slimrt_gpu_tests" --gtest_filter="$filter" >"$logs/gpu_tests.log" 2>&1
  rc=$?
  summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$logs/gpu_tests.log" | tr '\n' ' ')
  row "gpu tests" "$(passfail $rc)" "$summary"
  grep -E '^\[  FAILED  \] [A-Za-z]' "$logs/gpu_tests.log" | sort -u | head -40 >"$logs/gpu_tests_failed.txt"
  grep -E 'device free after' "$logs/gpu_tests.log" >"$logs/vram.txt"
  [[ -s "$logs/vram.txt" ]] && row "vram over 10k enqueues" "info" "$(head -1 "$logs/vram.txt")"
fi

if want conformance; then
  data=/tmp/slimrt-onnx-testdata
  rm -rf "$data" && mkdir -p "$data" && tar -xzf "$bundle/onnx-testdata.tar.gz" -C "$data"
  "$bundle/slimrt_conformance" --data "$data/data" --skip-list "$bundle/skip_list.txt" --backend cuda --jobs 8 \
    --baseline "$bundle/conformance_cpu.json" --json-out "$logs/conformance_cuda.json" --max-listed 60 \
    >"$logs/conformance_cuda.log" 2>&1
  rc=$?
  row "conformance on cuda" "$(passfail $rc)" \
    "$(grep -E '^(conformance|baseline)' "$logs/conformance_cuda.log" | tr '\n' ' ')"
fi

if want conformance-engine; then
  # The same cases built into fp32 engines, loaded with Runtime and run through ExecutionContext.
  data=/tmp/slimrt-onnx-testdata
  [[ -d "$data/data" ]] || { mkdir -p "$data" && tar -xzf "$bundle/onnx-testdata.tar.gz" -C "$data"; }
  "$bundle/slimrt_conformance" --data "$data/data" --skip-list "$bundle/skip_list.txt" --backend cuda --engine --jobs 8 \
    --baseline "$bundle/conformance_engine_cpu.json" --json-out "$logs/conformance_engine_cuda.json" \
    --max-listed 60 >"$logs/conformance_engine_cuda.log" 2>&1
  rc=$?
  row "conformance, engines on cuda" "$(passfail $rc)" \
    "$(grep -E '^(conformance|baseline)' "$logs/conformance_engine_cuda.log" | tr '\n' ' ')"
fi

if want models; then
  cache=/tmp/slimrt-models
  python3 scripts/export_models.py "$cache" --models "$models" >"$logs/export.log" 2>&1
  rc=$?
  row "export models (torch there)" "$(passfail $rc)" "$(grep -c exported "$logs/export.log") exported: $models"
  "$bundle/slimrt_gpu_model_check" "$cache" --models "$models" --json-out "$logs/models.json" >"$logs/models.log" 2>&1
  rc=$?
  row "models fp32/fp16 on cuda" "$(passfail $rc)" "$(tail -1 "$logs/models.log")"
fi

if want sanitize; then
  sanitizer=/usr/local/cuda/bin/compute-sanitizer
  for tool in memcheck racecheck; do
    timeout 280 "$sanitizer" --tool "$tool" --error-exitcode 9 --target-processes all \
      "$bundle/slimrt_gpu_tests" --gtest_filter="$sfilter" >"$logs/sanitize_$tool.log" 2>&1
    rc=$?
    row "compute-sanitizer $tool" "$([[ $rc -eq 0 ]] && echo PASS || { [[ $rc -eq 124 ]] && echo TIME || echo FAIL; })" \
      "$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED)' "$logs/sanitize_$tool.log" | tr '\n' ' ' | cut -c1-200)"
  done
fi

if want smoke; then
  "$bundle/slimrt_runtime_only" >"$logs/runtime_only.log" 2>&1
  row "runtime-only binary" "$(passfail $?)" "$(head -1 "$logs/runtime_only.log")"

  "$bundle/slimrt" build "$bundle/tinynet.onnx" -o "$logs/tinynet.engine" --min image:1x3x64x64 \
    --opt image:4x3x64x64 --max image:8x3x64x64 >"$logs/build.log" 2>&1
  row "build tinynet engine" "$(passfail $?)" "$(grep -E '^(weights|engine)' "$logs/build.log" | tr -s ' ' | tr '\n' ' ')"

  "$bundle/slimrt" run "$logs/tinynet.engine" --shapes image:8x3x64x64 --iterations 10 --warmup 2 >"$logs/cli_run.log" 2>&1
  row "cli run engine (default: gpu)" "$(passfail $?)" "$(grep -E '^(backend|timing)' "$logs/cli_run.log" | tr '\n' ' ')"

  "$bundle/slimrt" bench "$logs/tinynet.engine" --batch 1 --batch 8 --iterations 100 >"$logs/bench.log" 2>&1
  row "cli bench tinynet" "$(passfail $?)" "$(tail -2 "$logs/bench.log" | tr -s ' ' | tr '\n' ';')"

  "$bundle/slimrt-load" "$logs/tinynet.engine" >"$logs/load.log" 2>&1
  rc=$?
  row "slimrt-load (cuda, byte check)" "$([[ $rc -eq 0 ]] && grep -q 'check against the file: ok' "$logs/load.log" && echo PASS || echo FAIL)" \
    "$(grep -E 'loaded|host memory' "$logs/load.log" | tr -s ' ' | tr '\n' ' ')"
fi

printf '\n%-30s %-6s %s\n' "check" "result" "detail"
printf '%s\n' "${rows[@]}"
[[ -s "$logs/gpu_tests_failed.txt" ]] && { echo; echo "failed gpu tests:"; cat "$logs/gpu_tests_failed.txt"; }
grep -q FAIL <<<"${rows[*]}" && exit 1 || exit 0
