#!/usr/bin/python3
"""Exports the real architectures that tests/models checks slimrt against PyTorch.

Run with Debian's Python (PyTorch 1.13 CPU + torchvision 0.14):

    /usr/bin/python3 scripts/export_models.py [OUT_DIR] [--force] [--models resnet18,llama_tiny]

For each model, OUT_DIR/<model>/ receives
    model.onnx            torch.onnx.export, opset 17, dynamic batch (and seq for text models)
    input_<name>.npy      fresh seeded random inputs at a shape unlike the export dummy's
    output_<i>.npy        PyTorch's outputs on those inputs
    meta.json             input/output names, shapes, dtypes, files; parameter count
A model whose files all exist and were written by this same script (meta.json records its
SHA-256) is skipped: the build directory caches them. --force redoes it.
Weights are random (weights=None / fresh init, seeded), models in eval mode.
"""

import argparse
import hashlib
import inspect
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OPSET = 17
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "build", "cache", "models")


# ---- a small BERT-style encoder ------------------------------------------------------------

class BertLayer(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.ffn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.act = nn.GELU()

    def split_heads(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, additive_mask):
        b, s, h = x.shape
        q = self.split_heads(self.q(x))
        k = self.split_heads(self.k(x))
        v = self.split_heads(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = torch.softmax(scores + additive_mask, dim=-1)
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, h)
        x = self.attn_norm(x + self.attn_out(ctx))
        return self.ffn_norm(x + self.ffn_out(self.act(self.ffn_in(x))))


class TinyBert(nn.Module):
    def __init__(self, vocab=1000, hidden=128, heads=4, layers=2, ffn=512, max_pos=64):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_pos, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList([BertLayer(hidden, heads, ffn) for _ in range(layers)])
        self.pool = nn.Linear(hidden, hidden)

    def forward(self, input_ids, attention_mask):
        seq = input_ids.shape[1]
        positions = torch.arange(seq, dtype=torch.long, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.position(positions) + self.token_type(torch.zeros_like(input_ids))
        x = self.emb_norm(x)
        # 1 keeps a token, 0 is padding: padded keys get a large negative score.
        additive = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, additive)
        pooled = torch.tanh(self.pool(x[:, 0]))
        return x, pooled


# ---- a small LLaMA-style decoder -----------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, hidden, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaLayer(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.attn_norm = RMSNorm(hidden)
        self.q = nn.Linear(hidden, hidden, bias=False)
        self.k = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, hidden, bias=False)
        self.o = nn.Linear(hidden, hidden, bias=False)
        self.mlp_norm = RMSNorm(hidden)
        self.gate = nn.Linear(hidden, ffn, bias=False)
        self.up = nn.Linear(hidden, ffn, bias=False)
        self.down = nn.Linear(ffn, hidden, bias=False)

    def forward(self, x, cos, sin, causal):
        b, s, h = x.shape
        y = self.attn_norm(x)
        q = self.q(y).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(y).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        v = self.v(y).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(causal, float("-inf"))
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, s, h)
        x = x + self.o(ctx)
        y = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class TinyLlama(nn.Module):
    def __init__(self, vocab=1000, hidden=128, heads=4, layers=2, ffn=344, theta=10000.0):
        super().__init__()
        self.head_dim = hidden // heads
        self.embed = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList([LlamaLayer(hidden, heads, ffn) for _ in range(layers)])
        self.norm = RMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, input_ids):
        seq = input_ids.shape[1]
        t = torch.arange(seq, dtype=torch.float32, device=input_ids.device)
        freqs = torch.outer(t, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        causal = torch.triu(torch.ones(seq, seq, dtype=torch.bool, device=input_ids.device), diagonal=1)
        x = self.embed(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin, causal)
        return self.lm_head(self.norm(x))


# ---- the model list ------------------------------------------------------------------------

def calibrate_batchnorm(model, gen):
    # Fresh BatchNorm statistics (mean 0, var 1) with kaiming-initialized convs let activations
    # drift until the logits hardly depend on the input (MobileNetV2's two batch rows then agree
    # to 2e-7), which would make the comparison weak. Random affine parameters plus statistics
    # measured on a random batch (as training would) keep every layer normalized and input-driven.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batch
    # Residual branches end in a BatchNorm whose scale trained ResNets keep small (torchvision's
    # zero_init_residual starts it at 0). At full scale the 16 residual adds of ResNet-50 make
    # the network amplify rounding ~250x: PyTorch's own fp32 run is 1.6e-5 from fp64 there, above
    # any fp32 tolerance. A quarter scale gives 1.2e-6, with batch rows still 23% apart.
    for m in model.modules():
        if hasattr(m, "downsample"):  # a torchvision ResNet block: Bottleneck (bn3) or BasicBlock (bn2)
            last_bn = m.bn3 if hasattr(m, "bn3") else m.bn2
            last_bn.weight.mul_(0.25)
    model.train()
    model(torch.randn(4, 3, 224, 224, generator=gen))
    model.eval()


def vision(name):
    def build():
        import torchvision
        model = getattr(torchvision.models, name)(weights=None)
        gen = torch.Generator().manual_seed(1234)
        with torch.no_grad():
            calibrate_batchnorm(model, gen)
            # ViT initializes its classification head to zeros, which would make the output
            # identically 0 and the comparison vacuous.
            for m in model.modules():
                if isinstance(m, nn.Linear) and not m.weight.any():
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.02)
                    if m.bias is not None:
                        m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.02)
        return model

    def inputs(batch, gen):
        return {"input": torch.randn(batch, 3, 224, 224, generator=gen)}

    return {
        "build": build,
        "inputs": inputs,
        "export_args": {"batch": 3},
        "test_args": {"batch": 2},
        "dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}},
        "output_names": ["output"],
    }


