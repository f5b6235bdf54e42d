// ONNX ModelProto -> Graph: graph inputs, initializers, nodes (canonicalized), graph outputs,
// then shape inference with constant folding on the CPU.
#include <algorithm>
#include <filesystem>

#include "onnx/onnx_internal.h"
#include "slimrt/backend.h"
#include "slimrt/builder/onnx_importer.h"

namespace slimrt {

namespace onnx_import {
namespace {

std::string node_label(const onnx::NodeProto& n, const std::string& name) {
  return "node '" + name + "' (" + n.op_type() + ")";
}

Result<Attribute> convert_attribute(const onnx::AttributeProto& a, const std::string& node_desc,
                                    ExternalDataResolver* resolver) {
  using A = onnx::AttributeProto;
  A::AttributeType type = a.type();
  // Very old files leave the type unset; infer it from the field that is present.
  if (type == A::UNDEFINED) {
    if (a.has_f()) type = A::FLOAT;
    else if (a.has_i()) type = A::INT;
    else if (a.has_s()) type = A::STRING;
    else if (a.has_t()) type = A::TENSOR;
    else if (a.has_g()) type = A::GRAPH;
    else if (a.floats_size() > 0) type = A::FLOATS;
    else if (a.ints_size() > 0) type = A::INTS;
    else if (a.strings_size() > 0) type = A::STRINGS;
    else if (a.graphs_size() > 0) type = A::GRAPHS;
    else if (a.tensors_size() > 0) type = A::TENSORS;
  }
  const std::string what = node_desc + " attribute '" + a.name() + "'";
  switch (type) {
    case A::INT: return Attribute(static_cast<int64_t>(a.i()));
    case A::FLOAT: return Attribute(a.f());
    case A::STRING: return Attribute(a.s());
    case A::TENSOR: {
      SLIMRT_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(a.t(), what, resolver));
      return Attribute(std::move(t));
    }
    case A::INTS: return Attribute(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case A::FLOATS: return Attribute(std::vector<float>(a.floats().begin(), a.floats().end()));
    case A::STRINGS: return Attribute(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case A::GRAPH:
    case A::GRAPHS:
      return unsupported(what + " is a subgraph; control flow (If, Loop, Scan) is not supported by slimrt");
    case A::UNDEFINED:
      // An empty list carries no type information; an empty int list is the safe reading.
      return Attribute(std::vector<int64_t>{});
    default:
      return unsupported(what + " has attribute type " + A::AttributeType_Name(type) +
                         ", which slimrt does not support");
  }
}

// The table entry of each node input and output, in node order (nullptr for an absent optional
// one), so that the passes over the nodes after the table is filled need no lookups. Entries of
// an unordered_map keep their addresses when it grows or is moved.
struct NodeEntries {
  std::vector<const OnnxName*> inputs;
  std::vector<size_t> input_start;  // node i's inputs are inputs[input_start[i], input_start[i + 1])
  std::vector<OnnxNameEntry*> outputs;
  std::vector<size_t> output_start;
  const OnnxName* input(int node, int k) const {
    return inputs[input_start[static_cast<size_t>(node)] + static_cast<size_t>(k)];
  }
  std::span<OnnxNameEntry* const> outputs_of(int node) const {
    const size_t i = static_cast<size_t>(node);
    return {outputs.data() + output_start[i], output_start[i + 1] - output_start[i]};
  }
};

// Orders node indices so producers come before consumers (ONNX requires it; some exporters do
// not comply). Names produced by no node must be graph inputs or initializers (defined in the
// table before this runs).
Result<std::vector<int>> node_order(const onnx::GraphProto& g, const NodeEntries& entries,
                                    const std::vector<std::string>& node_names) {
  const size_t n = static_cast<size_t>(g.node_size());
  // Each node's distinct producers, in compressed rows (deps[dep_start[i], dep_start[i + 1])).
  std::vector<int> deps;
  std::vector<size_t> dep_start(n + 1, 0);
  deps.reserve(entries.inputs.size());
  for (size_t i = 0; i < n; ++i) {
    const int node = static_cast<int>(i);
    dep_start[i] = deps.size();
    for (int k = 0; k < g.node(node).input_size(); ++k) {
      const OnnxName* e = entries.input(node, k);
      if (!e || e->value) continue;  // absent, or a graph input or initializer
      if (e->producer < 0) {
        return invalid_argument(node_label(g.node(node), node_names[i]) + " reads '" + g.node(node).input(k) +
                                "', which no node, graph input or initializer defines");
      }
      if (e->producer == node) {
        return invalid_argument(node_label(g.node(node), node_names[i]) + " reads '" + g.node(node).input(k) +
                                "', which it produces itself: a node cannot depend on its own output (ONNX "
                                "graphs are acyclic)");
      }
      deps.push_back(e->producer);
    }
    // Each producer once (a Concat of thousands of inputs stays O(k log k)).
    const auto first = deps.begin() + static_cast<std::ptrdiff_t>(dep_start[i]);
    std::sort(first, deps.end());
    deps.erase(std::unique(first, deps.end()), deps.end());
  }
  dep_start[n] = deps.size();
  // The reverse edges (users of each node), also in compressed rows, in increasing user order.
  std::vector<size_t> user_start(n + 1, 0);
  for (int d : deps) ++user_start[static_cast<size_t>(d) + 1];
  for (size_t i = 0; i < n; ++i) user_start[i + 1] += user_start[i];
  std::vector<int> users(deps.size());
  {
    std::vector<size_t> fill(user_start.begin(), user_start.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      for (size_t e = dep_start[i]; e < dep_start[i + 1]; ++e)
        users[fill[static_cast<size_t>(deps[e])]++] = static_cast<int>(i);
    }
  }
  std::vector<int> pending(n);
  for (size_t i = 0; i < n; ++i) pending[i] = static_cast<int>(dep_start[i + 1] - dep_start[i]);
  std::vector<int> order;
  order.reserve(n);
  std::vector<int> ready;
  for (size_t i = n; i-- > 0;) {
    if (pending[i] == 0) ready.push_back(static_cast<int>(i));
  }
  while (!ready.empty()) {
    const int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    // Keep the file's order where it is already valid: users become ready in increasing order
    // and are pushed in reverse, so the smallest index pops first.
    const size_t first_new = ready.size();
    for (size_t e = user_start[static_cast<size_t>(i)]; e < user_start[static_cast<size_t>(i) + 1]; ++e) {
      const int u = users[e];
      if (--pending[static_cast<size_t>(u)] == 0) ready.push_back(u);
    }
    std::reverse(ready.begin() + static_cast<std::ptrdiff_t>(first_new), ready.end());
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i) {
      if (pending[i] > 0) {
        return invalid_argument(node_label(g.node(static_cast<int>(i)), node_names[i]) +
                                " is part of (or depends on) a cycle");
      }
    }
  }
  return order;
}

Status check_node_support(const onnx::ModelProto& model, const std::vector<std::string>& node_names,
                          int64_t opset) {
  const onnx::GraphProto& gp = model.graph();
  int first = -1;
  std::vector<std::string> others;
  for (int i = 0; i < gp.node_size(); ++i) {
    const onnx::NodeProto& np = gp.node(i);
    const std::string& name = node_names[static_cast<size_t>(i)];
    if (!np.domain().empty() && np.domain() != "ai.onnx") {
      std::string ver;
      for (const auto& imp : model.opset_import()) {
        if (imp.domain() == np.domain()) ver = ", opset " + std::to_string(imp.version());
      }
      return unsupported(node_label(np, name) + " is in domain '" + np.domain() + "'" + ver +
                         "; slimrt supports only the default ONNX domain (\"\" / \"ai.onnx\")");
    }
    if (opset == 0) {
      return invalid_argument(node_label(np, name) +
                              " is in the default ONNX domain, but the model has no opset_import for it");
    }
    // Control flow gets its own message: the op and its subgraph attribute are named.
    for (const auto& a : np.attribute()) {
      if (a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS || a.has_g()) {
        return unsupported("node '" + name + "' (" + np.op_type() + ", opset " + std::to_string(opset) +
                           ") attribute '" + a.name() +
                           "' is a subgraph; control flow (If, Loop, Scan) is not supported by slimrt");
      }
    }
    if (np.op_type() == "Constant" || is_supported_op(canonical_op_type(np.op_type()))) continue;
    if (first < 0) {
      first = i;
    } else if (np.op_type() != gp.node(first).op_type() &&
               std::find(others.begin(), others.end(), np.op_type()) == others.end()) {
      others.push_back(np.op_type());
    }
  }
  if (first < 0) return Status::OK();
  return unsupported_op_error(node_names[static_cast<size_t>(first)], gp.node(first).op_type(), opset, others);
}

Result<std::optional<Shape>> input_shape(const onnx::ValueInfoProto& vi) {
  const auto& tt = vi.type().tensor_type();
  if (!tt.has_shape()) return std::optional<Shape>();
  Shape s;
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto& d = tt.shape().dim(i);
    if (d.has_dim_value()) {
      if (d.dim_value() < 0)
        return invalid_argument("graph input '" + vi.name() + "' has a negative dim " + std::to_string(d.dim_value()));
      s.emplace_back(d.dim_value());
    } else if (d.has_dim_param() && !d.dim_param().empty()) {
      s.push_back(Dim::symbol(d.dim_param()));
    } else {
      s.push_back(Dim::symbol(vi.name() + "_d" + std::to_string(i)));
    }
  }
  return std::optional<Shape>(std::move(s));
}

// Applies ImportOptions::input_shapes: fixes the named inputs and binds their symbols in the
// other inputs too.
Status apply_input_shapes(Graph& g, const ImportOptions& options) {
  std::vector<std::pair<std::string, int64_t>> bindings;
  for (const auto& [name, dims] : options.input_shapes) {
    Value* v = nullptr;
    for (Value* in : g.inputs()) {
      if (in->name() == name) v = in;
    }
    if (!v) {
      std::string list;
      for (Value* in : g.inputs()) list += (list.empty() ? "" : ", ") + in->name();
      return invalid_argument("input shape given for '" + name + "', which is not a graph input (inputs: " +
                              (list.empty() ? std::string("none") : list) + ")");
    }
    for (int64_t d : dims) {
      if (d < 0)
        return invalid_argument("input shape " + shape_to_string(dims) + " for '" + name + "' has a negative dim");
    }
    if (v->has_shape()) {
      const Shape& declared = v->shape();
      if (declared.size() != dims.size()) {
        return invalid_argument("input shape " + shape_to_string(dims) + " for '" + name + "' has rank " +
                                std::to_string(dims.size()) + " but the model declares " +
                                shape_to_string(declared) + " (rank " + std::to_string(declared.size()) + ")");
      }
      for (size_t i = 0; i < dims.size(); ++i) {
        const auto fixed = declared[i].value();
        if (fixed && *fixed != dims[i]) {
          return invalid_argument("input shape " + shape_to_string(dims) + " for '" + name +
                                  "' does not match the model's " + shape_to_string(declared) + " at dim " +
                                  std::to_string(i));
        }
        if (auto sym = declared[i].as_symbol()) bindings.emplace_back(*sym, dims[i]);
      }
    }
    v->set_shape(shape_from_static(dims));
  }
  for (Value* in : g.inputs()) {
    if (!in->has_shape()) continue;
    Shape s = in->shape();
    for (Dim& d : s) d = dim_substitute(d, bindings);
    in->set_shape(std::move(s));
  }
  return Status::OK();
}

// Errors name nodes and tensors; callers add the model's name as context.
// `model_path` ("" for a model in memory) lets external data follow a linked model file.
Result<Graph> import_model(onnx::ModelProto& model, const std::string& base_dir, const std::string& model_path,
                           const ImportOptions& options) {
  SLIMRT_ASSIGN_OR_RETURN(int64_t opset, check_model_versions(model, "the model"));
  onnx::GraphProto& gp = *model.mutable_graph();
  Graph g;
  g.name = gp.name();
  g.source_opset = opset;
  ExternalDataResolver resolver(base_dir, model_path);

  if (gp.sparse_initializer_size() > 0) {
    return unsupported("initializer '" + gp.sparse_initializer(0).values().name() +
                       "' is sparse; slimrt does not support sparse tensors");
  }

  // Every name of the model, so that values made by rewrites never take one, and what the import
  // needs to know of each. The keys view the proto's strings and node_names (reserved up front,
  // so they never move).
  std::vector<std::string> node_names;
  node_names.reserve(static_cast<size_t>(gp.node_size()));
  size_t node_outputs = 0;
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& n = gp.node(i);
    node_outputs += static_cast<size_t>(n.output_size());
    node_names.push_back(n.name().empty() ? n.op_type() + "_" + std::to_string(i) : n.name());
  }
  const size_t defined = static_cast<size_t>(gp.initializer_size() + gp.input_size()) + node_outputs;
  OnnxNames names;
  names.reserve(defined);
  for (const auto& t : gp.initializer()) names[t.name()].initializer = true;
  for (const auto& vi : gp.input()) names.try_emplace(vi.name());
  NodeEntries entries;
  entries.input_start.reserve(node_names.size() + 1);
  entries.output_start.reserve(node_names.size() + 1);
  entries.outputs.reserve(node_outputs);
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& n = gp.node(i);
    entries.input_start.push_back(entries.inputs.size());
    for (const std::string& in : n.input()) {
      OnnxName* e = nullptr;
      if (!in.empty()) {
        e = &names[in];
        e->read = true;
      }
      entries.inputs.push_back(e);
    }
    entries.output_start.push_back(entries.outputs.size());
    for (const std::string& o : n.output()) {
      OnnxNameEntry* e = nullptr;
      if (!o.empty()) {
        e = &*names.try_emplace(o).first;
        if (e->second.producer < 0) e->second.producer = i;
      }
      entries.outputs.push_back(e);
    }
  }
  entries.input_start.push_back(entries.inputs.size());
  entries.output_start.push_back(entries.outputs.size());
  for (const auto& vi : gp.output()) names[vi.name()].read = true;
  g.reserve(defined + defined / 8, node_names.size() + node_names.size() / 8);
  GraphBuilder b(g, opset, std::move(names), node_names);

