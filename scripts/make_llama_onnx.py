#!/usr/bin/env python3
"""Writes a LLaMA-7B-shaped decoder as ONNX with external data, random FP16 weights.

    make_llama_onnx.py --out-dir /tmp/llama --safetensors /tmp/llama/llama.safetensors
    make_llama_onnx.py --out-dir /tmp/tiny --layers 2 --hidden 64 --heads 4 --mlp 172 --vocab 1000 \
        --max-seq 32 --reference-dir /tmp/tiny/ref

Defaults are LLaMA-7B's shapes (32 layers, hidden 4096, 32 heads, MLP 11008, vocab 32000): about
13.5 GB of fp16 weights. Writes OUT_DIR/llama.onnx (the graph, small) and OUT_DIR/llama.weights
(every weight, each tensor at a 4096-byte aligned offset, referenced as ONNX external data).

The graph is decomposed the way exporters emit a HF LLaMA model (input_ids int64 [batch, seq] ->
logits fp16 [batch, seq, vocab]):
  Gather(embedding), then per layer
    RMSNorm: Pow(x, 2) -> ReduceMean(last axis, keepdims) -> Add(eps) -> Sqrt -> Reciprocal
             -> Mul(x, .) -> Mul(weight)
    attention: q/k/v MatMul [hidden, hidden] -> Reshape [0, 0, heads, head_dim] -> Transpose
             (K straight to [b, h, head_dim, s]) -> MatMul(Q, K^T) -> Mul(1/sqrt(head_dim))
             -> Add(causal mask: a [1, 1, max_seq, max_seq] constant sliced to [seq, seq] with
             Shape/Gather/Unsqueeze/Concat/Slice) -> Softmax(-1) -> MatMul(V) -> Transpose
             -> Reshape [0, 0, hidden] -> o_proj MatMul -> residual Add
    MLP:     RMSNorm -> gate/up MatMul [hidden, mlp] -> SiLU as Sigmoid+Mul -> Mul(up)
             -> down MatMul [mlp, hidden] -> residual Add
  final RMSNorm, lm_head MatMul [hidden, vocab].
RoPE is left out: it adds no weights and only elementwise work, and the loader benchmark this model
is for measures weight bytes. Everything is fp16 (no Casts), so the CPU backend's fp16 kernels and
the fusion passes see the ops a fp16 export contains.

"Random" weights: every element is an fp16 bit pattern with a random sign, a random 10-bit mantissa
and an exponent drawn from 8 values, so |w| lies in [2^-13, 2^-5) = [0.00012, 0.031) (RMS about
0.01: activations stay O(1) through 32 layers and logits stay finite in fp16). To write 13.5 GB
fast, a 256 MiB pool of such values is generated once (numpy's PCG64 raw output); each 32 MiB chunk of a
tensor is a copy of the pool from a random offset, XORed with a per-tensor random mask over the
sign and mantissa bits (the exponent, and so the magnitude bound, is kept). RMSNorm weights are
1 + such a value. Tensors therefore differ from each other, but they are not independent draws.

Memory: weights stream chunk by chunk; nothing larger than the pool and one chunk is held.

--safetensors PATH writes, in the same pass, a safetensors file with the same tensors (same names,
shapes and bytes, in the same order): 8-byte little-endian header size N, N bytes of JSON padded
with spaces to a multiple of 8, then the tensors back to back.

--reference-dir DIR computes the forward pass in numpy float64 from the written weights for random
input_ids [--ref-batch, --ref-seq] and writes DIR/input_ids.npy (int64) and DIR/logits.npy
(float64). Meant for tiny configurations (tests compare slimrt's logits against it).

The graph is built with onnx.helper and serialized directly (no onnx external-data conversion), so
this runs with onnx 1.12 as well as newer releases. The model uses IR version 8, opset 17.
"""

import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
from onnx import TensorProto, helper

ALIGN = 4096
CHUNK_ELEMS = 16 << 20  # 32 MiB of fp16 per write
POOL_ELEMS = 128 << 20  # 256 MiB of fp16


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--hidden", type=int, default=4096)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--mlp", type=int, default=11008)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--max-seq", type=int, default=2048, help="size of the causal-mask constant")
    p.add_argument("--eps", type=float, default=1e-6, help="RMSNorm epsilon")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--name", default="llama", help="file stem: NAME.onnx and NAME.weights")
    p.add_argument("--safetensors", metavar="PATH", help="also write the weights as safetensors")
    p.add_argument("--reference-dir", metavar="DIR",
                   help="write input_ids.npy and float64 logits.npy computed with numpy")
    p.add_argument("--ref-batch", type=int, default=2)
    p.add_argument("--ref-seq", type=int, default=7)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.hidden % a.heads != 0:
        p.error(f"--hidden {a.hidden} is not a multiple of --heads {a.heads}")
    for k in ("layers", "hidden", "heads", "mlp", "vocab", "max_seq"):
        if getattr(a, k) <= 0:
            p.error(f"--{k.replace('_', '-')} must be positive")
    return a


