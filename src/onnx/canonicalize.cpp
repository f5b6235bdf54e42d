// Rewrites nodes of ONNX opsets 1..21 into the IR's canonical (opset 21) form: attributes that
// later became inputs become constant inputs, renamed/removed ops map to their successors, and
// element-type attributes hold slimrt DataType values. docs/ir.md has the table.
#include <cstring>
#include <set>

#include "onnx/onnx_internal.h"
#include "slimrt/backend.h"

namespace slimrt::onnx_import {

namespace {

std::string describe(const NodeSpec& s, int64_t opset) {
  return "node '" + s.name + "' (" + s.op_type + ", opset " + std::to_string(opset) + ")";
}

template <typename T>
std::optional<T> take_attr(NodeSpec& s, const std::string& name) {
  auto it = s.attrs.find(name);
  if (it == s.attrs.end()) return std::nullopt;
  std::optional<T> out;
  if (const T* v = std::get_if<T>(&it->second)) out = *v;
  s.attrs.erase(it);
  return out;
}

// Like take_attr<int64_t> but fails when the attribute exists with another kind.
Result<std::optional<int64_t>> take_int(NodeSpec& s, const std::string& name, int64_t opset) {
  auto it = s.attrs.find(name);
  if (it == s.attrs.end()) return std::optional<int64_t>();
  const int64_t* v = std::get_if<int64_t>(&it->second);
  if (!v) return invalid_argument(describe(s, opset) + ": attribute '" + name + "' must be an int");
  const int64_t out = *v;
  s.attrs.erase(it);
  return std::optional<int64_t>(out);
}

Result<std::optional<std::vector<int64_t>>> take_ints(NodeSpec& s, const std::string& name, int64_t opset) {
  auto it = s.attrs.find(name);
  if (it == s.attrs.end()) return std::optional<std::vector<int64_t>>();
  std::vector<int64_t> out;
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) {
    out = *v;
  } else if (const int64_t* one = std::get_if<int64_t>(&it->second)) {
    out = {*one};
  } else {
    return invalid_argument(describe(s, opset) + ": attribute '" + name + "' must be a list of ints");
  }
  s.attrs.erase(it);
  return std::optional<std::vector<int64_t>>(std::move(out));
}

std::optional<float> take_float(NodeSpec& s, const std::string& name) {
  auto it = s.attrs.find(name);
  if (it == s.attrs.end()) return std::nullopt;
  std::optional<float> out;
  if (const float* f = std::get_if<float>(&it->second)) out = *f;
  else if (const int64_t* i = std::get_if<int64_t>(&it->second)) out = static_cast<float>(*i);
  s.attrs.erase(it);
  return out;
}

void set_input(NodeSpec& s, size_t i, Value* v) {
  if (s.inputs.size() <= i) s.inputs.resize(i + 1, nullptr);
  s.inputs[i] = v;
}

// Moves an int-list attribute into input `index` as an int64 constant, when present.
Status ints_attr_to_input(GraphBuilder& b, NodeSpec& s, const std::string& attr, size_t index,
                          bool skip_empty = false) {
  SLIMRT_ASSIGN_OR_RETURN(auto v, take_ints(s, attr, b.opset()));
  if (!v || (skip_empty && v->empty())) return Status::OK();
  set_input(s, index, b.int64_constant(s.name + "/" + attr, *v));
  return Status::OK();
}

// A scalar constant with the dtype of `like`: made directly when that dtype is known now, else a
// float constant cast by a CastLike helper that is folded once inference knows the dtype.
Result<Value*> constant_like(GraphBuilder& b, const std::string& hint, float value, Value* like) {
  DataType dt = like ? like->dtype() : DataType::kUndefined;
  if (dt == DataType::kUndefined && is_supported_op("CastLike")) {
    Value* f = b.float_constant(hint, {value}, /*scalar=*/true);
    SLIMRT_ASSIGN_OR_RETURN(Node* n, b.helper_node("CastLike", hint + "/cast", {f, like}, 1));
    b.cast_like_nodes().push_back(n);
    return n->output(0);
  }
  if (dt == DataType::kUndefined) dt = DataType::kFloat32;
  const Tensor f = Tensor::from_vector<float>(DataType::kFloat32, {}, {value});
  SLIMRT_ASSIGN_OR_RETURN(Tensor t, convert_constant(f, dt));
  return b.constant(hint, std::move(t));
}

Status import_constant(GraphBuilder& b, NodeSpec& s) {
  const std::string d = describe(s, b.opset());
  if (s.output_names.size() != 1 || s.output_names[0].empty())
    return invalid_argument(d + " must have exactly one output");
  if (s.attrs.size() != 1) return invalid_argument(d + " must have exactly one value attribute");
  const auto& [key, attr] = *s.attrs.begin();
  Tensor t;
  if (key == "value") {
    const Tensor* v = std::get_if<Tensor>(&attr);
    if (!v) return invalid_argument(d + ": attribute 'value' must be a tensor");
    t = *v;
  } else if (key == "value_float" && std::holds_alternative<float>(attr)) {
    t = Tensor::from_vector<float>(DataType::kFloat32, {}, {std::get<float>(attr)});
  } else if (key == "value_floats" && std::holds_alternative<std::vector<float>>(attr)) {
    const auto& v = std::get<std::vector<float>>(attr);
    t = Tensor::from_vector<float>(DataType::kFloat32, {static_cast<int64_t>(v.size())}, v);
  } else if (key == "value_int" && std::holds_alternative<int64_t>(attr)) {
    t = Tensor::from_vector<int64_t>(DataType::kInt64, {}, {std::get<int64_t>(attr)});
  } else if (key == "value_ints" && std::holds_alternative<std::vector<int64_t>>(attr)) {
    const auto& v = std::get<std::vector<int64_t>>(attr);
    t = Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
  } else if (key == "value_string" || key == "value_strings" || key == "sparse_value") {
    return unsupported(d + ": attribute '" + key + "' is not supported (slimrt has no string or sparse tensors)");
  } else {
    return invalid_argument(d + ": unexpected attribute '" + key + "'");
  }
  const std::string& name = s.output_names[0];
  if (b.find(name)) return invalid_argument(d + " writes '" + name + "', which is already defined");
  b.define(name, b.graph().add_initializer(name, std::move(t)));
  return Status::OK();
}

// Element-type attributes: ONNX TensorProto numbers (or Cast-1..5 strings) -> slimrt DataType.
Status map_dtype_attr(GraphBuilder& b, NodeSpec& s, const std::string& attr) {
  auto it = s.attrs.find(attr);
  if (it == s.attrs.end()) return Status::OK();
  std::optional<int32_t> onnx_type;
  if (const int64_t* i = std::get_if<int64_t>(&it->second)) onnx_type = static_cast<int32_t>(*i);
  else if (const std::string* str = std::get_if<std::string>(&it->second)) onnx_type = onnx_dtype_from_string(*str);
  if (!onnx_type)
    return invalid_argument(describe(s, b.opset()) + ": attribute '" + attr + "' does not name an element type");
  const std::optional<DataType> dt = dtype_from_onnx(*onnx_type);
  if (!dt) {
    return unsupported(describe(s, b.opset()) + ": attribute '" + attr + "' names element type " +
                       onnx_dtype_name(*onnx_type) + ", which slimrt does not support");
  }
  it->second = static_cast<int64_t>(*dt);
  return Status::OK();
}

bool is_reduce(const std::string& op) {
  static const std::set<std::string> kOps = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                             "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                                             "ReduceSumSquare"};
  return kOps.count(op) != 0;
}

bool is_legacy_broadcast_op(const std::string& op) {
  static const std::set<std::string> kOps = {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor",
                                             "Equal", "Greater", "Less"};
  return kOps.count(op) != 0;
}

// Makes sure both inputs have known ranks, inferring the graph built so far when needed.
Status need_ranks(GraphBuilder& b, const NodeSpec& s, Value* a, Value* bv, const std::string& why) {
  if (!a->has_shape() || !bv->has_shape()) {
    Status st = b.infer_so_far();
    if (!st.ok()) return st.with_context("inferring ranks for " + why + " at " + describe(s, b.opset()));
  }
  if (!a->has_shape() || !bv->has_shape())
    return unsupported(describe(s, b.opset()) + ": " + why + " needs the ranks of both inputs, which are unknown");
  return Status::OK();
}

// Appends ones to B's shape so that numpy broadcasting aligns B with A starting at `axis` (the
// legacy rule). Constant B is reshaped; a computed B goes through an Unsqueeze.
Status align_second_input(GraphBuilder& b, NodeSpec& s, int64_t axis) {
  Value* a = s.inputs[0];
  Value* bv = s.inputs[1];
  const int64_t ra = static_cast<int64_t>(a->shape().size());
  const int64_t rb = static_cast<int64_t>(bv->shape().size());
  const int64_t ax = axis < 0 ? axis + ra : axis;
  const int64_t ones = ra - ax - rb;
  if (ax < 0 || ones < 0) {
    return invalid_argument(describe(s, b.opset()) + ": legacy broadcast axis " + std::to_string(axis) +
                            " does not fit B " + shape_to_string(bv->shape()) + " into A " +
                            shape_to_string(a->shape()));
  }
  if (ones == 0) return Status::OK();
  if (const Tensor* c = bv->constant()) {
    std::vector<int64_t> shape = c->shape();
    shape.insert(shape.end(), static_cast<size_t>(ones), 1);
    SLIMRT_ASSIGN_OR_RETURN(Tensor r, c->reshaped(shape));
    s.inputs[1] = b.constant(bv->name() + "/aligned", std::move(r));
    return Status::OK();
  }
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < ones; ++i) axes.push_back(-1 - i);
  Value* axes_v = b.int64_constant(s.name + "/align_axes", axes);
  SLIMRT_ASSIGN_OR_RETURN(Node* u, b.helper_node("Unsqueeze", s.name + "/align", {bv, axes_v}, 1));
  s.inputs[1] = u->output(0);
  return Status::OK();
}

