#!/usr/bin/env python3
"""Writes models/tinynet.onnx, the bundled default model of the README's main command.

A small residual CNN classifier (Conv/BatchNorm/Relu, a residual block, global pooling, Gemm,
Softmax) with a dynamic batch axis and random weights: ~25k parameters, ~100 KB. Made with
onnx.helper and numpy so it needs no PyTorch. Run with Debian's python3 (python3-onnx):

    /usr/bin/python3 scripts/make_default_model.py [OUT.onnx]
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out_path: str) -> None:
    rng = np.random.default_rng(20261123)
    inits, nodes = [], []

    def weight(name, shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        s = scale if scale is not None else (2.0 / fan_in) ** 0.5
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name))
        return name

    def conv_bn_relu(x, cin, cout, stride, name, relu=True):
        w = weight(f"{name}.w", (cout, cin, 3, 3))
        nodes.append(helper.make_node("Conv", [x, w], [f"{name}.conv"], name=f"{name}.conv",
                                      kernel_shape=[3, 3], strides=[stride, stride], pads=[1, 1, 1, 1]))
        g = weight(f"{name}.bn.scale", (cout,), 0.1)
        inits[-1] = numpy_helper.from_array((1.0 + rng.standard_normal(cout) * 0.1).astype(np.float32), g)
        b = weight(f"{name}.bn.bias", (cout,), 0.1)
        m = weight(f"{name}.bn.mean", (cout,), 0.1)
        v = f"{name}.bn.var"
        inits.append(numpy_helper.from_array((0.5 + rng.random(cout)).astype(np.float32), v))
        out = f"{name}.bn"
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.conv", g, b, m, v], [out], name=out, epsilon=1e-5))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [f"{name}.relu"], name=f"{name}.relu"))
            return f"{name}.relu"
        return out

    x = conv_bn_relu("image", 3, 16, 2, "stem")
    x = conv_bn_relu(x, 16, 32, 2, "down")
    y = conv_bn_relu(x, 32, 32, 1, "block.a")
    y = conv_bn_relu(y, 32, 32, 1, "block.b", relu=False)
    nodes.append(helper.make_node("Add", [x, y], ["block.sum"], name="block.add"))
    nodes.append(helper.make_node("Relu", ["block.sum"], ["block.out"], name="block.relu"))
    nodes.append(helper.make_node("GlobalAveragePool", ["block.out"], ["pool"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1))
    fc_w = weight("fc.w", (10, 32))
    fc_b = weight("fc.b", (10,), 0.01)
    nodes.append(helper.make_node("Gemm", ["flat", fc_w, fc_b], ["logits"], name="fc", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1))

    graph = helper.make_graph(
        nodes, "tinynet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="slimrt")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out_path)
    params = sum(int(np.prod(t.dims)) for t in inits)
    print(f"wrote {out_path}: {len(nodes)} nodes, {params} parameters")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models/tinynet.onnx")