  // Old exporters list weights among the inputs: those are initializers, not runtime inputs.
  for (const auto& vi : gp.input()) {
    if (vi.name().empty()) return invalid_argument("a graph input has an empty name");
    OnnxName& e = b.entry(vi.name());
    if (e.initializer) continue;
    if (e.value) return invalid_argument("graph input '" + vi.name() + "' is listed twice");
    if (!vi.type().has_tensor_type()) {
      return unsupported("graph input '" + vi.name() +
                         "' is not a tensor (sequence, map and optional types are not supported)");
    }
    const int32_t et = vi.type().tensor_type().elem_type();
    const std::optional<DataType> dt = dtype_from_onnx(et);
    if (!dt) {
      return unsupported("graph input '" + vi.name() + "' has element type " + onnx_dtype_name(et) +
                         ", which slimrt does not support");
    }
    SLIMRT_ASSIGN_OR_RETURN(std::optional<Shape> shape, input_shape(vi));
    e.value = g.add_input(vi.name(), *dt, std::move(shape));
  }
  SLIMRT_RETURN_IF_ERROR(apply_input_shapes(g, options));
  // Ops and domains are checked before any weight is read, so an unsupported model fails fast
  // and the message lists every op it lacks.
  SLIMRT_RETURN_IF_ERROR(check_node_support(model, node_names, opset));