// Opset < 7: `broadcast`/`axis` align B's dims with A's starting at `axis`; append ones to B so
// numpy broadcasting gives the same result.
Status rewrite_legacy_broadcast(GraphBuilder& b, NodeSpec& s) {
  const std::optional<int64_t> bc = take_attr<int64_t>(s, "broadcast");
  SLIMRT_ASSIGN_OR_RETURN(std::optional<int64_t> axis, take_int(s, "axis", b.opset()));
  if (!bc || *bc == 0 || !axis || s.inputs.size() < 2 || !s.inputs[0] || !s.inputs[1]) return Status::OK();
  SLIMRT_RETURN_IF_ERROR(need_ranks(b, s, s.inputs[0], s.inputs[1], "legacy broadcasting with 'axis'"));
  return align_second_input(b, s, *axis);
}

// PRelu < 7 applies a slope of shape [C] per channel (axis 1); numpy broadcasting would align it
// with the last axis instead.
Status rewrite_legacy_prelu(GraphBuilder& b, NodeSpec& s) {
  if (s.inputs.size() < 2 || !s.inputs[0] || !s.inputs[1]) return Status::OK();
  SLIMRT_RETURN_IF_ERROR(need_ranks(b, s, s.inputs[0], s.inputs[1], "per-channel PRelu slope"));
  const Shape& slope = s.inputs[1]->shape();
  if (slope.size() != 1 || slope[0] == Dim(1) || s.inputs[0]->shape().size() < 2) return Status::OK();
  return align_second_input(b, s, 1);
}


