// slimrt/builder/onnx_importer.h: ONNX -> IR. BUILDER side (library slimrt_builder, the only
// library that sees protobuf); the runtime never includes it.
//
//   Result<Graph> g = import_onnx_file("model.onnx");          // shapes inferred
//   Result<Tensor> t = read_onnx_tensor_file("input_0.pb");    // a serialized TensorProto
//
// Accepts ONNX IR versions 3-10 and default-domain opsets 1-21 (13-21 fully, older opsets for
// the ops whose earlier semantics slimrt implements; docs/ops.md has the table). Each opset's
// semantics are rewritten into the IR's canonical (opset 21) form at import. Initializers may be
// inline or in external data files, which resolve relative to the model file and whose offsets
// and lengths are checked against the file size; external data is memory-mapped, not copied.
// An external data file must lie, once symbolic links are resolved, inside the model's directory
// (or inside the directory of the model file a linked model path leads to, as in Hugging Face's
// cache): a link to a file elsewhere is refused.
//
// Errors name the model file and the node or tensor at fault:
//   kInvalidArgument  not an ONNX protobuf (or truncated, or empty), malformed graphs (cycles, a
//                     node reading its own output), a directory or special file as the model or
//                     its external data, external data paths that are absolute or leave the
//                     model's directory (in their text or through symbolic links)
//   kUnsupported      ops outside slimrt (every missing op type is listed), other domains,
//                     opsets > 21, IR versions outside 3-10, subgraphs, element types slimrt lacks
//   kNotFound / kIoError  missing or unreadable files (the model or its external data)
//   kDataLoss         tensor data shorter or longer than its shape needs
//   kShapeError       shape inference failures (node, op and input shapes)
#pragma once

#include <string>
#include <vector>

#include "slimrt/graph.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {

struct ImportOptions {
  // Runs infer_shapes after import (with constant folding of shape subgraphs on the CPU).
  bool infer_shapes = true;
  // Fixes dims of graph inputs before inference: {"x", {1, 3, 224, 224}}. Names not in the graph
  // are an error.
  std::vector<std::pair<std::string, std::vector<int64_t>>> input_shapes;
  // When set, receives the real path of every external data file the import mapped (the builder
  // refuses to write its engine over any of them).
  std::vector<std::string>* external_files = nullptr;
};

Result<Graph> import_onnx_file(const std::string& path, const ImportOptions& options = {});
// `base_dir` resolves external data paths.
Result<Graph> import_onnx_bytes(const void* data, size_t size, const std::string& base_dir,
                                const ImportOptions& options = {});
// Reads a serialized onnx.TensorProto (the test-data .pb files).
Result<Tensor> read_onnx_tensor_file(const std::string& path);

}  // namespace slimrt
