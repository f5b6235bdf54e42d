// Internals of the ONNX importer (slimrt_builder only: this header pulls in protobuf classes).
//
// model_reader.cpp  reads and parses files, checks IR version and opsets, maps external data.
// tensor_proto.cpp  TensorProto -> Tensor (inline, typed fields, external data).
// canonicalize.cpp  rewrites each node of an older opset into the IR's opset-21 form.
// importer.cpp      builds the Graph: inputs, initializers, nodes, outputs; runs inference.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "onnx/weight_memory.h"
#include "slimrt/graph.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt::onnx_import {

// The supported range of the importer.
inline constexpr int64_t kMinIrVersion = 3;
inline constexpr int64_t kMaxIrVersion = 10;
inline constexpr int64_t kMinOpset = 1;
inline constexpr int64_t kMaxOpset = 21;

// A whole file mapped read-only. Tensors that point into it hold a shared_ptr in their deleter,
// so the mapping lives as long as the last of them.
class MappedFile {
 public:
  // `what` names the file's role in messages ("external data file", "ONNX model").
  static Result<std::shared_ptr<MappedFile>> open(const std::string& path, const std::string& what);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};


// Resolves external data files relative to one directory and shares one mapping per file.
// A location must stay inside the model's directory: lexically (no absolute paths, no leading
// "..") and once symbolic links are resolved, where the file's real path must lie under the real
// `base_dir` or, when `model_path` is a symbolic link, under the directory of the file it leads
// to (Hugging Face's cache links both the model and its data into one blobs directory).
class ExternalDataResolver {
 public:
  explicit ExternalDataResolver(std::string base_dir, std::string model_path = {})
      : base_dir_(std::move(base_dir)), model_path_(std::move(model_path)) {}
  // `tensor_name` is for messages only.
  Result<std::shared_ptr<MappedFile>> map(const std::string& location, const std::string& tensor_name);
  const std::string& base_dir() const { return base_dir_; }
  // The real paths of the files mapped so far.
  std::vector<std::string> mapped_paths() const;

 private:
  Result<std::vector<std::string>> allowed_roots();
  std::string base_dir_;
  std::string model_path_;
  std::optional<std::vector<std::string>> roots_;
  std::map<std::string, std::shared_ptr<MappedFile>> files_;  // by real path
  std::map<std::string, std::string> real_of_;                // location as joined -> real path
};

// ONNX TensorProto.DataType -> slimrt DataType; nullopt for types slimrt does not handle.
std::optional<DataType> dtype_from_onnx(int32_t onnx_type);
// A readable name for any ONNX element type number ("int16", "string", "float8e4m3fn", ...).
std::string onnx_dtype_name(int32_t onnx_type);
// An ONNX type name as used by Cast-1..5's string `to` attribute ("FLOAT", "INT64").
std::optional<int32_t> onnx_dtype_from_string(const std::string& name);

// Converts a TensorProto. `what` names it in messages ("initializer 'w'", "attribute 'value' of
// node 'c'"). External data goes through `resolver` (nullptr: external data is an error).
Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& what,
                                 ExternalDataResolver* resolver);

// Reads a whole regular file into memory, with kNotFound / kIoError messages naming the path.
Result<std::string> read_file(const std::string& path, const std::string& what);

// Parses a ModelProto, raising protobuf's total-bytes limit. `label` names the model in messages.
Status parse_model(const void* data, size_t size, const std::string& label, onnx::ModelProto* model);
// Checks the IR version and the opset imports; returns the default-domain opset (0 when the
// model does not import the default domain).
Result<int64_t> check_model_versions(const onnx::ModelProto& model, const std::string& label);

// One node as the canonicalizer sees it: ONNX names resolved to Values, attributes converted.
struct NodeSpec {
  std::string op_type;
  std::string name;
  std::vector<Value*> inputs;               // nullptr for absent optional inputs
  std::map<std::string, Attribute> attrs;
  std::vector<std::string> output_names;    // "" for absent optional outputs
};

// What the importer knows about one name of the ONNX graph.
struct OnnxName {
  Value* value = nullptr;    // the Value defined under this name so far
  int producer = -1;         // the first node (index in the GraphProto) that writes it
  bool read = false;         // a node reads it, or it is a graph output
  bool initializer = false;  // an initializer has this name
};
// Every value name of an ONNX graph (initializers, inputs, node inputs and outputs, graph
// outputs), keyed by views of the proto's own strings, which outlive the import. One table,
// filled once before any node is emitted, instead of a set or map per question. Entries keep
// their addresses when the table grows or moves, so the importer holds pointers to them.
using OnnxNames = std::unordered_map<std::string_view, OnnxName>;
using OnnxNameEntry = OnnxNames::value_type;  // the name and what is known of it

