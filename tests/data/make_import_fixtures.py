#!/usr/bin/python3
"""Writes the ONNX importer's test models into a directory (argv[1]).

Run by tests/cpu/onnx_import_test.cpp through SLIMRT_PYTHON (Debian's python3 with onnx 1.12 and
numpy). Bad models exercise error paths; good models come with inputs and numpy-computed expected
outputs as serialized TensorProtos: <case>.onnx, <case>_in<i>.pb, <case>_out<i>.pb.

onnx 1.12 can write models for opsets 18-21 as long as its checker is not run: opset_import is set
by hand and nothing here calls onnx.checker.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1]
RNG = np.random.default_rng(1234)
F = TensorProto.FLOAT


def model(nodes, inputs, outputs, inits=(), opset=13, ir=8, extra_opsets=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] + list(extra_opsets))
    m.ir_version = ir
    return m


def save(name, m):
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def save_case(name, m, ins, outs):
    """A good model with its inputs and expected outputs."""
    save(name, m)
    for i, a in enumerate(ins):
        with open(os.path.join(OUT, "%s_in%d.pb" % (name, i)), "wb") as f:
            f.write(numpy_helper.from_array(a).SerializeToString())
    for i, a in enumerate(outs):
        with open(os.path.join(OUT, "%s_out%d.pb" % (name, i)), "wb") as f:
            f.write(numpy_helper.from_array(a).SerializeToString())


def vi(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def rand(*shape):
    return RNG.uniform(-1, 1, size=shape).astype(np.float32)


def sig(x):
    return (1 / (1 + np.exp(-x))).astype(np.float32)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---- bad files ---------------------------------------------------------------------------------
with open(os.path.join(OUT, "not_onnx.onnx"), "wb") as f:
    f.write(b"this is a text file, not an ONNX model\n")
open(os.path.join(OUT, "empty.onnx"), "wb").close()
relu = model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [2, 3])], [vi("y", [2, 3])],
             inits=[numpy_helper.from_array(rand(64, 64), "w")])
data = relu.SerializeToString()
with open(os.path.join(OUT, "truncated.onnx"), "wb") as f:
    f.write(data[: len(data) // 2])

save("unsupported_op", model([helper.make_node("FooBar", ["x"], ["y"], name="my_node")],
                             [vi("x", [2])], [vi("y", [2])], opset=13))
save("unsupported_domain",
     model([helper.make_node("FusedMatMul", ["x", "x"], ["y"], name="fused", domain="com.microsoft")],
           [vi("x", [2, 2])], [vi("y", [2, 2])], extra_opsets=[helper.make_opsetid("com.microsoft", 1)]))
save("opset22", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], opset=22))
save("ir11", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], ir=11))
save("matmul_bad", model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
                         [vi("a", [2, 3]), vi("b", [4, 5])], [vi("y", None)]))
then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [], [vi("t", [2])])
save("graph_attr", model([helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=then_g)],
                         [vi("c", [], TensorProto.BOOL), vi("x", [2])], [vi("y", [2])]))
i16 = helper.make_tensor("w16", TensorProto.INT16, [2], [1, 2])
save("int16_init", model([helper.make_node("Identity", ["w16"], ["y"])], [], [vi("y", [2], TensorProto.INT16)],
                         inits=[i16]))
short = TensorProto(name="wshort", data_type=F, dims=[2, 3], float_data=[1.0, 2.0, 3.0])
save("short_typed", model([], [], [vi("wshort", [2, 3])], inits=[short]))
raw_short = TensorProto(name="wraw", data_type=F, dims=[4], raw_data=b"\0" * 12)
save("short_raw", model([], [], [vi("wraw", [4])], inits=[raw_short]))
save("undefined_input", model([helper.make_node("Relu", ["nope"], ["y"], name="reader")], [], [vi("y", [2])]))

# ---- external data -----------------------------------------------------------------------------
ext_dir = os.path.join(OUT, "ext")
os.makedirs(ext_dir, exist_ok=True)
w_a = rand(3, 5)
w_b = np.arange(7, dtype=np.int64)
w_c = rand(2, 3).astype(np.float16)
blob = bytearray()
blob += w_a.tobytes()                      # offset 0
off_b = len(blob)
blob += w_b.tobytes()                      # offset 60: int64 misaligned -> copied
off_c = len(blob) + 1
blob += b"\0" + w_c.tobytes()              # odd offset: fp16 misaligned -> copied
off_d = (len(blob) + 63) // 64 * 64
blob += b"\0" * (off_d - len(blob)) + w_a.tobytes()   # aligned copy of w_a
with open(os.path.join(ext_dir, "weights.bin"), "wb") as f:
    f.write(bytes(blob))


def ext_tensor(name, dtype, dims, location, offset, length):
    t = TensorProto(name=name, data_type=dtype, dims=dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def ext_model(tensors):
    return model([], [], [vi(t.name, None, t.data_type) for t in tensors], inits=tensors)


save_case("ext/ok", ext_model([
    ext_tensor("a", F, [3, 5], "weights.bin", 0, 60),
    ext_tensor("b", TensorProto.INT64, [7], "weights.bin", off_b, 56),
    ext_tensor("c", TensorProto.FLOAT16, [2, 3], "weights.bin", off_c, 12),
    ext_tensor("d", F, [3, 5], "weights.bin", off_d, 60)]), [], [w_a, w_b, w_c, w_a])
save("ext/missing", ext_model([ext_tensor("m", F, [3, 5], "missing.bin", 0, 60)]))
save("ext/past_end", ext_model([ext_tensor("p", F, [3, 5], "weights.bin", len(blob) - 8, 60)]))
save("ext/escape", ext_model([ext_tensor("e", F, [3, 5], "../weights.bin", 0, 60)]))
save("ext/absolute", ext_model([ext_tensor("abs", F, [3, 5], "/etc/passwd", 0, 60)]))

# ---- typed fields and dtypes -------------------------------------------------------------------
typed = [
    helper.make_tensor("t_f32", F, [2, 2], [1.5, -2.0, 3.25, 0.0]),
    helper.make_tensor("t_f64", TensorProto.DOUBLE, [3], [1.0, 2.5, -3.0]),
    helper.make_tensor("t_i64", TensorProto.INT64, [2], [-5, 1 << 40]),
    helper.make_tensor("t_i32", TensorProto.INT32, [2], [-7, 9]),
    helper.make_tensor("t_i8", TensorProto.INT8, [2], [-128, 127]),
    helper.make_tensor("t_u8", TensorProto.UINT8, [2], [0, 255]),
    helper.make_tensor("t_bool", TensorProto.BOOL, [3], [True, False, True]),
    # fp16 / bf16 typed data: 16-bit patterns in int32_data (1.5, -0.25 and 1.5, -2.0).
    TensorProto(name="t_f16", data_type=TensorProto.FLOAT16, dims=[2], int32_data=[0x3E00, 0xB400]),
    TensorProto(name="t_bf16", data_type=TensorProto.BFLOAT16, dims=[2], int32_data=[0x3FC0, 0xC000]),
    helper.make_tensor("t_scalar", F, [], [4.0]),
    numpy_helper.from_array(np.array([[1, 2], [3, 4]], np.int32), "t_raw_i32"),
    numpy_helper.from_array(np.zeros((0, 3), np.float32), "t_empty"),
]
save("typed", model([], [], [vi(t.name, None, t.data_type) for t in typed], inits=typed))

# ---- graph structure -----------------------------------------------------------------------------
# Weights listed as inputs (old exporters), unsorted nodes, unnamed nodes, symbolic dims.
w = rand(4)
m = model([helper.make_node("Relu", ["h"], ["y"]), helper.make_node("Add", ["x", "w"], ["h"])],
          [vi("x", ["batch", 4]), vi("w", [4]), vi("z", ["batch", None])], [vi("y", ["batch", 4])],
          inits=[numpy_helper.from_array(w, "w")])
x = rand(3, 4)
save_case("structure", m, [x, rand(3, 2)], [np.maximum(x + w, 0)])

# ---- opset-21 forms ------------------------------------------------------------------------------
x = rand(2, 3, 4)
save_case("reducesum21", model([helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)],
                               [vi("x", [2, 3, 4])], [vi("y", None)],
                               inits=[numpy_helper.from_array(np.array([-1, 0], np.int64), "axes")], opset=21, ir=10),
          [x], [x.sum(axis=(0, 2))])
x = rand(2, 7)
save_case("split18", model([helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)],
                           [vi("x", [2, 7])], [vi("a", None), vi("b", None), vi("c", None)], opset=18),
          [x], [x[:, 0:3], x[:, 3:6], x[:, 6:7]])
x = rand(2, 3, 4)
save_case("pad21", model([helper.make_node("Pad", ["x", "pads", "cv", "axes"], ["y"], mode="constant")],
                         [vi("x", [2, 3, 4])], [vi("y", None)],
                         inits=[numpy_helper.from_array(np.array([1, 0, 2, 3], np.int64), "pads"),
                                numpy_helper.from_array(np.array(0.5, np.float32), "cv"),
                                numpy_helper.from_array(np.array([1, -1], np.int64), "axes")], opset=21, ir=10),
          [x], [np.pad(x, ((0, 0), (1, 2), (0, 3)), constant_values=0.5)])
x = rand(1, 2, 3, 4)
save_case("resize19", model([helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest",
                                              coordinate_transformation_mode="asymmetric", nearest_mode="floor",
                                              axes=[2, 3], keep_aspect_ratio_policy="stretch")],
                            [vi("x", [1, 2, 3, 4])], [vi("y", None)],
                            inits=[numpy_helper.from_array(np.array([6, 8], np.int64), "sizes")], opset=19, ir=9),
          [x], [x.repeat(2, axis=2).repeat(2, axis=3)])

# ---- old-opset rewrites --------------------------------------------------------------------------
x = rand(3, 1, 4)
save_case("squeeze11", model([helper.make_node("Squeeze", ["x"], ["y"], axes=[1])], [vi("x", [3, 1, 4])],
                             [vi("y", None)], opset=11), [x], [x[:, 0, :]])
save_case("unsqueeze11", model([helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0, -1])], [vi("x", [3, 1, 4])],
                               [vi("y", None)], opset=11), [x], [x[None, :, :, :, None]])
x = rand(2, 3, 5)
save_case("reducemean13", model([helper.make_node("ReduceMean", ["x"], ["y"], axes=[1], keepdims=0)],
                                [vi("x", [2, 3, 5])], [vi("y", None)], opset=13), [x], [x.mean(axis=1)])
save_case("reducesum11", model([helper.make_node("ReduceSum", ["x"], ["y"], axes=[0, 2])],
                               [vi("x", [2, 3, 5])], [vi("y", None)], opset=11), [x], [x.sum(axis=(0, 2), keepdims=True)])
save_case("reducemax_all11", model([helper.make_node("ReduceMax", ["x"], ["y"], keepdims=0)],
                                   [vi("x", [2, 3, 5])], [vi("y", None)], opset=11), [x], [np.array(x.max())])
x = rand(2, 3, 4)
save_case("softmax11", model([helper.make_node("Softmax", ["r"], ["y"], axis=1), helper.make_node("Relu", ["x"], ["r"])],
                             [vi("x", [2, 3, 4])], [vi("y", None)], opset=11),
          [x], [softmax(np.maximum(x, 0).reshape(2, 12), 1).reshape(2, 3, 4)])
save_case("logsoftmax1_default", model([helper.make_node("LogSoftmax", ["x"], ["y"])],
                                       [vi("x", [2, 3, 4])], [vi("y", None)], opset=1),
          [x], [np.log(softmax(x.reshape(2, 12), 1)).reshape(2, 3, 4)])
save_case("softmax12_last", model([helper.make_node("Softmax", ["x"], ["y"], axis=-1)],
                                  [vi("x", [2, 3, 4])], [vi("y", None)], opset=12), [x], [softmax(x, -1)])
x = rand(3, 4)
save_case("clip6", model([helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.25)], [vi("x", [3, 4])],
                         [vi("y", None)], opset=6), [x], [np.clip(x, -0.5, 0.25)])
save_case("clip6_intermediate",
          model([helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Clip", ["n"], ["y"], max=0.25)],
                [vi("x", [3, 4])], [vi("y", None)], opset=6), [x], [np.minimum(-x, 0.25)])
x = rand(1, 2, 2, 3)
up = x.repeat(2, axis=2).repeat(3, axis=3)
save_case("upsample9", model([helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")],
                             [vi("x", [1, 2, 2, 3])], [vi("y", None)],
                             inits=[numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "scales")], opset=9),
          [x], [up])
save_case("upsample7", model([helper.make_node("Upsample", ["x"], ["y"], scales=[1.0, 1.0, 2.0, 3.0])],
                             [vi("x", [1, 2, 2, 3])], [vi("y", None)], opset=7), [x], [up])
save_case("resize10", model([helper.make_node("Resize", ["x", "scales"], ["y"], mode="nearest")],
                            [vi("x", [1, 2, 2, 3])], [vi("y", None)],
                            inits=[numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "scales")], opset=10),
          [x], [up])
a = rand(2, 3, 4, 5)
bias = rand(3)
save_case("add6_axis", model([helper.make_node("Add", ["a", "b"], ["y"], broadcast=1, axis=1)],
                             [vi("a", [2, 3, 4, 5])], [vi("y", None)], inits=[numpy_helper.from_array(bias, "b")], opset=6),
          [a], [a + bias[None, :, None, None]])
b34 = rand(3, 4)
save_case("mul6_axis_runtime",
          model([helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Mul", ["r", "b"], ["y"], broadcast=1, axis=1)],
                [vi("a", [2, 3, 4, 5]), vi("b", [3, 4])], [vi("y", None)], opset=6),
          [a, b34], [np.maximum(a, 0) * b34[None, :, :, None]])
b5 = rand(5)
save_case("sub6_suffix", model([helper.make_node("Sub", ["a", "b"], ["y"], broadcast=1)],
                               [vi("a", [2, 3, 4, 5])], [vi("y", None)], inits=[numpy_helper.from_array(b5, "b")], opset=6),
          [a], [a - b5])
x = rand(4, 6)
save_case("slice1", model([helper.make_node("Slice", ["x"], ["y"], starts=[1, -4], ends=[3, 100], axes=[0, 1])],
                          [vi("x", [4, 6])], [vi("y", None)], opset=1), [x], [x[1:3, -4:]])
save_case("pad2", model([helper.make_node("Pad", ["x"], ["y"], pads=[1, 0, 0, 2], value=1.5)],
                        [vi("x", [4, 6])], [vi("y", None)], opset=2), [x], [np.pad(x, ((1, 0), (0, 2)), constant_values=1.5)])
save_case("split2", model([helper.make_node("Split", ["x"], ["a", "b"], axis=1, split=[2, 4])],
                          [vi("x", [4, 6])], [vi("a", None), vi("b", None)], opset=2), [x], [x[:, :2], x[:, 2:]])
save_case("split11_equal", model([helper.make_node("Split", ["x"], ["a", "b"], axis=0)],
                                 [vi("x", [4, 6])], [vi("a", None), vi("b", None)], opset=11), [x], [x[:2], x[2:]])
save_case("reshape4", model([helper.make_node("Reshape", ["x"], ["y"], shape=[3, -1])],
                            [vi("x", [4, 6])], [vi("y", None)], opset=4), [x], [x.reshape(3, 8)])
idx = np.argsort(-x, axis=1)[:, :2]
save_case("topk1", model([helper.make_node("TopK", ["x"], ["v", "i"], k=2)], [vi("x", [4, 6])],
                         [vi("v", None), vi("i", None, TensorProto.INT64)], opset=1),
          [x], [np.take_along_axis(x, idx, 1), idx.astype(np.int64)])
save_case("dropout7", model([helper.make_node("Dropout", ["x"], ["y", "mask"], ratio=0.3)],
                            [vi("x", [4, 6])], [vi("y", None)], opset=7), [x], [x])
save_case("cast6", model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT32)],
                         [vi("x", [4, 6])], [vi("y", None, TensorProto.INT32)], opset=6), [x * 10], [(x * 10).astype(np.int32)])
save_case("cast1_string", model([helper.make_node("Cast", ["x"], ["y"], to="DOUBLE")],
                                [vi("x", [4, 6])], [vi("y", None, TensorProto.DOUBLE)], opset=1), [x], [x.astype(np.float64)])
A, B, C = rand(2, 3), rand(3, 4), rand(4)
save_case("gemm6", model([helper.make_node("Gemm", ["a", "b", "c"], ["y"], broadcast=1, alpha=0.5)],
                         [vi("a", [2, 3]), vi("b", [3, 4]), vi("c", [4])], [vi("y", None)], opset=6),
          [A, B, C], [0.5 * A @ B + C])
x = rand(1, 3, 2, 2)
sc, bi, mu, var = rand(3), rand(3), rand(3), np.abs(rand(3)) + 0.5
save_case("batchnorm7", model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                                                epsilon=1e-3, spatial=1)],
                              [vi("x", [1, 3, 2, 2])], [vi("y", None)],
                              inits=[numpy_helper.from_array(t, n) for t, n in
                                     ((sc, "s"), (bi, "b"), (mu, "m"), (var, "v"))], opset=7),
          [x], [(x - mu[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-3) * sc[None, :, None, None]
                + bi[None, :, None, None]])
data = rand(3, 3)
ind = np.array([[1, 0, 2], [0, 2, 1]], np.int64)
upd = rand(2, 3)
exp = data.copy()
for i in range(2):
    for j in range(3):
        exp[ind[i, j], j] = upd[i, j]
save_case("scatter9", model([helper.make_node("Scatter", ["d", "i", "u"], ["y"], axis=0)],
                            [vi("d", [3, 3]), vi("i", [2, 3], TensorProto.INT64), vi("u", [2, 3])], [vi("y", None)], opset=9),
          [data, ind, upd], [exp])
x = rand(2, 3)
save_case("constants", model([helper.make_node("Constant", [], ["c1"], value_float=2.0),
                              helper.make_node("Constant", [], ["c2"], value_floats=[1.0, 2.0, 3.0]),
                              helper.make_node("Constant", [], ["c3"], value=numpy_helper.from_array(rand(2, 1), "t")),
                              helper.make_node("Mul", ["x", "c1"], ["m"]),
                              helper.make_node("Add", ["m", "c2"], ["y"])],
                             [vi("x", [2, 3])], [vi("y", None)], opset=13), [x], [x * 2 + np.array([1, 2, 3], np.float32)])
# A shape subgraph that folds: Reshape(x, Concat(Gather(Shape(x), 0), [-1])).
x = rand(2, 3, 4)
save_case("shape_subgraph",
          model([helper.make_node("Shape", ["x"], ["s"]),
                 helper.make_node("Gather", ["s", "zero"], ["d0"], axis=0),
                 helper.make_node("Unsqueeze", ["d0", "ax"], ["d0v"]),
                 helper.make_node("Concat", ["d0v", "minus1"], ["shp"], axis=0),
                 helper.make_node("Reshape", ["x", "shp"], ["y"])],
                [vi("x", ["n", 3, 4])], [vi("y", None)],
                inits=[numpy_helper.from_array(np.array(0, np.int64), "zero"),
                       numpy_helper.from_array(np.array([0], np.int64), "ax"),
                       numpy_helper.from_array(np.array([-1], np.int64), "minus1")], opset=13),
          [x], [x.reshape(2, 12)])

# ---- more legacy forms and structure -------------------------------------------------------------
x = rand(2, 3, 4, 5)
slope = rand(3)
save_case("prelu6_channel",
          model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["n"]),
                 helper.make_node("PRelu", ["n", "slope"], ["y"])],
                [vi("x", [2, 3, 4, 5])], [vi("y", None)], inits=[numpy_helper.from_array(slope, "slope")], opset=6),
          [x], [np.where(-np.maximum(x, 0) >= 0, -np.maximum(x, 0), -np.maximum(x, 0) * slope[None, :, None, None])])
x = rand(1, 3, 2, 2)
save("batchnorm7_per_activation",
     model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=0, name="bn")],
           [vi("x", [1, 3, 2, 2])], [vi("y", None)],
           inits=[numpy_helper.from_array(rand(3, 2, 2), n) for n in "sbmv"], opset=7))
x = rand(2, 3)
save_case("int_constants", model([helper.make_node("Constant", [], ["k"], value_int=2),
                                  helper.make_node("Constant", [], ["shape"], value_ints=[3, 2]),
                                  helper.make_node("Reshape", ["x", "shape"], ["r"]),
                                  helper.make_node("Cast", ["k"], ["kf"], to=TensorProto.FLOAT),
                                  helper.make_node("Mul", ["r", "kf"], ["y"])],
                                 [vi("x", [2, 3])], [vi("y", None)], opset=13), [x], [x.reshape(3, 2) * 2])
save("cycle", model([helper.make_node("Relu", ["b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2")],
                    [vi("x", [2])], [vi("a", [2])]))
save("no_default_opset",
     helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="lonely")], "g",
                                         [vi("x", [2])], [vi("y", [2])]),
                       opset_imports=[helper.make_opsetid("ai.onnx.ml", 3)]))
save("redefined", model([helper.make_node("Relu", ["x"], ["x"], name="self_writer")], [vi("x", [2])], [vi("x", [2])]))
# Names: every way a graph can define a name twice, read its own output, or list its nodes out of
# order (the importer's name table answers all of these).
w2 = rand(2)
save("init_twice", model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [2])], [vi("y", [2])],
                         inits=[numpy_helper.from_array(w2, "w"), numpy_helper.from_array(rand(2), "w")]))
save("input_twice", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2]), vi("x", [2])], [vi("y", [2])]))
save("two_writers", model([helper.make_node("Relu", ["x"], ["y"], name="first"),
                           helper.make_node("Neg", ["x"], ["y"], name="second")], [vi("x", [2])], [vi("y", [2])]))
save("self_reader", model([helper.make_node("Add", ["x", "s"], ["s"], name="loop")], [vi("x", [2])], [vi("s", [2])]))
x = rand(2, 3)
w23 = rand(2, 3)
# Old exporters list weights among the graph inputs; consumer before producer in the file.
save_case("weights_as_inputs_out_of_order",
          model([helper.make_node("Mul", ["r", "w"], ["y"], name="late"),
                 helper.make_node("Relu", ["x"], ["r"], name="early")],
                [vi("x", [2, 3]), vi("w", [2, 3])], [vi("y", [2, 3])], inits=[numpy_helper.from_array(w23, "w")]),
          [x], [np.maximum(x, 0) * w23])
# Nodes listed last-first, and a Concat reading the same two producers several times: the order
# the importer finds counts each producer once.
x = rand(2, 3)
save_case("repeated_producers_reversed",
          model([helper.make_node("Concat", ["a", "b", "a", "a", "b"], ["y"], axis=1, name="cat"),
                 helper.make_node("Neg", ["r"], ["b"], name="neg"),
                 helper.make_node("Relu", ["r"], ["a"], name="relu"),
                 helper.make_node("Sigmoid", ["x"], ["r"], name="sig")],
                [vi("x", [2, 3])], [vi("y", [2, 15])]),
          [x], [np.concatenate([sig(x), -sig(x), sig(x), sig(x), -sig(x)], axis=1)])
save("unknown_output", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("zzz", [2])]))
save("constant_string", model([helper.make_node("Constant", [], ["s"], value_string="hi", name="strc")], [],
                              [vi("s", None, TensorProto.STRING)]))
# A second external-data layout: two files and a nested directory, read back via the bytes API.
os.makedirs(os.path.join(ext_dir, "sub"), exist_ok=True)
w_e = rand(4, 4)
with open(os.path.join(ext_dir, "sub", "more.bin"), "wb") as f:
    f.write(w_e.tobytes())
save_case("ext/two_files", ext_model([ext_tensor("a", F, [3, 5], "weights.bin", 0, 60),
                                      ext_tensor("e", F, [4, 4], "sub/./more.bin", 0, 64)]), [], [w_a, w_e])
t_nolen = ext_tensor("n", F, [3, 5], "weights.bin", 0, 60)
del t_nolen.external_data[2]  # no length key: the shape decides
save_case("ext/no_length", ext_model([t_nolen]), [], [w_a])
save("ext/wrong_length", ext_model([ext_tensor("wl", F, [3, 5], "weights.bin", 0, 64)]))
x = rand(2, 6, 3)
gs, gb = rand(3), rand(3)
xg = x.reshape(2, 3, -1)
norm = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5)).reshape(2, 6, 3)
save_case("groupnorm18", model([helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3)],
                               [vi("x", [2, 6, 3])], [vi("y", None)],
                               inits=[numpy_helper.from_array(gs, "s"), numpy_helper.from_array(gb, "b")], opset=18),
          [x], [norm * np.repeat(gs, 2)[None, :, None] + np.repeat(gb, 2)[None, :, None]])
save("several_unsupported", model([helper.make_node("FooBar", ["x"], ["a"], name="first_bad"),
                                   helper.make_node("FooBar", ["a"], ["b"]),
                                   helper.make_node("BazQux", ["b"], ["y"])],
                                  [vi("x", [2])], [vi("y", [2])], opset=11))


def linear_asym(a, axis, scale):
    n = a.shape[axis]
    out_n = int(n * scale)
    pos = np.arange(out_n) / scale
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (pos - i0).astype(np.float32)
    shape = [1] * a.ndim
    shape[axis] = out_n
    return np.take(a, i0, axis) * (1 - w.reshape(shape)) + np.take(a, i1, axis) * w.reshape(shape)


x = rand(1, 2, 3, 4)
save_case("upsample9_linear", model([helper.make_node("Upsample", ["x", "scales"], ["y"], mode="linear")],
                                    [vi("x", [1, 2, 3, 4])], [vi("y", None)],
                                    inits=[numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")],
                                    opset=9),
          [x], [linear_asym(linear_asym(x, 2, 2.0), 3, 2.0)])
x = rand(2, 3, 2, 2)
save_case("batchnorm9_unused_outputs",
          model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv", "sm", "sv"])],
                [vi("x", [2, 3, 2, 2])], [vi("y", None)],
                inits=[numpy_helper.from_array(t, n) for t, n in ((sc, "s"), (bi, "b"), (mu, "m"), (var, "v"))],
                opset=9),
          [x], [(x - mu[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5) * sc[None, :, None, None]
                + bi[None, :, None, None]])
