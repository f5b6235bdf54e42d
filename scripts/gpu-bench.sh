#!/usr/bin/env bash
# Runs on the GPU machine: exports ResNet-50, ViT-B/16 and BERT-base (random weights), then
# scripts/gpu_bench.py measures slimrt (fp16 engines, slimrt bench) against PyTorch eager, CUDA
# graph and torch.compile max-autotune in the same run.
#   bash scripts/gpu-bench.sh [BUNDLE] [OUT_DIR] [gpu_bench.py options, e.g. --modes eager,graph]
set -uo pipefail
bundle=${1:-build/gpu-bundle.tar.xz}
out=${2:-${OUT:-/tmp/slimrt-bench}}
shift 2 || true
if [[ "$bundle" == *.tar.xz ]]; then
  dir=/tmp/slimrt-bundle
  [[ -x $dir/slimrt ]] || { rm -rf "$dir" && mkdir -p "$dir" && tar -xJf "$bundle" -C "$dir"; }
  bundle=$dir
fi
cudnn_lib=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$bundle/lib${cudnn_lib:+:$cudnn_lib}:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"
models=/tmp/slimrt-models
python3 scripts/export_models.py "$models" --models resnet50,vit_b_16,bert_base >"$out/export.log" 2>&1 || { tail "$out/export.log"; exit 1; }
python3 scripts/gpu_bench.py --bundle "$bundle" --models-dir "$models" --out "$out" "$@"
