// GraphBuilder: how canonicalization adds constants and nodes to the Graph under construction.
#include <cstring>

#include "onnx/onnx_internal.h"
#include "slimrt/backend.h"

namespace slimrt::onnx_import {

std::string GraphBuilder::fresh_name(const std::string& hint) {
  // Most models need no fresh names; the set of node names is built for those that do.
  if (node_name_set_.empty() && !node_names_.empty()) {
    node_name_set_.reserve(node_names_.size());
    for (const std::string& nm : node_names_) node_name_set_.insert(nm);
  }
  std::string name = hint;
  for (int i = 1; names_.count(name) || node_name_set_.count(name) || fresh_names_.count(name) || g_.find_value(name);
       ++i)
    name = hint + "_" + std::to_string(i);
  fresh_names_.insert(name);
  return name;
}

Value* GraphBuilder::find(std::string_view onnx_name) const {
  auto it = names_.find(onnx_name);
  return it == names_.end() ? nullptr : it->second.value;
}

OnnxNameEntry* GraphBuilder::expected(std::string_view onnx_name) const {
  for (OnnxNameEntry* e : expected_) {
    if (e && e->first == onnx_name) return e;
  }
  return nullptr;
}

OnnxName& GraphBuilder::entry(std::string_view onnx_name) {
  if (OnnxNameEntry* e = expected(onnx_name)) return e->second;
  auto it = names_.find(onnx_name);
  if (it == names_.end()) {
    // Every name of the model is in the table from the start; this keeps a name from elsewhere
    // working all the same.
    it = names_.emplace(extra_names_.emplace_back(onnx_name), OnnxName{}).first;
  }
  return it->second;
}

void GraphBuilder::define(std::string_view onnx_name, Value* v) { entry(onnx_name).value = v; }

bool GraphBuilder::is_read(std::string_view onnx_name) const {
  if (const OnnxNameEntry* e = expected(onnx_name)) return e->second.read;
  auto it = names_.find(onnx_name);
  return it != names_.end() && it->second.read;
}

Value* GraphBuilder::constant(const std::string& hint, Tensor t) {
  return g_.add_initializer(fresh_name(hint), std::move(t));
}

Value* GraphBuilder::int64_constant(const std::string& hint, const std::vector<int64_t>& v, bool scalar) {
  std::vector<int64_t> shape;
  if (!scalar) shape.push_back(static_cast<int64_t>(v.size()));
  return constant(hint, Tensor::from_vector<int64_t>(DataType::kInt64, shape, v));
}

Value* GraphBuilder::float_constant(const std::string& hint, const std::vector<float>& v, bool scalar) {
  std::vector<int64_t> shape;
  if (!scalar) shape.push_back(static_cast<int64_t>(v.size()));
  return constant(hint, Tensor::from_vector<float>(DataType::kFloat32, shape, v));
}

Result<Node*> GraphBuilder::helper_node(const std::string& op_type, const std::string& name,
                                        const std::vector<Value*>& inputs, size_t num_outputs,
                                        const std::map<std::string, Attribute>& attrs) {
  if (!is_supported_op(op_type)) {
    return unsupported("op '" + op_type + "', needed to rewrite an opset-" + std::to_string(opset_) +
                       " node into its canonical form, is not supported by slimrt (docs/ops.md lists the "
                       "supported ops; `slimrt ops` prints them)");
  }
  std::vector<std::string> outs;
  for (size_t i = 0; i < num_outputs; ++i) outs.push_back(fresh_name(name + ":" + std::to_string(i)));
  Node* n = g_.add_node(op_type, fresh_name(name), inputs, num_outputs, outs);
  for (const auto& [k, v] : attrs) n->set_attr(k, v);
  return n;
}

Result<Node*> GraphBuilder::emit(NodeSpec spec) {
  if (!is_supported_op(spec.op_type)) {
    return unsupported("node '" + spec.name + "' (" + spec.op_type + ", opset " + std::to_string(opset_) +
                       "): op '" + spec.op_type +
                       "' is not supported by slimrt (docs/ops.md lists the supported ops; `slimrt ops` "
                       "prints them)");
  }
  // Trailing absent optional inputs and outputs are dropped; absent ones in the middle stay.
  while (!spec.inputs.empty() && spec.inputs.back() == nullptr) spec.inputs.pop_back();
  while (!spec.output_names.empty() && spec.output_names.back().empty()) spec.output_names.pop_back();
  // One lookup an output: the entry is checked now and written once the node exists.
  std::vector<std::string> outs;
  std::vector<OnnxName*> entries(spec.output_names.size(), nullptr);
  for (size_t i = 0; i < spec.output_names.size(); ++i) {
    const std::string& o = spec.output_names[i];
    if (o.empty()) {
      outs.push_back(fresh_name(spec.name + ":" + std::to_string(i)));
      continue;
    }
    entries[i] = &entry(o);
    if (entries[i]->value) {
      return invalid_argument("node '" + spec.name + "' (" + spec.op_type + ") writes '" + o +
                              "', which is already defined (ONNX graphs assign each name once)");
    }
    outs.push_back(o);
  }
  Node* n = g_.add_node(spec.op_type, spec.name, spec.inputs, outs.size(), outs);
  for (auto& [k, v] : spec.attrs) n->set_attr(k, std::move(v));
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i]) entries[i]->value = n->output(i);
  }
  return n;
}

Status GraphBuilder::infer_so_far() {
  // No constant folding here: graph outputs are not marked yet, and folding would turn one into
  // a constant. Ranks need only shapes.
  return infer_shapes(g_);
}

Result<Tensor> convert_constant(const Tensor& src, DataType to) {
  SLIMRT_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(to, src.shape()));
  for (int64_t i = 0; i < src.numel(); ++i) {
    const double v = src.get_as_double(i);
    switch (to) {
      case DataType::kFloat32: out.data<float>()[i] = static_cast<float>(v); break;
      case DataType::kFloat64: out.data<double>()[i] = v; break;
      case DataType::kFloat16: out.data<uint16_t>()[i] = float_to_half(static_cast<float>(v)); break;
      case DataType::kBFloat16: out.data<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(v)); break;
      case DataType::kInt8: out.data<int8_t>()[i] = static_cast<int8_t>(v); break;
      case DataType::kUInt8: out.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
      case DataType::kInt32: out.data<int32_t>()[i] = static_cast<int32_t>(v); break;
      case DataType::kInt64: out.data<int64_t>()[i] = static_cast<int64_t>(v); break;
      case DataType::kBool: out.data<uint8_t>()[i] = v != 0.0 ? 1 : 0; break;
      case DataType::kUndefined: return internal_error("cannot convert a constant to an undefined dtype");
    }
  }
  return out;
}

Status fold_cast_like_helpers(GraphBuilder& b) {
  std::vector<Node*> pending;
  for (Node* n : b.cast_like_nodes()) {
    Value* src = n->input(0);
    Value* like = n->input(1);
    if (!src || !src->constant() || !like || like->dtype() == DataType::kUndefined) {
      pending.push_back(n);
      continue;
    }
    Value* out = n->output(0);
    SLIMRT_ASSIGN_OR_RETURN(Tensor t, convert_constant(*src->constant(), like->dtype()));
    Value* c = b.constant(src->name(), std::move(t));
    b.graph().replace_all_uses(out, c);
    SLIMRT_RETURN_IF_ERROR(b.graph().remove_node(n));
  }
  b.cast_like_nodes() = std::move(pending);
  return Status::OK();
}

}  // namespace slimrt::onnx_import