// Softmax/LogSoftmax/Hardmax < 13 coerce the input to 2-D at `axis` (default 1).
Status emit_coerced_softmax(GraphBuilder& b, NodeSpec s) {
  SLIMRT_ASSIGN_OR_RETURN(std::optional<int64_t> axis_attr, take_int(s, "axis", b.opset()));
  const int64_t axis = axis_attr.value_or(1);
  Value* x = s.inputs.empty() ? nullptr : s.inputs[0];
  bool last = axis == -1;
  if (x && x->has_shape()) {
    const int64_t r = static_cast<int64_t>(x->shape().size());
    last = last || axis == r - 1;
  }
  s.attrs["axis"] = int64_t{-1};
  if (last || !x) return b.emit(std::move(s)).status();
  SLIMRT_ASSIGN_OR_RETURN(Node* flat, b.helper_node("Flatten", s.name + "/flatten", {x}, 1, {{"axis", axis}}));
  SLIMRT_ASSIGN_OR_RETURN(Node* shape, b.helper_node("Shape", s.name + "/shape", {x}, 1));
  const std::vector<std::string> outs = s.output_names;
  const std::string name = s.name;
  NodeSpec core = s;
  core.name = name + "/2d";
  core.inputs = {flat->output(0)};
  core.output_names = {""};
  // The model's node name goes to the Reshape that produces the model's output.
  SLIMRT_ASSIGN_OR_RETURN(Node* op, b.helper_node(core.op_type, core.name, core.inputs, 1, core.attrs));
  NodeSpec reshape;
  reshape.op_type = "Reshape";
  reshape.name = name;
  reshape.inputs = {op->output(0), shape->output(0)};
  reshape.output_names = outs;
  return b.emit(std::move(reshape)).status();
}

