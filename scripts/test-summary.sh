#!/usr/bin/env bash
# Prints what passing tests reported but ctest keeps quiet about: the conformance summary, the
# PyTorch architecture table and why GPU tests were skipped.  Usage: test-summary.sh LastTest.log
log=${1:?usage: test-summary.sh build/Testing/Temporary/LastTest.log}
[[ -f "$log" ]] || exit 0
echo
echo "==== test summary ===="
awk '/^suite +pass +fail/,/^conformance:/' "$log"
echo
awk '/^model +params +inputs/,/^pytorch_architectures:/' "$log"
echo
grep -E '^no GPU:' "$log" | sort -u | sed 's/^/gpu tests skipped: /'
echo "======================"
