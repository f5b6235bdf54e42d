#!/usr/bin/env bash
# The README's test command (and CI's): install what is missing, build with warnings as errors,
# run the whole test suite (unit tests, ONNX conformance, PyTorch architectures; GPU tests skip
# with a printed reason when there is no GPU), then print the suites' summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMRT_WERROR=ON -DSLIMRT_BUILD_TESTS=ON >/dev/null
cmake --build build
# Stream readers, engine parser and planner under ASan/UBSan, then the engine-parser fuzzer.
bash scripts/sanitize-check.sh
cd build
set +e
ctest --output-on-failure -j2 --timeout 2400 | tee ctest-output.txt
rc=${PIPESTATUS[0]}
set -e
bash ../scripts/test-summary.sh Testing/Temporary/LastTest.log
# Repeat ctest's verdict as the last line.
grep -E 'tests passed, [0-9]+ tests failed out of' ctest-output.txt || true
exit "$rc"
