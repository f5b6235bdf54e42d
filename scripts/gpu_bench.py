#!/usr/bin/env python3
"""slimrt vs PyTorch on the GPU machine, FP16, side by side in one run (issue 4's benchmark).

For each model (ResNet-50, ViT-B/16, BERT-base at seq 128, exported by scripts/export_models.py
with random weights) and batch size:
  slimrt   `slimrt build --fp16` with a profile over the batch sizes, then `slimrt bench`
           (GPU time of enqueue between CUDA events, CUDA graphs on, median of --iters)
  PyTorch  the same nn.Module in fp16 on the GPU: eager, a captured CUDA graph, and
           torch.compile(mode="max-autotune") (--modes), each timed with CUDA events around
           one forward, median of --iters after warm-up.
Prints a table and writes gpu_bench.json/.md into --out. Ratios are slimrt / best PyTorch.

  python3 scripts/gpu_bench.py --bundle /tmp/slimrt-bundle --models-dir /tmp/slimrt-models --out $OUT
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_models  # noqa: E402  (the same model definitions as the exported ONNX)

MODELS = {
    "resnet50": {"spec": export_models.MODELS["resnet50"], "kind": "vision"},
    "vit_b_16": {"spec": export_models.MODELS["vit_b_16"], "kind": "vision"},
    "bert_base": {"spec": export_models.EXTRA_MODELS["bert_base"], "kind": "text", "seq": 128},
}


def torch_inputs(name, batch):
    m = MODELS[name]
    if m["kind"] == "vision":
        return (torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.float16),)
    seq = m["seq"]
    ids = torch.randint(0, 1000, (batch, seq), device="cuda")
    mask = torch.ones(batch, seq, dtype=torch.long, device="cuda")
    return (ids, mask)


def time_fn(fn, iters, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(iters):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def bench_torch(name, batch, modes, iters, warmup, log):
    out = {}
    model = MODELS[name]["spec"]["build"]().eval().half().cuda()
    args = torch_inputs(name, batch)
    with torch.inference_mode():
        if "eager" in modes:
            out["eager"] = time_fn(lambda: model(*args), iters, warmup)
        if "graph" in modes:
            static = [a.clone() for a in args]
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    model(*static)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                model(*static)
            out["graph"] = time_fn(g.replay, iters, warmup)
        if "compile" in modes:
            t0 = time.time()
            try:
                compiled = torch.compile(model, mode="max-autotune")
                compiled(*args)
                out["compile"] = time_fn(lambda: compiled(*args), iters, warmup)
            except Exception as e:  # noqa: BLE001 (report, keep going)
                log(f"{name} b{batch}: torch.compile failed: {e}")
            log(f"{name} b{batch}: torch.compile took {time.time() - t0:.0f} s")
    del model
    torch.cuda.empty_cache()
    return out


def build_engine(bundle, models_dir, work, name, batches, log):
    onnx = os.path.join(models_dir, name, "model.onnx")
    engine = os.path.join(work, f"{name}_fp16.engine")
    lo, hi = min(batches), max(batches)
    if MODELS[name]["kind"] == "vision":
        prof = [f"--min", f"input:{lo}x3x224x224", "--opt", f"input:{hi}x3x224x224", "--max", f"input:{hi}x3x224x224"]
    else:
        s = MODELS[name]["seq"]
        prof = []
        for inp in ("input_ids", "attention_mask"):
            prof += ["--min", f"{inp}:{lo}x{s}", "--opt", f"{inp}:{hi}x{s}", "--max", f"{inp}:{hi}x{s}"]
    cmd = [os.path.join(bundle, "slimrt"), "build", onnx, "-o", engine, "--fp16"] + prof
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    log(f"{name}: slimrt build --fp16 {'ok' if r.returncode == 0 else 'FAILED'} in {time.time() - t0:.1f} s")
    if r.returncode != 0:
        log(r.stdout[-2000:] + r.stderr[-2000:])
        return None
    return engine


def bench_slimrt(bundle, engine, batches, iters, warmup, log, profile_to=None):
    cmd = [os.path.join(bundle, "slimrt"), "bench", engine, "--iterations", str(iters), "--warmup", str(warmup)]
    for b in batches:
        cmd += ["--batch", str(b)]
    if profile_to:  # per-layer times, a separate run so that the timed run stays as it is
        p = subprocess.run(cmd + ["--profile"], capture_output=True, text=True)
        with open(profile_to, "w") as fh:
            fh.write(p.stdout + p.stderr)
    r = subprocess.run(cmd + ["--json"], capture_output=True, text=True)
    if r.returncode != 0:
        log("slimrt bench failed: " + (r.stdout[-2000:] + r.stderr[-2000:]))
        return {}
    j = json.loads(r.stdout)
    return {res["batch"]: res["median_ms"] for res in j["results"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="resnet50,vit_b_16,bert_base")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--modes", default="eager,graph,compile", help="PyTorch modes: eager,graph,compile")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--profile", action="store_true", help="also write slimrt's per-layer profile (profile_MODEL.txt)")
    ap.add_argument("--no-torch", action="store_true", help="slimrt only (profiling runs)")
    ap.add_argument("--no-slimrt", action="store_true",
                    help="PyTorch only (e.g. --modes compile in its own device call; join the parts with "
                         "scripts/gpu_bench_merge.py)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    batches = [int(b) for b in a.batches.split(",")]
    modes = a.modes.split(",")
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    torch.backends.cudnn.benchmark = True
    names = [n for n in a.models.split(",") if n]
    rows = []
    for name in names:
        engine = None if a.no_slimrt else build_engine(a.bundle, a.models_dir, a.out, name, batches, log)
        prof = os.path.join(a.out, f"profile_{name}.txt") if a.profile else None
        sl = bench_slimrt(a.bundle, engine, batches, a.iters, a.warmup, log, prof) if engine else {}
        for b in batches:
            pt = {} if a.no_torch else bench_torch(name, b, modes, a.iters, a.warmup, log)
            best = min(pt.values()) if pt else None
            s = sl.get(b)
            rows.append({"model": name, "batch": b, "slimrt_ms": s, **{f"{k}_ms": v for k, v in pt.items()},
                         "best_torch_ms": best, "ratio": (s / best) if s and best else None})
            log(json.dumps(rows[-1]))
    gpu = torch.cuda.get_device_name(0)
    md = [f"# slimrt vs PyTorch {torch.__version__}, FP16, {gpu}, {time.strftime('%Y-%m-%d')}", "",
          "| model | batch | slimrt ms | eager ms | CUDA graph ms | torch.compile max-autotune ms | slimrt / best |",
          "|---|---|---|---|---|---|---|"]

    def f(x):
        return f"{x:.3f}" if isinstance(x, (int, float)) and x is not None else "-"
    for r in rows:
        md.append(f"| {r['model']} | {r['batch']} | {f(r['slimrt_ms'])} | {f(r.get('eager_ms'))} | "
                  f"{f(r.get('graph_ms'))} | {f(r.get('compile_ms'))} | {f(r['ratio'])} |")
    text = "\n".join(md) + "\n"
    print(text)
    with open(os.path.join(a.out, "gpu_bench.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(a.out, "gpu_bench.json"), "w") as fh:
        json.dump({"gpu": gpu, "torch": torch.__version__, "rows": rows, "log": lines}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