def weight_specs(a):
    """(name, shape, kind) in file order; kind is 'norm' (1 + small) or 'dense' (small)."""
    h, m = a.hidden, a.mlp
    specs = [("model.embed_tokens.weight", (a.vocab, h), "dense")]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        specs += [
            (p + "input_layernorm.weight", (h,), "norm"),
            (p + "self_attn.q_proj.weight", (h, h), "dense"),
            (p + "self_attn.k_proj.weight", (h, h), "dense"),
            (p + "self_attn.v_proj.weight", (h, h), "dense"),
            (p + "self_attn.o_proj.weight", (h, h), "dense"),
            (p + "post_attention_layernorm.weight", (h,), "norm"),
            (p + "mlp.gate_proj.weight", (h, m), "dense"),
            (p + "mlp.up_proj.weight", (h, m), "dense"),
            (p + "mlp.down_proj.weight", (m, h), "dense"),
        ]
    specs += [("model.norm.weight", (h,), "norm"), ("lm_head.weight", (h, a.vocab), "dense")]
    return specs


def make_pool(rng, elems):
    """fp16 bit patterns: random sign and mantissa, exponent field in [2, 9] (|w| < 2^-5)."""
    r = rng.bit_generator.random_raw((elems + 3) // 4).view(np.uint16)[:elems]
    exp = (r >> np.uint16(10)) & np.uint16(7)
    exp += np.uint16(2)
    exp <<= np.uint16(10)
    r &= np.uint16(0x83FF)
    r |= exp
    return r


def causal_mask(max_seq):
    m = np.zeros((1, 1, max_seq, max_seq), dtype=np.float16)
    m[0, 0][np.triu_indices(max_seq, k=1)] = np.finfo(np.float16).min
    return m


ONNX_TYPES = {np.dtype(np.float16): TensorProto.FLOAT16, np.dtype(np.int64): TensorProto.INT64}


def const(name, arr):
    return helper.make_tensor(name, ONNX_TYPES[arr.dtype], arr.shape, arr.tobytes(), raw=True)


def external(name, shape, location, offset, length):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT16
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def build_graph(a, initializers):
    """Returns the ModelProto; `initializers` are the external weight TensorProtos."""
    h, nh = a.hidden, a.heads
    hd = h // nh
    nodes = []
    inits = list(initializers)
    f16 = np.float16
    inits += [
        const("const_two", np.array(2.0, dtype=f16)),
        const("const_eps", np.array(a.eps, dtype=f16)),
        const("const_scale", np.array(1.0 / math.sqrt(hd), dtype=f16)),
        const("shape_heads", np.array([0, 0, nh, hd], dtype=np.int64)),
        const("shape_hidden", np.array([0, 0, h], dtype=np.int64)),
        const("const_one_i64", np.array(1, dtype=np.int64)),
        const("axes_0", np.array([0], dtype=np.int64)),
        const("mask_starts", np.array([0, 0], dtype=np.int64)),
        const("mask_axes", np.array([2, 3], dtype=np.int64)),
        const("causal_mask_full", causal_mask(a.max_seq)),
    ]

    def node(op, ins, outs, **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=outs[0] + "/" + op, **attrs))
        return outs[0]

    def rms_norm(x, weight, prefix):
        sq = node("Pow", [x, "const_two"], [prefix + "/pow"])
        var = node("ReduceMean", [sq], [prefix + "/mean"], axes=[-1], keepdims=1)
        ve = node("Add", [var, "const_eps"], [prefix + "/add_eps"])
        sd = node("Sqrt", [ve], [prefix + "/sqrt"])
        inv = node("Reciprocal", [sd], [prefix + "/rsqrt"])
        xn = node("Mul", [x, inv], [prefix + "/normed"])
        return node("Mul", [xn, weight], [prefix + "/out"])

    # Causal mask sliced to [1, 1, seq, seq].
    shp = node("Shape", ["input_ids"], ["ids_shape"])
    seq = node("Gather", [shp, "const_one_i64"], ["seq_len"], axis=0)
    seq1 = node("Unsqueeze", [seq, "axes_0"], ["seq_len_1d"])
    ends = node("Concat", [seq1, seq1], ["mask_ends"], axis=0)
    mask = node("Slice", ["causal_mask_full", "mask_starts", ends, "mask_axes"], ["causal_mask"])

    x = node("Gather", ["model.embed_tokens.weight", "input_ids"], ["embeds"], axis=0)
    for i in range(a.layers):
        p = f"model.layers.{i}."
        n = f"/layers.{i}"
        xn = rms_norm(x, p + "input_layernorm.weight", n + "/input_layernorm")
        q = node("MatMul", [xn, p + "self_attn.q_proj.weight"], [n + "/attn/q_proj"])
        k = node("MatMul", [xn, p + "self_attn.k_proj.weight"], [n + "/attn/k_proj"])
        v = node("MatMul", [xn, p + "self_attn.v_proj.weight"], [n + "/attn/v_proj"])
        q = node("Reshape", [q, "shape_heads"], [n + "/attn/q_heads"])
        k = node("Reshape", [k, "shape_heads"], [n + "/attn/k_heads"])
        v = node("Reshape", [v, "shape_heads"], [n + "/attn/v_heads"])
        q = node("Transpose", [q], [n + "/attn/q_t"], perm=[0, 2, 1, 3])
        kt = node("Transpose", [k], [n + "/attn/k_t"], perm=[0, 2, 3, 1])
        v = node("Transpose", [v], [n + "/attn/v_t"], perm=[0, 2, 1, 3])
        s = node("MatMul", [q, kt], [n + "/attn/scores"])
        s = node("Mul", [s, "const_scale"], [n + "/attn/scaled"])
        s = node("Add", [s, mask], [n + "/attn/masked"])
        pr = node("Softmax", [s], [n + "/attn/probs"], axis=-1)
        o = node("MatMul", [pr, v], [n + "/attn/context"])
        o = node("Transpose", [o], [n + "/attn/context_t"], perm=[0, 2, 1, 3])
        o = node("Reshape", [o, "shape_hidden"], [n + "/attn/context_flat"])
        o = node("MatMul", [o, p + "self_attn.o_proj.weight"], [n + "/attn/o_proj"])
        x = node("Add", [x, o], [n + "/attn_residual"])
        xn = rms_norm(x, p + "post_attention_layernorm.weight", n + "/post_attention_layernorm")
        g = node("MatMul", [xn, p + "mlp.gate_proj.weight"], [n + "/mlp/gate_proj"])
        u = node("MatMul", [xn, p + "mlp.up_proj.weight"], [n + "/mlp/up_proj"])
        sg = node("Sigmoid", [g], [n + "/mlp/sigmoid"])
        g = node("Mul", [g, sg], [n + "/mlp/silu"])
        g = node("Mul", [g, u], [n + "/mlp/gated"])
        d = node("MatMul", [g, p + "mlp.down_proj.weight"], [n + "/mlp/down_proj"])
        x = node("Add", [x, d], [n + "/mlp_residual"])
    xn = rms_norm(x, "model.norm.weight", "/norm")
    node("MatMul", [xn, "lm_head.weight"], ["logits"])

    graph = helper.make_graph(
        nodes, "llama",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT16, ["batch", "seq", a.vocab])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="slimrt make_llama_onnx.py")
    model.ir_version = 8
    return model


