#!/usr/bin/env python3
"""Build-time scaling benchmark: how `slimrt build` grows with the number of nodes.

Generates synthetic ONNX models of N nodes (onnx.helper + numpy, no PyTorch), each shaped to
stress different passes, builds each with `slimrt build --json` (passes on; fp32 and fp16) and
prints the median timing_ms per stage (import, passes, precision, plan, write, total), the CPU
time of the build process (user + sys, ms: what the build costs whatever else the machine runs)
and the ratio of the largest size to 10k nodes (issue 13 asks total(100k) <= 12 x total(10k)).

Shapes (--shapes, comma-separated; default all):
  relu      a chain of Relu nodes (element-wise fusion, in-place planning)
  residual  blocks x = x + Relu(x * w_i): a residual stream with Add/Mul (fusion, in place)
  ewchain   blocks Add(c) -> Mul(d) -> Tanh -> Sub(e) -> Exp: short chains the fusion pass fuses
  mlp       blocks MatMul -> Add(bias) -> erf-GELU written out (Div, Erf, Add, Mul, Mul):
            pattern recognition then epilogue fusion
  convbn    blocks Conv 3x3 -> BatchNormalization -> Relu, 8 channels (BN folding, epilogues,
            channels-last in fp16)
  reshape   blocks Transpose -> Reshape (views, layout-neutral data movement)
  shape     blocks Shape -> Gather -> Unsqueeze -> Concat -> Reshape -> Relu on a dynamic
            batch (shape inference with symbols, constant folding of shape subgraphs)

--pairs N then measures the ratio the way issue 13 reads it: for each shape and precision, N
pairs of builds, the 10k-node model then the 100k-node one back to back (so both see the same
load on a shared machine), and prints the median of the N per-pair ratios of `total`, with the
lowest and highest.

Models are cached under build/cache/build_scaling (never committed). Each build runs with a
timeout (--timeout, default 120 s); once a size times out, the larger sizes of that shape and
precision are skipped. Timings on a shared machine are noisy: --repeat N (default 5 for sizes up
to 10k nodes, 3 above) builds each model N times and reports the median.

    /usr/bin/python3 scripts/build_scaling.py [--slimrt build/slimrt]
        [--sizes 1000,2000,5000,10000,20000,50000,100000] [--shapes relu,mlp] [--precisions fp32,fp16]
        [--repeat N] [--timeout S] [--json results.json] [--pairs N] [--no-curve]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STAGES = ["import", "passes", "precision", "plan", "write", "total"]
DEFAULT_SIZES = [1000, 2000, 5000, 10000, 20000, 50000, 100000]
OPSET = 17


class ModelBuilder:
    def __init__(self, seed):
        self.nodes, self.inits = [], []
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def node(self, op, inputs, **attrs):
        self.count += 1
        out = f"{op.lower()}{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"n{self.count}", **attrs))
        return out

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, name, shape, scale=0.1):
        return self.const(name, (self.rng.standard_normal(shape) * scale).astype(np.float32))

    def model(self, inputs, output):
        out = helper.make_tensor_value_info(output, TensorProto.FLOAT, None)
        graph = helper.make_graph(self.nodes, "build_scaling", inputs, [out], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="build_scaling")
        m.ir_version = 8
        return m


def blocks(n, per_block):
    return max(1, n // per_block)


def make_relu(n):
    b = ModelBuilder(1)
    x = "x"
    for _ in range(n):
        x = b.node("Relu", [x])
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])], x), []


def make_residual(n):
    b = ModelBuilder(2)
    x = "x"
    for i in range(blocks(n, 3)):
        w = b.weight(f"w{i}", [16], 0.01)
        u = b.node("Relu", [b.node("Mul", [x, w])])
        x = b.node("Add", [x, u])
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])], x), []


def make_ewchain(n):
    b = ModelBuilder(3)
    x = "x"
    for i in range(blocks(n, 5)):
        x = b.node("Add", [x, b.weight(f"c{i}", [16])])
        x = b.node("Mul", [x, b.weight(f"d{i}", [16])])
        x = b.node("Tanh", [x])
        x = b.node("Sub", [x, b.weight(f"e{i}", [16])])
        x = b.node("Exp", [x])
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])], x), []


def make_mlp(n):
    b = ModelBuilder(4)
    x = "x"
    sqrt2 = b.const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    one = b.const("one", np.array(1.0, dtype=np.float32))
    half = b.const("half", np.array(0.5, dtype=np.float32))
    for i in range(blocks(n, 7)):
        y = b.node("MatMul", [x, b.weight(f"w{i}", [16, 16], 0.25)])
        y = b.node("Add", [y, b.weight(f"b{i}", [16])])
        e = b.node("Erf", [b.node("Div", [y, sqrt2])])
        x = b.node("Mul", [b.node("Mul", [y, b.node("Add", [e, one])]), half])
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16])], x), []


def make_convbn(n):
    b = ModelBuilder(5)
    x = "x"
    c = 8
    for i in range(blocks(n, 3)):
        y = b.node("Conv", [x, b.weight(f"w{i}", [c, c, 3, 3], 0.15)], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        scale = b.const(f"g{i}", (1.0 + b.rng.standard_normal(c) * 0.05).astype(np.float32))
        bias = b.weight(f"bb{i}", [c], 0.05)
        mean = b.weight(f"m{i}", [c], 0.05)
        var = b.const(f"v{i}", (0.9 + b.rng.random(c) * 0.2).astype(np.float32))
        y = b.node("BatchNormalization", [y, scale, bias, mean, var], epsilon=1e-5)
        x = b.node("Relu", [y])
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 4, 4])], x), []


def make_reshape(n):
    b = ModelBuilder(6)
    x = "x"
    shape = b.const("shape", np.array([2, 3, 4], dtype=np.int64))
    for _ in range(blocks(n, 2)):
        x = b.node("Transpose", [x], perm=[0, 2, 1])
        x = b.node("Reshape", [x, shape])
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])], x), []


def make_shape(n):
    b = ModelBuilder(7)
    x = "x"
    zero = b.const("zero", np.array(0, dtype=np.int64))
    axes = b.const("axes", np.array([0], dtype=np.int64))
    rest = b.const("rest", np.array([4, 4], dtype=np.int64))
    for _ in range(blocks(n, 6)):
        d = b.node("Gather", [b.node("Shape", [x]), zero], axis=0)
        s = b.node("Concat", [b.node("Unsqueeze", [d, axes]), rest], axis=0)
        x = b.node("Relu", [b.node("Reshape", [x, s])])
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])
    return b.model([inp], x), ["--min", "x:1x16", "--opt", "x:2x16", "--max", "x:4x16"]


SHAPES = {
    "relu": make_relu,
    "residual": make_residual,
    "ewchain": make_ewchain,
    "mlp": make_mlp,
    "convbn": make_convbn,
    "reshape": make_reshape,
    "shape": make_shape,
}


def model_path(cache, shape, n):
    """Writes the model once; returns its path and the extra build flags it needs."""
    path = os.path.join(cache, f"{shape}_{n}.onnx")
    flags_path = path + ".flags"
    if not (os.path.exists(path) and os.path.exists(flags_path)):
        model, flags = SHAPES[shape](n)
        onnx.save(model, path + ".tmp")
        os.replace(path + ".tmp", path)
        with open(flags_path, "w") as f:
            json.dump({"flags": flags, "nodes": len(model.graph.node)}, f)
    with open(flags_path) as f:
        meta = json.load(f)
    return path, meta["flags"], meta["nodes"]


def build_once(slimrt, path, flags, precision, timeout, engine):
    cmd = [slimrt, "build", path, "-o", engine, "--json"] + flags
    if precision == "fp16":
        cmd.append("--fp16")
    t0 = time.monotonic()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timeout after {timeout:.0f} s"
    wall = (time.monotonic() - t0) * 1000.0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000.0
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {(p.stderr or p.stdout).strip().splitlines()[-1:]}"
    report = json.loads(p.stdout)
    timing = {k: float(report["timing_ms"].get(k, 0.0)) for k in STAGES}
    timing["wall"] = wall
    timing["cpu"] = cpu
    timing["layers"] = report.get("layers")
    return timing, None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--slimrt", default=os.path.join(here, "build", "slimrt"))
    ap.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--precisions", default="fp32,fp16")
    ap.add_argument("--repeat", type=int, default=0, help="builds per point (0: 5 up to 10k nodes, 3 above)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per build")
    ap.add_argument("--cache", default=os.path.join(here, "build", "cache", "build_scaling"))
    ap.add_argument("--json", help="also write every measurement to this file")
    ap.add_argument("--pairs", type=int, default=0, help="paired 100k / 10k ratio from this many pairs")
    ap.add_argument("--no-curve", action="store_true", help="only the paired ratios (with --pairs)")
    args = ap.parse_args()

    if not os.access(args.slimrt, os.X_OK):
        sys.exit(f"build_scaling: no slimrt at {args.slimrt} (cmake --build build --target slimrt_cli)")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    shapes = [s for s in args.shapes.split(",") if s]
    for s in shapes:
        if s not in SHAPES:
            sys.exit(f"build_scaling: unknown shape '{s}' (known: {', '.join(SHAPES)})")
    precisions = [p for p in args.precisions.split(",") if p]
    os.makedirs(args.cache, exist_ok=True)
    engine = os.path.join(args.cache, f"out_{os.getpid()}.engine")

    results = []
    if not args.no_curve:
        curve(args, sizes, shapes, precisions, engine, results)
    if args.pairs > 0:
        paired_ratios(args, shapes, precisions, engine, results)
    if os.path.exists(engine):
        os.remove(engine)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def paired_ratios(args, shapes, precisions, engine, results):
    print(f"\npaired ratio total(100k) / total(10k): {args.pairs} pairs, each 10k then 100k back to back")
    print(f"{'shape':9} {'prec':5} {'median':>7} {'lowest':>7} {'highest':>7}")
    medians = []
    for shape in shapes:
        for precision in precisions:
            small = model_path(args.cache, shape, 10000)
            big = model_path(args.cache, shape, 100000)
            ratios, error = [], None
            for _ in range(args.pairs):
                a, error = build_once(args.slimrt, small[0], small[1], precision, args.timeout, engine)
                if a is None:
                    break
                b, error = build_once(args.slimrt, big[0], big[1], precision, args.timeout, engine)
                if b is None:
                    break
                ratios.append(b["total"] / a["total"])
            if error:
                print(f"{shape:9} {precision:5}  {error}")
                continue
            med = statistics.median(ratios)
            medians.append(med)
            print(f"{shape:9} {precision:5} {med:>7.2f} {min(ratios):>7.2f} {max(ratios):>7.2f}", flush=True)
            results.append({"shape": shape, "precision": precision, "paired_ratios": ratios})
    if medians:
        within = sum(1 for m in medians if m <= 12.0)
        print(f"median of the cells' medians {statistics.median(medians):.2f}; {within} of {len(medians)} cells <= 12")


def curve(args, sizes, shapes, precisions, engine, results):
    print(f"slimrt build timing (ms, median of repeats) per stage; {os.cpu_count()} CPUs")
    header = (f"{'shape':9} {'prec':5} {'nodes':>7} {'layers':>7} " + " ".join(f"{s:>9}" for s in STAGES) +
              f" {'cpu':>9}  reps")
    print(header)
    for shape in shapes:
        for precision in precisions:
            totals = {}
            skip_reason = None
            for n in sizes:
                path, flags, nodes = model_path(args.cache, shape, n)
                if skip_reason:
                    print(f"{shape:9} {precision:5} {nodes:>7}  skipped ({skip_reason} at a smaller size)")
                    continue
                reps = args.repeat or (5 if n <= 10000 else 3)
                runs, error = [], None
                for _ in range(reps):
                    t, error = build_once(args.slimrt, path, flags, precision, args.timeout, engine)
                    if t is None:
                        break
                    runs.append(t)
                if error:
                    print(f"{shape:9} {precision:5} {nodes:>7}  {error}")
                    skip_reason = error.split(":")[0]
                    results.append({"shape": shape, "precision": precision, "nodes": nodes, "error": error})
                    continue
                med = {k: statistics.median(r[k] for r in runs) for k in STAGES + ["wall", "cpu"]}
                totals[n] = (med["total"], med["cpu"])
                print(f"{shape:9} {precision:5} {nodes:>7} {runs[0]['layers']:>7} " +
                      " ".join(f"{med[s]:>9.1f}" for s in STAGES) + f" {med['cpu']:>9.1f}  {len(runs)}", flush=True)
                results.append({"shape": shape, "precision": precision, "nodes": nodes, "layers": runs[0]["layers"],
                                "timing_ms": med, "repeats": len(runs)})
            big = max((n for n in totals if n > 10000), default=None)
            if 10000 in totals and big:
                ratio = totals[big][0] / totals[10000][0]
                cpu_ratio = totals[big][1] / totals[10000][1]
                print(f"{shape:9} {precision:5} ratio {big // 1000}k / 10k: total {ratio:.2f}, cpu {cpu_ratio:.2f}")


if __name__ == "__main__":
    main()
