// slimrt/graph.h: the intermediate representation.
//
//   Graph g;
//   Value* x = g.add_input("x", DataType::kFloat32, {Dim::symbol("batch"), 768});
//   Value* w = g.add_initializer("w", weights_tensor);
//   Node* mm = g.add_node("MatMul", "mm0", {x, w}, 1);
//   g.add_output(mm->output(0));
//   Status s = infer_shapes(g);     // every Value now has a dtype and a (symbolic) shape
//
// The IR is backend-neutral: nodes hold an op type, attributes and Values; initializers are
// Tensors wherever they live. Ops use ONE canonical form, the newest ONNX semantics (opset 21):
// importers rewrite older opsets into it (attributes that became inputs become constant inputs),
// so shape inference and kernels implement each op once. Optional inputs that are absent are
// nullptr in Node::inputs().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "slimrt/dtype.h"
#include "slimrt/shape.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {

class Graph;
class Node;

// One attribute value. Float lists keep float precision as ONNX does.
using Attribute = std::variant<int64_t, float, std::string, Tensor, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>>;

class Value {
 public:
  const std::string& name() const { return name_; }
  DataType dtype() const { return dtype_; }
  bool has_shape() const { return shape_.has_value(); }
  const Shape& shape() const { return *shape_; }
  int64_t rank() const { return shape_ ? static_cast<int64_t>(shape_->size()) : -1; }

  void set_dtype(DataType t) { dtype_ = t; }
  void set_shape(Shape s) { shape_ = std::move(s); }
  void clear_shape() { shape_.reset(); }

  Node* producer() const { return producer_; }
  int producer_output() const { return producer_output_; }
  const std::vector<Node*>& consumers() const { return consumers_; }

  bool is_graph_input() const { return is_input_; }
  bool is_graph_output() const { return is_output_; }
  // The constant data of an initializer (or of a value folded to a constant); nullptr otherwise.
  const Tensor* constant() const { return constant_ ? &*constant_ : nullptr; }
  void set_constant(Tensor t) { constant_ = std::move(t); }

  // For small integer tensors (rank 0 or 1) whose elements are known symbolically, e.g. the
  // output of Shape(x) is [batch, seq, 768]. Filled by shape inference; used to resolve the
  // shape subgraphs exporters emit (Shape -> Gather -> Concat -> Reshape).
  const std::vector<Dim>* known_value() const { return known_value_ ? &*known_value_ : nullptr; }
  void set_known_value(std::vector<Dim> v) { known_value_ = std::move(v); }
  void clear_known_value() { known_value_.reset(); }

  // A dense number below Graph::value_id_bound(), for side tables kept in vectors instead of
  // hash maps keyed by pointer. Stable while no value is removed (removals may renumber).
  size_t id() const { return index_; }

 private:
  friend class Graph;
  std::string name_;
  DataType dtype_ = DataType::kUndefined;
  std::optional<Shape> shape_;
  Node* producer_ = nullptr;
  int producer_output_ = -1;
  std::vector<Node*> consumers_;
  bool is_input_ = false;
  bool is_output_ = false;
  std::optional<Tensor> constant_;
  std::optional<std::vector<Dim>> known_value_;
  size_t index_ = 0;  // position in Graph::values_ (removal in O(1))
};