  for (auto& t : *gp.mutable_initializer()) {
    OnnxName& e = b.entry(t.name());
    if (e.value && !e.value->is_graph_input())
      return invalid_argument("initializer '" + t.name() + "' is defined twice");
    SLIMRT_ASSIGN_OR_RETURN(Tensor tensor, tensor_from_proto(t, "initializer '" + t.name() + "'", &resolver));
    e.value = g.add_initializer(t.name(), std::move(tensor));
    // The tensor holds its own copy: free the proto's bytes now to keep the peak memory low.
    std::string().swap(*t.mutable_raw_data());
  }

  SLIMRT_ASSIGN_OR_RETURN(std::vector<int> order, node_order(gp, entries, node_names));

  for (int idx : order) {
    const onnx::NodeProto& np = gp.node(idx);
    const std::string& name = node_names[static_cast<size_t>(idx)];
    NodeSpec spec;
    spec.op_type = np.op_type();
    spec.name = name;
    const std::string desc = "node '" + name + "' (" + np.op_type() + ", opset " + std::to_string(opset) + ")";
    for (int k = 0; k < np.input_size(); ++k) {
      const OnnxName* e = entries.input(idx, k);
      if (!e) {
        spec.inputs.push_back(nullptr);
        continue;
      }
      if (!e->value) return internal_error(desc + " reads '" + np.input(k) + "' before it is defined");
      spec.inputs.push_back(e->value);
    }
    for (const auto& a : np.attribute()) {
      SLIMRT_ASSIGN_OR_RETURN(Attribute attr, convert_attribute(a, desc, &resolver));
      spec.attrs[a.name()] = std::move(attr);
    }
    spec.output_names.assign(np.output().begin(), np.output().end());
    b.expect_outputs(entries.outputs_of(idx));
    SLIMRT_RETURN_IF_ERROR(canonicalize_and_emit(b, std::move(spec)));
    b.expect_outputs({});
  }

