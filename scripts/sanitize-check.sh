#!/usr/bin/env bash
# The engine loader's safety net, run by scripts/test.sh before the main suite:
#  1. the stream-reader, engine-format and planner tests under AddressSanitizer + UBSan (clang);
#  2. the engine-parser fuzzer (libFuzzer) for a bounded time, seeded with valid engines;
#  3. the multi-threaded engine load tests (Runtime::load's reader threads) and the log sink
#     (many threads logging while the sink is replaced) under ThreadSanitizer.
# Fails on the first sanitizer report, test failure or fuzzer crash.
#   bash scripts/sanitize-check.sh [FUZZ_SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${1:-${SLIMRT_FUZZ_SECONDS:-60}}
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLIMRT_ENABLE_CUDA=OFF -DSLIMRT_SANITIZE=address,undefined -DSLIMRT_FUZZ=ON -DSLIMRT_WERROR=ON >/dev/null
cmake --build build-asan --target slimrt_loader_tests engine_parser_fuzz
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build-asan/tests/slimrt_loader_tests --gtest_brief=1

corpus=build-asan/fuzz-corpus
rm -rf "$corpus" && mkdir -p "$corpus"
build-asan/tests/slimrt_loader_tests --gtest_filter='EngineFuzzSeeds.*' --gtest_brief=1 >/dev/null
cp build-asan/test_tmp/engine_fuzz_seeds/*.engine "$corpus"/ 2>/dev/null || true
echo "fuzzing the engine parser for ${fuzz_seconds}s from $(ls "$corpus" | wc -l) seed(s)"
build-asan/engine_parser_fuzz -max_total_time="$fuzz_seconds" -max_len=65536 -print_final_stats=1 \
  "$corpus" 2>build-asan/fuzz.log || { tail -40 build-asan/fuzz.log; echo "engine parser fuzzer FAILED"; exit 1; }
grep -E 'stat::number_of_executed_units|Done' build-asan/fuzz.log | sed 's/^/fuzz: /' || true

CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLIMRT_ENABLE_CUDA=OFF -DSLIMRT_SANITIZE=thread -DSLIMRT_WERROR=ON >/dev/null
cmake --build build-tsan --target slimrt_loader_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  build-tsan/tests/slimrt_loader_tests --gtest_filter='EngineLoad*:StreamReader*:Logging.*' --gtest_brief=1
echo "sanitizers and fuzzing: clean"
