#!/usr/bin/env bash
# The README's main command: install what is missing, build, then build the bundled model into an
# engine, inspect it and run it: on the GPU when there is one, otherwise on the CPU (with a note
# saying why). `slimrt bench` then times it on the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMRT_BUILD_TESTS=OFF >/dev/null
cmake --build build --target slimrt_cli
mkdir -p build/engines
./build/slimrt build models/tinynet.onnx -o build/engines/tinynet.engine \
  --min image:1x3x64x64 --opt image:4x3x64x64 --max image:8x3x64x64
./build/slimrt inspect build/engines/tinynet.engine --layers 3
./build/slimrt run build/engines/tinynet.engine --shapes image:4x3x64x64 --iterations 10 --warmup 2
if ./build/slimrt bench build/engines/tinynet.engine --batch 1 --batch 8 --iterations 100 2>/dev/null; then :; else
  echo "slimrt bench skipped: it needs a GPU"
fi
