#!/usr/bin/env bash
# Builds here (Debian, nvcc 13, sm_90) and gathers what the GPU machine needs into
# build/gpu-bundle: the GPU test binary, the CLI, slimrt-load, a runtime-only program and the few Debian
# shared libraries the GPU machine lacks. scripts/gpu-check.sh runs it there.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMRT_BUILD_TESTS=ON >/dev/null
cmake --build build --target slimrt_gpu_tests slimrt_cli slimrt_runtime_only slimrt_load
out=build/gpu-bundle
rm -rf "$out" && mkdir -p "$out/lib"
cp build/tests/slimrt_gpu_tests build/slimrt build/slimrt-load build/tests/slimrt_runtime_only "$out/"
cp models/tinynet.onnx "$out/"
for lib in $(ldd build/slimrt build/tests/slimrt_gpu_tests | awk '/=>/ {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libfmt*|libonnx*|libprotobuf*) cp -L "$lib" "$out/lib/" ;;
  esac
done
du -sh "$out"