// Upsample-1/7/9 and Resize-10 -> Resize (opset 19 attributes).
Status rewrite_to_resize(GraphBuilder& b, NodeSpec& s) {
  const std::string mode = take_attr<std::string>(s, "mode").value_or("nearest");
  Value* x = s.inputs.empty() ? nullptr : s.inputs[0];
  Value* scales = s.inputs.size() > 1 ? s.inputs[1] : nullptr;
  if (auto f = take_attr<std::vector<float>>(s, "scales")) scales = b.float_constant(s.name + "/scales", *f);
  const std::optional<float> hs = take_float(s, "height_scale");
  const std::optional<float> ws = take_float(s, "width_scale");
  if (hs || ws) scales = b.float_constant(s.name + "/scales", {1.0f, 1.0f, hs.value_or(1.0f), ws.value_or(1.0f)});
  if (!scales) return invalid_argument(describe(s, b.opset()) + " has no scales");
  s.op_type = "Resize";
  s.inputs = {x, nullptr, scales};
  s.attrs.clear();
  s.attrs["mode"] = std::string(mode == "bilinear" ? "linear" : mode);
  s.attrs["coordinate_transformation_mode"] = std::string("asymmetric");
  s.attrs["nearest_mode"] = std::string("floor");
  return Status::OK();
}

// GroupNormalization < 21 has one scale/bias per group; opset 21 has one per channel. Constant
// per-group vectors are repeated per channel when the channel count is known; otherwise they stay
// per group (the op accepts both, and they agree when channels == groups).
Status rewrite_group_norm_scale(GraphBuilder& b, NodeSpec& s) {
  if (s.inputs.size() < 3 || !s.inputs[0] || !s.inputs[1] || !s.inputs[2]) return Status::OK();
  if (!s.inputs[1]->constant() || !s.inputs[2]->constant()) return Status::OK();
  const int64_t groups = [&] {
    auto it = s.attrs.find("num_groups");
    const int64_t* g = it == s.attrs.end() ? nullptr : std::get_if<int64_t>(&it->second);
    return g ? *g : 0;
  }();
  if (groups <= 0) return Status::OK();
  Value* x = s.inputs[0];
  if (!x->has_shape()) {
    Status st = b.infer_so_far();
    if (!st.ok()) return st.with_context("inferring the channel count of " + describe(s, b.opset()));
  }
  if (!x->has_shape() || x->shape().size() < 2 || !x->shape()[1].is_static()) return Status::OK();
  const int64_t channels = *x->shape()[1].value();
  if (channels == groups || channels % groups != 0) return Status::OK();
  for (size_t i = 1; i < 3; ++i) {
    const Tensor& t = *s.inputs[i]->constant();
    if (t.rank() != 1 || t.numel() != groups) return Status::OK();
  }
  for (size_t i = 1; i < 3; ++i) {
    const Tensor& t = *s.inputs[i]->constant();
    SLIMRT_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(t.dtype(), {channels}));
    const size_t es = dtype_size(t.dtype());
    const int64_t per = channels / groups;
    for (int64_t c = 0; c < channels; ++c) {
      std::memcpy(static_cast<uint8_t*>(out.raw()) + static_cast<size_t>(c) * es,
                  static_cast<const uint8_t*>(t.raw()) + static_cast<size_t>(c / per) * es, es);
    }
    s.inputs[i] = b.constant(s.inputs[i]->name() + "/per_channel", std::move(out));
  }
  return Status::OK();
}

