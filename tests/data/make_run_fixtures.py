#!/usr/bin/env python3
"""Writes the small models the `slimrt run` input and statistics tests use into OUT_DIR.

    /usr/bin/python3 tests/data/make_run_fixtures.py OUT_DIR

dynamic_add.onnx: y = x + x with every dim of x symbolic (a, b, c, d), float32.
"""
import os
import sys

import onnx
from onnx import TensorProto, helper


def main(out):
    os.makedirs(out, exist_ok=True)
    g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"], name="double")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["a", "b", "c", "d"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b", "c", "d"])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "dynamic_add.onnx"))


if __name__ == "__main__":
    main(sys.argv[1])
