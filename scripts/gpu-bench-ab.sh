#!/usr/bin/env bash
# Runs on the GPU machine: `slimrt bench` of two builds of slimrt side by side on the same engines'
# models (ResNet-50, ViT-B/16, BERT-base; FP16; batch 1 and 64), interleaved A B A B ... so that
# clock and thermal drift fall on both, then the median of each side's medians and the ratio B/A.
# Each side builds its own engines with its own `slimrt build`.
#   bash scripts/gpu-bench-ab.sh BASE_BUNDLE NEW_BUNDLE [OUT_DIR] [REPS]
# A bundle is a directory or a .tar.xz from scripts/gpu-bundle.sh (only its `slimrt` and lib/ are
# used). Models are exported to /tmp/slimrt-models unless already there.
set -uo pipefail
base=$1
new=$2
out=${3:-${OUT:-/tmp/slimrt-bench-ab}}
reps=${4:-3}
unpack() {  # bundle -> directory
  if [[ "$1" == *.tar.xz ]]; then
    local dir=/tmp/ab-$2
    rm -rf "$dir" && mkdir -p "$dir" && tar -xJf "$1" -C "$dir" ./slimrt ./lib && echo "$dir"
  else
    echo "$1"
  fi
}
base=$(unpack "$base" base)
new=$(unpack "$new" new)
cudnn_lib=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$new/lib${cudnn_lib:+:$cudnn_lib}:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"
models=/tmp/slimrt-models
python3 scripts/export_models.py "$models" --models resnet50,vit_b_16,bert_base >"$out/export.log" 2>&1 ||
  { tail "$out/export.log"; exit 1; }
for rep in $(seq 1 "$reps"); do
  for side in base new; do
    dir=$base
    [[ $side == new ]] && dir=$new
    python3 scripts/gpu_bench.py --bundle "$dir" --models-dir "$models" --out "$out/$side-$rep" --no-torch \
      >"$out/$side-$rep.log" 2>&1 || echo "$side rep $rep failed: $(tail -3 "$out/$side-$rep.log")"
  done
done
python3 - "$out" "$reps" <<'EOF'
import json, os, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
cells = {}
for side in ("base", "new"):
    for rep in range(1, reps + 1):
        p = os.path.join(out, f"{side}-{rep}", "gpu_bench.json")
        if not os.path.exists(p):
            continue
        for r in json.load(open(p))["rows"]:
            if r["slimrt_ms"]:
                cells.setdefault((r["model"], r["batch"]), {}).setdefault(side, []).append(r["slimrt_ms"])
lines = ["| model | batch | base ms (median of runs) | new ms | new / base | runs |", "|---|---|---|---|---|---|"]
worst = 0.0
for (m, b), d in sorted(cells.items()):
    if "base" not in d or "new" not in d:
        lines.append(f"| {m} | {b} | {d.get('base')} | {d.get('new')} | - | missing |")
        continue
    mb, mn = statistics.median(d["base"]), statistics.median(d["new"])
    worst = max(worst, abs(mn / mb - 1))
    lines.append(f"| {m} | {b} | {mb:.3f} | {mn:.3f} | {mn / mb:.3f} | {len(d['base'])}+{len(d['new'])} |")
lines.append(f"\nlargest deviation: {100 * worst:.1f}%")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "bench_ab.md"), "w").write(text + "\n")
EOF