def bert_inputs(batch, seq, gen):
    ids = torch.randint(0, 1000, (batch, seq), generator=gen, dtype=torch.long)
    mask = torch.ones(batch, seq, dtype=torch.long)
    # The last row is padded: its final third of tokens are masked out.
    mask[-1, seq - max(1, seq // 3):] = 0
    return {"input_ids": ids, "attention_mask": mask}


def llama_inputs(batch, seq, gen):
    return {"input_ids": torch.randint(0, 1000, (batch, seq), generator=gen, dtype=torch.long)}


class SegmentationOut(nn.Module):
    """torchvision's segmentation models return {"out": ...}; ONNX export wants the tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def segmentation(name):
    """A torchvision segmentation network (random weights, 21 classes) on a dynamic-size image:
    the model of issue 15's large-image I/O scenario (1x3x1600x2560 there; small here)."""
    base = vision(name)

    def build():
        import torchvision
        model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None)
        gen = torch.Generator().manual_seed(1234)
        with torch.no_grad():
            calibrate_batchnorm(model, gen)
        return SegmentationOut(model)

    def inputs(batch, height, width, gen):
        return {"image": torch.randn(batch, 3, height, width, generator=gen)}

    return dict(base, build=build, inputs=inputs,
                export_args={"batch": 1, "height": 224, "width": 320},
                test_args={"batch": 2, "height": 160, "width": 256},
                dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                              "classes": {0: "batch", 2: "height", 3: "width"}},
                output_names=["classes"],
                # A dynamic image size makes every strided Conv's output dims a floor division,
                # which slimrt keeps as fresh symbols resolved per profile.
                fresh_dims=True)


MODELS = {
    "resnet18": vision("resnet18"),
    "resnet50": vision("resnet50"),
    "mobilenet_v2": vision("mobilenet_v2"),
    "vit_b_16": vision("vit_b_16"),
    # Swin-T's window attention pads its feature map to a multiple of the window with pads computed
    # from the input's shape (Shape -> Mod -> Concat -> a 2-D Reshape/Slice/Transpose -> Pad): a
    # shape subgraph that must resolve at build time (issue 13, item 15).
    "swin_t": vision("swin_t"),
    "bert_tiny": {
        "build": TinyBert,
        "inputs": bert_inputs,
        "export_args": {"batch": 3, "seq": 7},
        "test_args": {"batch": 2, "seq": 11},
        "dynamic_axes": {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                         "last_hidden_state": {0: "batch", 1: "seq"}, "pooled": {0: "batch"}},
        "output_names": ["last_hidden_state", "pooled"],
    },
    # Issue 15's large-image network (1x3x1600x2560 there): LR-ASPP on MobileNetV3-Large, with the
    # image's height and width dynamic.
    "lraspp_mobilenet_v3_large": segmentation("lraspp_mobilenet_v3_large"),
    "llama_tiny": {
        "build": TinyLlama,
        "inputs": llama_inputs,
        "export_args": {"batch": 3, "seq": 7},
        "test_args": {"batch": 2, "seq": 11},
        "dynamic_axes": {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}},
        "output_names": ["logits"],
    },
}


# Exported only when named with --models: bigger than CI needs. BERT-base (110M parameters) is
# the issue-4 benchmark and GPU model-check architecture.
EXTRA_MODELS = {
    "bert_base": dict(MODELS["bert_tiny"],
                      build=lambda: TinyBert(vocab=30522, hidden=768, heads=12, layers=12, ffn=3072, max_pos=512)),
}


