#!/usr/bin/env bash
# The README's test command (and CI's): install what is missing, build with warnings as errors,
# run the whole test suite (unit tests, ONNX conformance, PyTorch architectures; GPU tests skip
# with a printed reason when there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMRT_WERROR=ON -DSLIMRT_BUILD_TESTS=ON >/dev/null
cmake --build build
cd build
ctest --output-on-failure -j2 --timeout 2400