bool is_empty_constant(const Value* v) { return v && v->constant() && v->constant()->numel() == 0; }

// Optional outputs nobody reads are dropped, so inference-only forms stay inference-only.
void drop_unused_outputs(GraphBuilder& b, NodeSpec& s, size_t keep) {
  for (size_t i = keep; i < s.output_names.size(); ++i) {
    if (!b.is_read(s.output_names[i])) s.output_names[i].clear();
  }
}

}  // namespace

std::string canonical_op_type(const std::string& onnx_op) {
  if (onnx_op == "Upsample") return "Resize";
  if (onnx_op == "Scatter") return "ScatterElements";
  return onnx_op;
}

Status unsupported_op_error(const std::string& node_name, const std::string& op, int64_t opset,
                            const std::vector<std::string>& others) {
  std::string msg = "node '" + node_name + "' (" + op + ", opset " + std::to_string(opset) + "): op '" + op +
                    "' is not supported by slimrt (docs/ops.md lists the supported ops; `slimrt ops` prints them)";
  if (!others.empty()) {
    msg += "; the model also uses these unsupported ops:";
    for (size_t i = 0; i < others.size(); ++i) msg += (i ? ", " : " ") + others[i];
  }
  return unsupported(msg);
}

Status canonicalize_and_emit(GraphBuilder& b, NodeSpec s) {
  const int64_t opset = b.opset();
  const std::string op = s.op_type;
  s.attrs.erase("consumed_inputs");  // opset-1 bookkeeping with no meaning for inference

  if (op == "Constant") return import_constant(b, s);
  // Reject unsupported ops before any helper is built, so the error names the model's node.
  if (!is_supported_op(canonical_op_type(op))) return unsupported_op_error(s.name, op, opset);

  if ((op == "Squeeze" || op == "Unsqueeze") && opset < 13) {
    SLIMRT_RETURN_IF_ERROR(ints_attr_to_input(b, s, "axes", 1));
  } else if (is_reduce(op) && opset < (op == "ReduceSum" ? 13 : 18)) {
    SLIMRT_RETURN_IF_ERROR(ints_attr_to_input(b, s, "axes", 1, /*skip_empty=*/true));
  } else if (op == "Split") {
    if (opset < 13) SLIMRT_RETURN_IF_ERROR(ints_attr_to_input(b, s, "split", 1));
    const bool has_split = s.inputs.size() > 1 && s.inputs[1];
    if (opset < 18 && !has_split) s.attrs["num_outputs"] = static_cast<int64_t>(s.output_names.size());
  } else if (op == "Slice" && opset < 10) {
    SLIMRT_RETURN_IF_ERROR(ints_attr_to_input(b, s, "starts", 1));
    SLIMRT_RETURN_IF_ERROR(ints_attr_to_input(b, s, "ends", 2));
    SLIMRT_RETURN_IF_ERROR(ints_attr_to_input(b, s, "axes", 3));
  } else if (op == "Pad" && opset < 11) {
    if (s.attrs.count("paddings")) {
      s.attrs["pads"] = s.attrs["paddings"];
      s.attrs.erase("paddings");
    }
    SLIMRT_RETURN_IF_ERROR(ints_attr_to_input(b, s, "pads", 1));
    const std::optional<float> value = take_float(s, "value");
    if (value && *value != 0.0f) {
      SLIMRT_ASSIGN_OR_RETURN(Value* c, constant_like(b, s.name + "/value", *value, s.inputs[0]));
      set_input(s, 2, c);
    }
  } else if (op == "Clip" && opset < 11) {
    const std::optional<float> lo = take_float(s, "min");
    const std::optional<float> hi = take_float(s, "max");
    Value* x = s.inputs.empty() ? nullptr : s.inputs[0];
    if (lo) {
      SLIMRT_ASSIGN_OR_RETURN(Value* c, constant_like(b, s.name + "/min", *lo, x));
      set_input(s, 1, c);
    }
    if (hi) {
      SLIMRT_ASSIGN_OR_RETURN(Value* c, constant_like(b, s.name + "/max", *hi, x));
      set_input(s, 2, c);
    }
  } else if (op == "TopK" && opset < 10) {
    SLIMRT_ASSIGN_OR_RETURN(std::optional<int64_t> k, take_int(s, "k", opset));
    if (!k) return invalid_argument(describe(s, opset) + " has no 'k' attribute");
    set_input(s, 1, b.int64_constant(s.name + "/k", {*k}));
  } else if (op == "Dropout") {
    s.attrs.erase("is_test");
    if (opset < 12) {
      if (const std::optional<float> ratio = take_float(s, "ratio"))
        set_input(s, 1, b.float_constant(s.name + "/ratio", {*ratio}, /*scalar=*/true));
    }
    drop_unused_outputs(b, s, 1);
  } else if (op == "BatchNormalization") {
    if (opset < 9) {
      const std::optional<int64_t> spatial = take_attr<int64_t>(s, "spatial");
      if (spatial && *spatial == 0) {
        return unsupported(describe(s, opset) +
                           ": spatial=0 (per-activation statistics) is not supported by slimrt");
      }
      s.attrs.erase("is_test");
    }
    if (opset < 14) drop_unused_outputs(b, s, 1);
  } else if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && opset < 13) {
    return emit_coerced_softmax(b, std::move(s));
  } else if (is_legacy_broadcast_op(op) && opset < 7) {
    SLIMRT_RETURN_IF_ERROR(rewrite_legacy_broadcast(b, s));
  } else if (op == "PRelu" && opset < 7) {
    SLIMRT_RETURN_IF_ERROR(rewrite_legacy_prelu(b, s));
  } else if (op == "Gemm" && opset < 7) {
    s.attrs.erase("broadcast");
  } else if (op == "Upsample" || (op == "Resize" && opset < 11)) {
    SLIMRT_RETURN_IF_ERROR(rewrite_to_resize(b, s));
  } else if (op == "Resize") {
    // Opsets 11-12 require roi and scales; empty tensors stand for absent.
    for (size_t i = 1; i < s.inputs.size() && i < 3; ++i) {
      if (is_empty_constant(s.inputs[i])) s.inputs[i] = nullptr;
    }
  } else if (op == "GroupNormalization" && opset < 21) {
    SLIMRT_RETURN_IF_ERROR(rewrite_group_norm_scale(b, s));
  } else if ((op == "LpPool" || op == "GlobalLpPool") && opset < 2) {
    if (const std::optional<float> p = take_float(s, "p")) s.attrs["p"] = static_cast<int64_t>(*p);
  } else if (op == "Tile" && opset < 6) {
    return unsupported(describe(s, opset) + ": Tile-1 (tiles and axis inputs) is not supported; re-export with "
                       "opset 6 or newer");
  } else if (op == "Scatter") {
    s.op_type = "ScatterElements";
  } else if (op == "Reshape" && opset < 5) {
    SLIMRT_RETURN_IF_ERROR(ints_attr_to_input(b, s, "shape", 1));
  } else if (op == "Concat" && opset < 4 && !s.attrs.count("axis")) {
    s.attrs["axis"] = int64_t{1};
  }

  if (op == "Cast") SLIMRT_RETURN_IF_ERROR(map_dtype_attr(b, s, "to"));
  static const std::set<std::string> kDtypeAttrOps = {"EyeLike", "RandomNormal", "RandomUniform",
                                                      "RandomNormalLike", "RandomUniformLike",
                                                      "Multinomial", "Bernoulli"};
  if (kDtypeAttrOps.count(op)) SLIMRT_RETURN_IF_ERROR(map_dtype_attr(b, s, "dtype"));
  if (op == "LayerNormalization") SLIMRT_RETURN_IF_ERROR(map_dtype_attr(b, s, "stash_type"));
  if (op == "QuantizeLinear") SLIMRT_RETURN_IF_ERROR(map_dtype_attr(b, s, "output_dtype"));

  return b.emit(std::move(s)).status();
}

}  // namespace slimrt::onnx_import