def npy_dtype_name(a):
    return {"float32": "float32", "int64": "int64", "bool": "bool"}.get(str(a.dtype), str(a.dtype))


def script_digest():
    # A cached export is stale once this script changes (different models, seeds or inputs).
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def is_cached(out_dir):
    meta_path = os.path.join(out_dir, "meta.json")
    if not os.path.exists(os.path.join(out_dir, "model.onnx")) or not os.path.exists(meta_path):
        return False
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    if meta.get("script_sha256") != script_digest():
        return False
    files = [e["file"] for e in meta.get("inputs", []) + meta.get("outputs", [])]
    return bool(files) and all(os.path.exists(os.path.join(out_dir, f)) for f in files)


def export_one(name, spec, root, seed):
    out_dir = os.path.join(root, name)
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    model = spec["build"]().eval()
    params = sum(p.numel() for p in model.parameters())

    gen = torch.Generator().manual_seed(seed)
    dummy = spec["inputs"](gen=gen, **spec["export_args"])
    input_names = list(dummy.keys())
    model_path = os.path.join(out_dir, "model.onnx")
    tmp_path = model_path + ".tmp"
    # Gradients stay enabled: under no_grad, eval-mode nn.MultiheadAttention (ViT) takes its
    # fused fast path, which has no ONNX export. The reference outputs use the same path.
    # PyTorch >= 2.9 exports through dynamo by default; the TorchScript exporter is the one these
    # models (and their dynamic axes) were written for.
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(model, tuple(dummy.values()), tmp_path, opset_version=OPSET,
                      input_names=input_names, output_names=spec["output_names"],
                      dynamic_axes=spec["dynamic_axes"], do_constant_folding=True, **extra)

    # Fresh inputs at a different shape than the dummy: dynamic axes must really be dynamic.
    gen = torch.Generator().manual_seed(seed + 1)
    feeds = spec["inputs"](gen=gen, **spec["test_args"])
    outs = model(*feeds.values())
    if isinstance(outs, torch.Tensor):
        outs = (outs,)
    # Guard against vacuous references: the rows of a batch must differ, or an error in how the
    # input flows through the network could hide under the input-independent part.
    first = outs[0].detach()
    spread = float((first[0] - first[1]).norm() / first[0].norm().clamp_min(1e-30))
    if spread < 1e-2:
        raise RuntimeError(f"{name}: outputs barely depend on the input (batch rows differ by {spread:.2e})")

    meta = {"model": name, "opset": OPSET, "params": int(params), "torch": torch.__version__,
            "batch_row_spread": spread, "script_sha256": script_digest(),
            "export_shapes": {k: list(v.shape) for k, v in dummy.items()},
            "fresh_dims": bool(spec.get("fresh_dims", False)),
            "inputs": [], "outputs": []}
    for k, v in feeds.items():
        a = v.numpy()
        fname = f"input_{k}.npy"
        np.save(os.path.join(out_dir, fname), a)
        meta["inputs"].append({"name": k, "shape": list(a.shape), "dtype": npy_dtype_name(a), "file": fname})
    for i, (oname, v) in enumerate(zip(spec["output_names"], outs)):
        a = v.detach().numpy()
        fname = f"output_{i}.npy"
        np.save(os.path.join(out_dir, fname), a)
        meta["outputs"].append({"name": oname, "shape": list(a.shape), "dtype": npy_dtype_name(a), "file": fname})
    # model.onnx and meta.json land last so an interrupted export is never taken for a cached one.
    os.replace(tmp_path, model_path)
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return params


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="re-export models that are cached")
    ap.add_argument("--models", default="", help="comma-separated subset of: " + ", ".join(MODELS) +
                    " (default: all of them); also: " + ", ".join(EXTRA_MODELS))
    args = ap.parse_args()

    known = dict(MODELS, **EXTRA_MODELS)
    names = [n for n in args.models.split(",") if n] or list(MODELS)
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(known)}")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(args.out, exist_ok=True)
    for i, name in enumerate(names):
        out_dir = os.path.join(args.out, name)
        if not args.force and is_cached(out_dir):
            print(f"{name}: cached in {out_dir}")
            continue
        t0 = time.time()
        params = export_one(name, known[name], args.out, seed=1000 + 17 * list(known).index(name))
        print(f"{name}: exported {params / 1e6:.2f}M parameters to {out_dir} in {time.time() - t0:.1f} s")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
