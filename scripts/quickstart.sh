#!/usr/bin/env bash
# The README's main command: install what is missing, build, and run the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMRT_BUILD_TESTS=OFF >/dev/null
cmake --build build --target slimrt_cli
./build/slimrt run models/tinynet.onnx --shapes image:4x3x64x64 --iterations 10 --warmup 2