def safetensors_header(specs):
    meta = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape, _ in specs:
        n = 2 * math.prod(shape)
        meta[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    js = json.dumps(meta, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js


def write_weights(a, specs, weights_path, st_path, log):
    """Streams every tensor into weights_path (aligned) and st_path (if given); returns offsets."""
    rng = np.random.default_rng(a.seed)
    total = sum(math.prod(s) for _, s, _ in specs)
    pool = make_pool(rng, max(1, min(POOL_ELEMS, total)))
    buf = np.empty(min(CHUNK_ELEMS, pool.size), dtype=np.uint16)
    offsets = []
    with open(weights_path, "wb") as wf, (open(st_path, "wb") if st_path else open(os.devnull, "wb")) as sf:
        if st_path:
            sf.write(safetensors_header(specs))
        pos = 0
        done = 0
        last_log = time.monotonic()
        for name, shape, kind in specs:
            pad = -pos % ALIGN
            if pad:
                wf.write(b"\0" * pad)
                pos += pad
            n = math.prod(shape)
            offsets.append((pos, 2 * n))
            mask = np.uint16(int(rng.integers(0, 1 << 16)) & 0x83FF)
            left = n
            while left:
                m = min(left, buf.size)
                start = int(rng.integers(0, pool.size - m + 1))
                chunk = buf[:m]
                np.bitwise_xor(pool[start:start + m], mask, out=chunk)
                if kind == "norm":
                    chunk = (chunk.view(np.float16).astype(np.float32) + 1.0).astype(np.float16).view(np.uint16)
                wf.write(memoryview(chunk).cast("B"))
                if st_path:
                    sf.write(memoryview(chunk).cast("B"))
                left -= m
            pos += 2 * n
            done += 2 * n
            if not a.quiet and time.monotonic() - last_log > 5:
                last_log = time.monotonic()
                log(f"  {done / 1e9:.2f} / {2 * total / 1e9:.2f} GB")
    return offsets


def reference(a, specs, offsets, weights_path, out_dir):
    """Forward pass in float64 from the written weights (no RoPE, like the graph)."""
    w = {}
    for (name, shape, _), (off, n) in zip(specs, offsets):
        w[name] = np.fromfile(weights_path, dtype=np.float16, count=n // 2, offset=off).reshape(
            shape).astype(np.float64)
    rng = np.random.default_rng(a.seed + 1)
    b, s = a.ref_batch, a.ref_seq
    if s > a.max_seq:
        sys.exit(f"--ref-seq {s} exceeds --max-seq {a.max_seq}")
    ids = rng.integers(0, a.vocab, size=(b, s), dtype=np.int64)
    hd = a.hidden // a.heads

    def rms(x, wt):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + a.eps) * wt

    mask = np.triu(np.full((s, s), -np.inf), k=1)
    x = w["model.embed_tokens.weight"][ids]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        xn = rms(x, w[p + "input_layernorm.weight"])
        q, k, v = (xn @ w[p + f"self_attn.{t}_proj.weight"] for t in "qkv")
        q, k, v = (t.reshape(b, s, a.heads, hd).transpose(0, 2, 1, 3) for t in (q, k, v))
        sc = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + mask
        sc = np.exp(sc - sc.max(axis=-1, keepdims=True))
        pr = sc / sc.sum(axis=-1, keepdims=True)
        o = (pr @ v).transpose(0, 2, 1, 3).reshape(b, s, a.hidden)
        x = x + o @ w[p + "self_attn.o_proj.weight"]
        xn = rms(x, w[p + "post_attention_layernorm.weight"])
        g = xn @ w[p + "mlp.gate_proj.weight"]
        u = xn @ w[p + "mlp.up_proj.weight"]
        x = x + (g / (1.0 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"]
    logits = rms(x, w["model.norm.weight"]) @ w["lm_head.weight"]
    os.makedirs(out_dir, exist_ok=True)
    np.save(os.path.join(out_dir, "input_ids.npy"), ids)
    np.save(os.path.join(out_dir, "logits.npy"), logits)


def main(argv=None):
    a = parse_args(argv)
    log = (lambda *_: None) if a.quiet else (lambda msg: print(msg, flush=True))
    os.makedirs(a.out_dir, exist_ok=True)
    specs = weight_specs(a)
    weights_file = a.name + ".weights"
    weights_path = os.path.join(a.out_dir, weights_file)
    onnx_path = os.path.join(a.out_dir, a.name + ".onnx")
    total = 2 * sum(math.prod(s) for _, s, _ in specs)
    log(f"make_llama_onnx: {a.layers} layers, hidden {a.hidden}, heads {a.heads}, mlp {a.mlp}, "
        f"vocab {a.vocab}: {len(specs)} tensors, {total / 1e9:.3f} GB fp16")
    t0 = time.monotonic()
    offsets = write_weights(a, specs, weights_path, a.safetensors, log)
    t1 = time.monotonic()
    inits = [external(name, shape, weights_file, off, n)
             for (name, shape, _), (off, n) in zip(specs, offsets)]
    model = build_graph(a, inits)
    with open(onnx_path, "wb") as f:
        f.write(model.SerializeToString())
    log(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), {weights_path} "
        f"({os.path.getsize(weights_path)} bytes)" +
        (f", {a.safetensors} ({os.path.getsize(a.safetensors)} bytes)" if a.safetensors else "") +
        f" in {t1 - t0:.1f} s ({total / max(t1 - t0, 1e-9) / 1e9:.2f} GB/s of weights)")
    if a.reference_dir:
        reference(a, specs, offsets, weights_path, a.reference_dir)
        log(f"wrote reference input_ids.npy and logits.npy to {a.reference_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
