#!/usr/bin/env python3
"""Writes the models the build-safety tests (tests/cpu/build_safety_test.cpp) build into OUT_DIR.

    /usr/bin/python3 tests/data/make_build_safety_fixtures.py OUT_DIR

ext/model.onnx         MatMul x[1,8] . w[8,8], w in ext/w.bin (external data)
escape/model.onnx      the same with w at 'sub/pw.bin' (the test makes it a link, inside or out)
dirdata/model.onnx     the same with w at 'wdir' (the test makes it a directory)
selfloop.onnx          Add(x, a) -> a: a node reading its own output
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def matmul_model(location, with_length=True):
    w = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8) / 64.0, "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    keys = [("location", location), ("offset", "0")] + ([("length", "256")] if with_length else [])
    for k, v in keys:
        e = w.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main(out):
    os.makedirs(out, exist_ok=True)
    weights = (np.arange(64, dtype=np.float32) / 64.0).tobytes()
    write(os.path.join(out, "ext", "model.onnx"), matmul_model("w.bin").SerializeToString())
    write(os.path.join(out, "ext", "w.bin"), weights)
    # No length key: a link to a file of any size reaches the directory check.
    write(os.path.join(out, "escape", "model.onnx"), matmul_model("sub/pw.bin", with_length=False).SerializeToString())
    write(os.path.join(out, "escape", "inside.bin"), weights)
    write(os.path.join(out, "outside", "secret.bin"), weights)
    write(os.path.join(out, "dirdata", "model.onnx"), matmul_model("wdir").SerializeToString())

    g = helper.make_graph([helper.make_node("Add", ["x", "a"], ["a"], name="loop_add")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    write(os.path.join(out, "selfloop.onnx"), m.SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