  for (const auto& vi : gp.output()) {
    Value* v = b.find(vi.name());
    if (!v) return invalid_argument("graph output '" + vi.name() + "' is not produced by any node, input or initializer");
    g.add_output(v);
  }
  SLIMRT_RETURN_IF_ERROR(fold_cast_like_helpers(b));
  if (options.external_files) *options.external_files = resolver.mapped_paths();

  if (options.infer_shapes) {
    std::unique_ptr<ConstantEvaluator> eval = make_cpu_constant_evaluator();
    ShapeInferenceOptions so;
    so.evaluator = eval.get();
    SLIMRT_RETURN_IF_ERROR(infer_shapes(g, so));
    SLIMRT_RETURN_IF_ERROR(fold_cast_like_helpers(b));
  }
  return g;
}

}  // namespace
}  // namespace onnx_import

Result<Graph> import_onnx_bytes(const void* data, size_t size, const std::string& base_dir,
                                const ImportOptions& options) {
  onnx::ModelProto model;
  const std::string label = "ONNX model (" + std::to_string(size) + " bytes in memory)";
  SLIMRT_RETURN_IF_ERROR(onnx_import::parse_model(data, size, label, &model));
  Result<Graph> g = onnx_import::import_model(model, base_dir, "", options);
  if (!g.ok()) return g.status().with_context("importing " + label);
  return g;
}

