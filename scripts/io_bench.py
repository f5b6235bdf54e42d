#!/usr/bin/env python3
"""Issue 15's large-image scenario on the GPU machine, one run, one table: LR-ASPP
MobileNetV3-Large (torchvision, random weights, 21 classes) on a 1x3x1600x2560 image.

  python3 scripts/io_bench.py --slimrt BUNDLE/slimrt --out OUT [--height 1600 --width 2560]

What it measures, all in the same run:
  - PyTorch 2.x transfers: H2D of the image as fp32 / fp16 / uint8 and D2H of the 21-class map as
    fp32 / fp16, pageable and pinned (torch.Tensor.copy_, medians);
  - PyTorch fp16 compute (eager, channels-last, cudnn.benchmark; and a CUDA graph of it);
  - PyTorch's serial Polygraphy-style loop (pageable fp32 in, fp32 copied out to a fresh host
    array, synchronize each frame) and its best hand-written pipeline (pinned fp16 buffers, two
    streams, the CUDA graph per stream);
  - slimrt: fp16 engines built with the model's fp32 I/O, with fp16 I/O, and with uint8 NHWC input
    + fused normalization + fp16 output; `slimrt bench --json` gives each one's compute (device
    buffers) and `--profile` the InputConvert pass.
Writes OUT/io_bench.json and prints a table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def median_ms(fn, iters, warmup=3, sync=None):
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def torch_figures(h, w, iters):
    import torch
    import torchvision

    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    sync = torch.cuda.synchronize
    r = {}
    # Transfers.
    img = {"fp32": torch.randn(1, 3, h, w), "fp16": torch.randn(1, 3, h, w).half(),
           "uint8": torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8)}
    for name, t in img.items():
        d = torch.empty_like(t, device=dev)
        r[f"h2d_{name}_pageable_ms"] = median_ms(lambda: d.copy_(t, non_blocking=False), iters, sync=sync)
        tp = t.pin_memory()
        r[f"h2d_{name}_pinned_ms"] = median_ms(lambda: d.copy_(tp, non_blocking=True), iters, sync=sync)
    for name, dt in (("fp32", torch.float32), ("fp16", torch.float16)):
        d = torch.randn(1, 21, h, w, device=dev).to(dt)
        hp = torch.empty(1, 21, h, w, dtype=dt)
        r[f"d2h_{name}_pageable_ms"] = median_ms(lambda: hp.copy_(d, non_blocking=False), iters, sync=sync)
        hpin = hp.pin_memory()
        r[f"d2h_{name}_pinned_ms"] = median_ms(lambda: hpin.copy_(d, non_blocking=True), iters, sync=sync)

    model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None).eval()
    model = model.to(dev).half().to(memory_format=torch.channels_last)
    x = torch.randn(1, 3, h, w, device=dev).half().contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        r["torch_fp16_eager_compute_ms"] = median_ms(lambda: model(x)["out"], iters, warmup=5, sync=sync)
        # A CUDA graph of the forward pass.
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                model(x)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            static_out = model(x)["out"]
        r["torch_fp16_graph_compute_ms"] = median_ms(g.replay, iters, sync=sync)

        # Serial, Polygraphy-style: pageable fp32 in, fp32 out to a new host array, synchronize.
        model32 = model.float()
        host_in = torch.randn(1, 3, h, w)

        def serial():
            d_in = host_in.to(dev)
            out = model32(d_in.contiguous(memory_format=torch.channels_last))["out"]
            out.cpu()
            torch.cuda.synchronize()

        r["torch_serial_fp32_pageable_ms"] = median_ms(serial, max(iters // 2, 5), warmup=2)
        model = model32.half()

        # Best hand-written: pinned fp16 buffers, two streams, a CUDA graph per stream.
        streams = [torch.cuda.Stream() for _ in range(2)]
        h_in = [torch.randn(1, 3, h, w).half().pin_memory() for _ in range(2)]
        h_out = [torch.empty(1, 21, h, w, dtype=torch.float16).pin_memory() for _ in range(2)]
        d_in = [torch.empty(1, 3, h, w, device=dev, dtype=torch.float16).contiguous(memory_format=torch.channels_last)
                for _ in range(2)]
        graphs, outs = [], []
        for k in range(2):
            with torch.cuda.stream(streams[k]):
                for _ in range(3):
                    model(d_in[k])
            torch.cuda.synchronize()
            gk = torch.cuda.CUDAGraph()
            with torch.cuda.graph(gk, stream=streams[k]):
                outs.append(model(d_in[k])["out"])
            graphs.append(gk)
        torch.cuda.synchronize()

        def pipeline(frames):
            for i in range(frames):
                k = i % 2
                with torch.cuda.stream(streams[k]):
                    d_in[k].copy_(h_in[k], non_blocking=True)
                    graphs[k].replay()
                    h_out[k].copy_(outs[k], non_blocking=True)
            torch.cuda.synchronize()

        pipeline(6)
        frames = max(iters, 20)
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            pipeline(frames)
            runs.append((time.perf_counter() - t0) * 1e3 / frames)
        r["torch_best_pinned_fp16_2streams_ms_per_frame"] = statistics.median(runs)
    for k, v in r.items():
        print("torch", k, round(v, 3), flush=True)
    r["torch"] = torch.__version__
    r["gpu"] = torch.cuda.get_device_name()
    return r


def bundle_env(slimrt):
    """The environment a bundled slimrt needs (scripts/gpu-check.sh does the same): the bundle's
    lib/ and the cuDNN slimrt was built against, which lives in the Python environment there."""
    env = dict(os.environ)
    paths = [os.path.join(os.path.dirname(os.path.abspath(slimrt)), "lib")]
    try:
        import nvidia.cudnn
        paths.append(os.path.join(list(nvidia.cudnn.__path__)[0], "lib"))
    except ImportError:
        pass
    paths.append("/usr/local/cuda/lib64")
    if env.get("LD_LIBRARY_PATH"):
        paths.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = ":".join(paths)
    return env


ENV = None


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p.stdout


def slimrt_figures(slimrt, model, out, h, w, iters):
    r = {}
    variants = {
        "fp32_io": [],
        "fp16_io": ["--input-format", "image:fp16", "--output-format", "classes:fp16"],
        "uint8_nhwc_norm": ["--input-format", "image:uint8:nhwc", "--output-format", "classes:fp16",
                            "--normalize", "image:mean=0.485,0.456,0.406:std=0.229,0.224,0.225"],
    }
    for name, flags in variants.items():
        nhwc = "nhwc" in " ".join(flags)
        dims = f"1x{h}x{w}x3" if nhwc else f"1x3x{h}x{w}"
        engine = os.path.join(out, f"lraspp_{name}.engine")
        report = json.loads(run([slimrt, "build", model, "-o", engine, "--fp16", "--json", "--min", f"image:{dims}",
                                 "--opt", f"image:{dims}", "--max", f"image:{dims}"] + flags))
        r[f"{name}_io_lines"] = report.get("io_formats", [])
        bench = json.loads(run([slimrt, "bench", engine, "--json", "--iterations", str(iters), "--warmup", "10"]))
        r[f"{name}_bench"] = bench
        print(name, "compute", json.dumps(bench.get("results"))[:300], flush=True)
        # Host data in and out through the pipeline: pinned buffers, 1 to 4 requests in flight;
        # and the model's own fp32 I/O from pageable memory one at a time (the serial baseline).
        modes = [("pinned", ["1", "2", "3", "4"])] + ([("pageable", ["1", "2"])] if name == "fp32_io" else [])
        for io, streams in modes:
            args = [slimrt, "bench", engine, "--json", "--io", io, "--iterations", str(iters), "--warmup", "4",
                    "--timeline", os.path.join(out, f"timeline_{name}_{io}.svg")]
            for k in streams:
                args += ["--streams", k]
            r[f"{name}_io_{io}"] = json.loads(run(args))
            for run_ in r[f"{name}_io_{io}"]["runs"]:
                print(name, io, "streams", run_["streams"], "h2d", round(run_["h2d"]["p50_ms"], 3), "compute",
                      round(run_["compute"]["p50_ms"], 3), "d2h", round(run_["d2h"]["p50_ms"], 3), "latency",
                      round(run_["latency"]["p50_ms"], 3), "per_s", round(run_["throughput_per_s"], 1), "bound",
                      round(run_["stage_bound_per_s"], 1), flush=True)
        prof = run([slimrt, "bench", engine, "--iterations", "20", "--warmup", "5", "--profile"])
        r[f"{name}_profile_head"] = [line for line in prof.splitlines() if "InputConvert" in line or "Cast" in line][:6]
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slimrt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--height", type=int, default=1600)
    ap.add_argument("--width", type=int, default=2560)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--skip-torch", action="store_true")
    args = ap.parse_args()
    global ENV
    ENV = bundle_env(args.slimrt)
    os.makedirs(args.out, exist_ok=True)
    models = os.path.join(args.out, "models")
    run([sys.executable, os.path.join(HERE, "export_models.py"), models, "--models", "lraspp_mobilenet_v3_large"])
    model = os.path.join(models, "lraspp_mobilenet_v3_large", "model.onnx")
    fig = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "height": args.height, "width": args.width}
    fig.update(slimrt_figures(args.slimrt, model, args.out, args.height, args.width, args.iterations))
    if not args.skip_torch:
        fig.update(torch_figures(args.height, args.width, args.iterations))
    with open(os.path.join(args.out, "io_bench.json"), "w") as f:
        json.dump(fig, f, indent=1)
    for k, v in fig.items():
        if isinstance(v, float):
            print(f"{k:48s} {v:9.3f}")
        elif k.endswith("_bench"):
            print(f"{k:48s} {json.dumps(v.get('results'))[:400]}")
        elif "_io_" in k and isinstance(v, dict):
            for run_ in v.get("runs", []):
                print(f"{k:30s} streams {run_['streams']}: h2d {run_['h2d']['p50_ms']:.3f} compute "
                      f"{run_['compute']['p50_ms']:.3f} d2h {run_['d2h']['p50_ms']:.3f} latency "
                      f"{run_['latency']['p50_ms']:.3f} ms; {run_['throughput_per_s']:.1f}/s "
                      f"(bound {run_['stage_bound_per_s']:.1f}, ratio {run_['throughput_vs_bound']:.2f})")
            for w in v.get("warnings", []):
                print(f"{k:30s} warning {w}")
        else:
            print(f"{k:48s} {v}")


if __name__ == "__main__":
    main()
