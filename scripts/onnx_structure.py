#!/usr/bin/env python3
"""Keeps an ONNX model's structure without its weights, or fills such a skeleton with random
weights again. Lets the graph a model exporter produced on another machine (the GPU machine's
PyTorch) be inspected and built here without moving hundreds of MB.

  python3 scripts/onnx_structure.py strip  MODEL.onnx SKELETON.onnx
  python3 scripts/onnx_structure.py fill   SKELETON.onnx MODEL.onnx [--seed N]
"""
import argparse

import numpy as np
import onnx
from onnx import numpy_helper


def strip(src, dst):
    m = onnx.load(src)
    for t in m.graph.initializer:
        if np.prod(t.dims, dtype=np.int64) > 64:  # keep small ones: shapes, axes, constants
            t.ClearField("raw_data")
            for f in ("float_data", "int32_data", "int64_data", "double_data"):
                t.ClearField(f)
            t.doc_string = "stripped"
    onnx.save(m, dst)


def fill(src, dst, seed):
    m = onnx.load(src)
    rng = np.random.default_rng(seed)
    for i, t in enumerate(m.graph.initializer):
        if t.doc_string != "stripped":
            continue
        dtype = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[t.data_type] if not hasattr(onnx.helper, "tensor_dtype_to_np_dtype") \
            else onnx.helper.tensor_dtype_to_np_dtype(t.data_type)
        shape = tuple(t.dims)
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        if np.issubdtype(dtype, np.floating):
            a = (rng.standard_normal(shape) / np.sqrt(max(fan_in, 1))).astype(dtype)
        else:
            a = np.zeros(shape, dtype)
        new = numpy_helper.from_array(a, t.name)
        m.graph.initializer[i].CopyFrom(new)
    onnx.save(m, dst)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["strip", "fill"])
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    strip(a.src, a.dst) if a.mode == "strip" else fill(a.src, a.dst, a.seed)