Result<Graph> import_onnx_file(const std::string& path, const ImportOptions& options) {
  // Mapped, not read: the parsed model is the only copy held in memory.
  SLIMRT_ASSIGN_OR_RETURN(std::shared_ptr<onnx_import::MappedFile> file,
                          onnx_import::MappedFile::open(path, "ONNX model"));
  const std::string label = "'" + path + "'";
  onnx::ModelProto model;
  SLIMRT_RETURN_IF_ERROR(onnx_import::parse_model(file->data(), file->size(), label, &model));
  file.reset();
  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  Result<Graph> g = onnx_import::import_model(model, base_dir, path, options);
  if (!g.ok()) return g.status().with_context("importing '" + path + "'");
  return g;
}

Result<Tensor> read_onnx_tensor_file(const std::string& path) {
  SLIMRT_ASSIGN_OR_RETURN(std::string bytes, onnx_import::read_file(path, "TensorProto file"));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes))
    return invalid_argument("'" + path + "' is not a valid serialized ONNX TensorProto (protobuf parse failed)");
  onnx_import::ExternalDataResolver resolver(std::filesystem::path(path).parent_path().string(), path);
  const std::string what = "tensor '" + (proto.name().empty() ? path : proto.name()) + "'";
  return onnx_import::tensor_from_proto(proto, what, &resolver);
}

}  // namespace slimrt
