#!/usr/bin/env python3
"""Merges gpu_bench.json files from several device calls into one table (issue 4's benchmark).

torch.compile(mode="max-autotune") autotunes for minutes per model and batch, more than one
device call allows next to everything else; scripts/gpu_bench.py therefore runs in parts
(e.g. slimrt + eager + graph for every model, then --modes compile --models one_model), and this
script joins their rows by (model, batch). A later file's value replaces an earlier one. The best
PyTorch median and slimrt's ratio to it are recomputed over every mode present.

  python3 scripts/gpu_bench_merge.py part1/gpu_bench.json part2/gpu_bench.json --out docs/bench
"""
import argparse
import json
import os
import sys

MODES = ("eager_ms", "graph_ms", "compile_ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True, help="directory for gpu_bench_merged.md/.json")
    a = ap.parse_args()
    rows, gpus, torches, logs = {}, set(), set(), []
    for path in a.files:
        with open(path) as fh:
            j = json.load(fh)
        gpus.add(j.get("gpu", "?"))
        torches.add(j.get("torch", "?"))
        logs += j.get("log", [])
        for r in j["rows"]:
            key = (r["model"], r["batch"])
            merged = rows.setdefault(key, {"model": r["model"], "batch": r["batch"]})
            for k, v in r.items():
                if v is not None and k not in ("best_torch_ms", "ratio"):
                    merged[k] = v
    if len(gpus) > 1:
        print(f"warning: the parts ran on different GPUs: {sorted(gpus)}", file=sys.stderr)
    out_rows = []
    for key in sorted(rows):
        r = rows[key]
        present = [r[m] for m in MODES if r.get(m) is not None]
        r["best_torch_ms"] = min(present) if present else None
        r["ratio"] = r["slimrt_ms"] / r["best_torch_ms"] if r.get("slimrt_ms") and r["best_torch_ms"] else None
        out_rows.append(r)

    def f(x):
        return f"{x:.3f}" if isinstance(x, (int, float)) else "-"
    md = [f"# slimrt vs PyTorch {', '.join(sorted(torches))}, FP16, {', '.join(sorted(gpus))} (merged from {len(a.files)} runs)",
          "", "| model | batch | slimrt ms | eager ms | CUDA graph ms | torch.compile max-autotune ms | slimrt / best |",
          "|---|---|---|---|---|---|---|"]
    for r in out_rows:
        md.append(f"| {r['model']} | {r['batch']} | {f(r.get('slimrt_ms'))} | {f(r.get('eager_ms'))} | "
                  f"{f(r.get('graph_ms'))} | {f(r.get('compile_ms'))} | {f(r.get('ratio'))} |")
    text = "\n".join(md) + "\n"
    print(text)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "gpu_bench_merged.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(a.out, "gpu_bench_merged.json"), "w") as fh:
        json.dump({"gpus": sorted(gpus), "torch": sorted(torches), "rows": out_rows, "log": logs}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
