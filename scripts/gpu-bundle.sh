#!/usr/bin/env bash
# Builds here (Debian, nvcc 13, sm_90) and gathers what the GPU machine needs into
# build/gpu-bundle: the GPU test binary, the CLI, slimrt-load, the conformance runner with the ONNX
# test data and this machine's CPU results as the baseline, the GPU model check, a runtime-only
# program and the few Debian shared libraries the GPU machine lacks. scripts/gpu-check.sh runs it
# there from the archive build/gpu-bundle.tar.xz.
# Usage: bash scripts/gpu-bundle.sh [--no-baseline]   (reuse the last CPU baseline)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMRT_BUILD_TESTS=ON >/dev/null
cmake --build build --target slimrt_gpu_tests slimrt_cli slimrt_runtime_only slimrt_load slimrt_conformance \
  slimrt_gpu_model_check
out=build/gpu-bundle
baseline=build/conformance_cpu.json
engine_baseline=build/conformance_engine_cpu.json
if [[ "${1:-}" != "--no-baseline" || ! -f $baseline || ! -f $engine_baseline ]]; then
  # The CPU backend's results: every case it passes must pass on CUDA too; likewise for the cases
  # built into fp32 engines (--engine).
  build/tests/conformance/slimrt_conformance --json-out $baseline >build/conformance_cpu.log 2>&1 || true
  tail -1 build/conformance_cpu.log
  build/tests/conformance/slimrt_conformance --engine --json-out $engine_baseline >build/conformance_engine_cpu.log 2>&1 || true
  tail -1 build/conformance_engine_cpu.log
fi
rm -rf "$out" && mkdir -p "$out/lib"
cp build/tests/slimrt_gpu_tests build/slimrt build/slimrt-load build/tests/slimrt_runtime_only \
  build/tests/conformance/slimrt_conformance build/tests/models/slimrt_gpu_model_check "$out/"
cp models/tinynet.onnx tests/conformance/skip_list.txt $baseline $engine_baseline "$out/"
tar -czf "$out/onnx-testdata.tar.gz" -C /usr/share/libonnx-testdata data
for lib in $(ldd build/slimrt build/tests/slimrt_gpu_tests build/tests/conformance/slimrt_conformance | awk '/=>/ {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libfmt*|libonnx*|libprotobuf*|libabsl*) cp -L "$lib" "$out/lib/" ;;
  esac
done
strip --strip-unneeded "$out"/slimrt* 2>/dev/null || true
# Each binary carries the same CUDA kernels (~38 MB); xz's 64 MiB window stores them once, which
# keeps the archive under the device tool's 64 MiB carry limit. Carry build/gpu-bundle.tar.xz.
tar -cf - -C "$out" . | xz -9 -T2 >"$out.tar.xz"
du -sh "$out" "$out.tar.xz"