// Where canonicalization puts what it makes: helper nodes, constants, the final node.
class GraphBuilder {
 public:
  // `node_names` (the model's node names, which fresh names also avoid) must outlive the builder.
  GraphBuilder(Graph& g, int64_t opset, OnnxNames names, const std::vector<std::string>& node_names)
      : g_(g), opset_(opset), names_(std::move(names)), node_names_(node_names) {}

  Graph& graph() { return g_; }
  int64_t opset() const { return opset_; }

  // A constant Value with a name that cannot clash with any name of the ONNX model.
  Value* constant(const std::string& hint, Tensor t);
  Value* int64_constant(const std::string& hint, const std::vector<int64_t>& v, bool scalar = false);
  Value* float_constant(const std::string& hint, const std::vector<float>& v, bool scalar = false);
  // A node whose outputs are fresh internal values; checks the op is supported.
  Result<Node*> helper_node(const std::string& op_type, const std::string& name,
                            const std::vector<Value*>& inputs, size_t num_outputs,
                            const std::map<std::string, Attribute>& attrs = {});
  // Emits the final node of a spec: outputs named as in the ONNX model.
  Result<Node*> emit(NodeSpec spec);

  // The Value defined under an ONNX name so far (node inputs, graph outputs); nullptr if none.
  Value* find(std::string_view onnx_name) const;
  // Records that `onnx_name` now names `v`.
  void define(std::string_view onnx_name, Value* v);
  // What is known of an ONNX name; added (with no value) when missing.
  OnnxName& entry(std::string_view onnx_name);
  // Whether some node reads the ONNX name or it is a graph output: optional outputs nobody reads
  // are dropped (Dropout's mask, BatchNormalization's training statistics).
  bool is_read(std::string_view onnx_name) const;
  // The table entries of the outputs of the node about to be emitted (nullptr for absent ones),
  // which the importer resolved when it filled the table: define() and is_read() on these names
  // then compare a few strings instead of hashing into a table of every name. Any other name
  // still works through the table.
  void expect_outputs(std::span<OnnxNameEntry* const> outs) { expected_ = outs; }

  // Infers shapes of everything built so far, so a rewrite can learn an input's rank (legacy
  // broadcasting). Errors are returned; nothing is reported twice (inference runs again later).
  Status infer_so_far();

  // Helper nodes added to cast a float constant to another input's dtype (CastLike). After
  // inference they are replaced by converted constants.
  std::vector<Node*>& cast_like_nodes() { return cast_like_; }

 private:
  std::string fresh_name(const std::string& hint);
  // The expected output entry named `onnx_name`, or nullptr.
  OnnxNameEntry* expected(std::string_view onnx_name) const;
  Graph& g_;
  int64_t opset_;
  OnnxNames names_;
  const std::vector<std::string>& node_names_;
  std::unordered_set<std::string_view> node_name_set_;  // node_names_, built on the first fresh_name
  std::deque<std::string> extra_names_;         // keys of names_ defined outside the model's table
  std::unordered_set<std::string> fresh_names_;  // names made by fresh_name
  std::span<OnnxNameEntry* const> expected_;
  std::vector<Node*> cast_like_;
};

// The IR op an ONNX op becomes (Upsample -> Resize, Scatter -> ScatterElements; others keep
// their name). Constant becomes an initializer and has no IR op.
std::string canonical_op_type(const std::string& onnx_op);
// kUnsupported for a node whose op slimrt lacks; names the node, op, opset and where the list of
// supported ops is. `others` lists further unsupported op types of the same model.
Status unsupported_op_error(const std::string& node_name, const std::string& op, int64_t opset,
                            const std::vector<std::string>& others = {});

// Rewrites `spec` (any opset from 1 to 21) into the canonical form and emits it.
Status canonicalize_and_emit(GraphBuilder& b, NodeSpec spec);

// Converts a scalar/vector constant to another dtype (float, integer or bool).
Result<Tensor> convert_constant(const Tensor& src, DataType to);

// Replaces CastLike helpers whose target dtype is now known by converted constants.
Status fold_cast_like_helpers(GraphBuilder& b);

}  // namespace slimrt::onnx_import
