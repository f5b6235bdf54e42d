#!/usr/bin/env bash
# Installs the Debian 12 packages slimrt needs, skipping those already present.
#   bash scripts/install-deps.sh          # build + test dependencies
#   bash scripts/install-deps.sh --build  # build dependencies only
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  libprotobuf-dev protobuf-compiler libonnx-dev   # ONNX import (slimrt_builder only)
  libfmt-dev libcli11-dev nlohmann-json3-dev      # formatting, CLI, JSON reports
  libflatbuffers-dev flatbuffers-compiler         # engine metadata (FlatBuffers schema)
  libxxhash-dev                                   # engine checksums (XXH3)
  libgoogle-perftools-dev                         # tcmalloc_minimal, linked into the slimrt command
  libgtest-dev                                    # unit tests
)
test_pkgs=(
  libonnx-testdata                                # ONNX's backend test cases (conformance suite)
  python3-onnx python3-numpy                      # fixture scripts
  python3-torch python3-torchvision               # PyTorch 1.13 CPU: exports real architectures
  clang libclang-rt-14-dev                        # ASan/UBSan loader tests, libFuzzer engine fuzzer
)
pkgs=("${build_pkgs[@]}")
[[ "${1:-}" == "--build" ]] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "dependencies: all present"
