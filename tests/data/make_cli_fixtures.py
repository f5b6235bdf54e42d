#!/usr/bin/env python3
"""Writes the bad and edge-case models the CLI tests feed to `slimrt run` into OUT_DIR.

    /usr/bin/python3 tests/data/make_cli_fixtures.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, path):
    onnx.save(model, path)


def main(out):
    os.makedirs(out, exist_ok=True)
    f = TensorProto.FLOAT

    # A valid model, written whole and cut in the middle of its weights.
    w = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", f, ["batch", 8])],
                          [helper.make_tensor_value_info("y", f, ["batch", 8])], [w])
    good = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    data = good.SerializeToString()
    with open(os.path.join(out, "truncated.onnx"), "wb") as fh:
        fh.write(data[: len(data) - 100])

    with open(os.path.join(out, "not_onnx.onnx"), "wb") as fh:
        fh.write(b"this is a text file, not a protobuf\n" * 4)

    # Weights in an external file that is not there.
    ext = numpy_helper.from_array(np.ones((8, 8), dtype=np.float32), "w")
    ext.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "missing_weights.bin"), ("offset", "0"), ("length", "256")):
        entry = ext.external_data.add()
        entry.key, entry.value = k, v
    ext.ClearField("raw_data")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", f, [1, 8])],
                          [helper.make_tensor_value_info("y", f, [1, 8])], [ext])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "missing_external.onnx"))

    # An op slimrt does not support.
    g = helper.make_graph([helper.make_node("Det", ["x"], ["y"], name="determinant_node")], "g",
                          [helper.make_tensor_value_info("x", f, [3, 3])],
                          [helper.make_tensor_value_info("y", f, [])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "unsupported_op.onnx"))

    # Shapes that cannot be inferred: MatMul of [2,3] by [4,5].
    w = numpy_helper.from_array(np.ones((4, 5), dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="bad_matmul")], "g",
                          [helper.make_tensor_value_info("x", f, [2, 3])],
                          [helper.make_tensor_value_info("y", f, None)], [w])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "bad_shapes.onnx"))


if __name__ == "__main__":
    main(sys.argv[1])