class Node {
 public:
  const std::string& name() const { return name_; }
  const std::string& op_type() const { return op_type_; }
  const std::string& domain() const { return domain_; }

  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  // nullptr when an optional input is absent or i is past the end.
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }

  const std::map<std::string, Attribute>& attributes() const { return attrs_; }
  bool has_attr(const std::string& name) const { return attrs_.count(name) != 0; }
  void set_attr(const std::string& name, Attribute a) { attrs_[name] = std::move(a); }
  void remove_attr(const std::string& name) { attrs_.erase(name); }

  // Typed getters with defaults. An attribute of the wrong kind is treated as absent by these;
  // importers validate kinds.
  int64_t attr_int(const std::string& name, int64_t def) const;
  float attr_float(const std::string& name, float def) const;
  std::string attr_string(const std::string& name, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& name, std::vector<float> def = {}) const;
  const Tensor* attr_tensor(const std::string& name) const;

  // "node 'conv1' (Conv)": used at the start of error messages.
  std::string describe() const;

  // A dense number below Graph::node_id_bound(); stable while no node is removed and the graph
  // is not sorted (both may renumber). See Value::id().
  size_t id() const { return index_; }

 private:
  friend class Graph;
  std::string name_;
  std::string op_type_;
  std::string domain_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  std::map<std::string, Attribute> attrs_;
  size_t index_ = 0;  // position in Graph::nodes_ (removal in O(1))
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) noexcept = default;
  Graph& operator=(Graph&&) noexcept = default;

  std::string name;
  // The default-domain opset the model was written for (informational: the IR is canonical).
  int64_t source_opset = 0;

  Value* add_input(const std::string& name, DataType dtype, std::optional<Shape> shape);
  Value* add_initializer(const std::string& name, Tensor t);
  // A fresh value with a unique name derived from `hint` (used by importers and passes).
  Value* add_value(const std::string& hint);
  // Creates a node with `num_outputs` fresh outputs named "<name>:<i>" unless `output_names` is
  // given. Inputs may contain nullptr for absent optional inputs.
  Node* add_node(const std::string& op_type, const std::string& name,
                 const std::vector<Value*>& inputs, size_t num_outputs,
                 const std::vector<std::string>& output_names = {});
  void add_output(Value* v);

  Value* find_value(std::string_view name) const;
  // Room for this many values and nodes in all, so importers growing a large graph do not
  // rehash and reallocate as they go.
  void reserve(size_t values, size_t nodes);
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  // Nodes in insertion order (importers insert in topological order; passes keep it).
  std::vector<Node*> nodes() const;
  std::vector<Value*> values() const;
  size_t num_nodes() const { return live_nodes_; }
  // Every Node::id() and Value::id() is below these.
  size_t node_id_bound() const { return nodes_.size(); }
  size_t value_id_bound() const { return values_.size(); }

  // Gives `v` the name `name`; kInvalidArgument (and nothing changed) when another value has it.
  Status rename_value(Value* v, const std::string& name);
  // Replaces graph input `old` by a fresh input of the same name and position with `dtype` and
  // `shape`, and returns it. `old` stays in the graph as an ordinary value under a fresh name
  // derived from its own, still read by its consumers and produced by nothing: the caller
  // computes it from the new input (replace_all_uses, then remove_value).
  Value* replace_input(Value* old, DataType dtype, std::optional<Shape> shape);
  // Puts `to` in every graph-output slot `from` holds; nodes reading `from` keep reading it.
  void replace_output(Value* from, Value* to);
  // Replaces every use of `from` (node inputs and graph outputs) by `to`.
  void replace_all_uses(Value* from, Value* to);
  void set_node_input(Node* n, size_t i, Value* v);
  // Removes a node whose outputs have no consumers and are not graph outputs.
  Status remove_node(Node* n);
  // Deletes a value nothing produces or reads and that is not a graph input or output (an unused
  // initializer, or an output of a removed node). Its pointer and name become invalid.
  Status remove_value(Value* v);

  // Orders nodes topologically; fails naming a node on a cycle or with an undefined input. The
  // order is stable: the nodes whose inputs are ready keep their relative order, in rounds (the
  // nodes placed by one sweep over the list, then those the next sweep places, ...). O(n log n).
  Status topological_sort();

 private:
  void compact_nodes();
  void compact_values();

  // Removed entries are null until the next compaction, so removal is O(1) amortized and the
  // survivors keep their order; nodes() and values() skip them.
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  size_t live_values_ = 0;
  size_t live_nodes_ = 0;
  // Keyed by each Value's own name_ (a Value never moves: values_ holds it by unique_ptr).
  std::unordered_map<std::string_view, Value*> by_name_;  // lookups only; never iterated
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  uint64_t unique_counter_ = 0;
};

// Hook through which shape inference folds nodes whose inputs are all constants (the builder
// plugs the CPU reference backend in). Return an empty vector to decline.
class ConstantEvaluator {
 public:
  virtual ~ConstantEvaluator() = default;
  virtual Result<std::vector<Tensor>> evaluate(const Node& node,
                                               const std::vector<const Tensor*>& inputs) = 0;
};

struct ShapeInferenceOptions {
  // Folds nodes with constant inputs into constants (outputs up to this many elements).
  ConstantEvaluator* evaluator = nullptr;
  int64_t max_fold_elements = 1 << 16;
};

// Infers the dtype and shape of every value, propagating symbolic dims and the known values of
// shape subgraphs. Errors name the node, its op type and its input shapes.
Status infer_shapes(Graph& g, const ShapeInferenceOptions& options = {});

// Names of the ops the IR supports, sorted (docs/ops.md lists them too).
std::vector<std::string> supported_ops();
bool is_supported_op(const std::string& op_type);

}  // namespace slimrt
