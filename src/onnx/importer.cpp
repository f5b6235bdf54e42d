#include "slimrt/onnx_importer.h"

namespace slimrt {

Result<Graph> import_onnx_file(const std::string& path, const ImportOptions&) {
  return unsupported("ONNX import is not implemented yet: " + path);
}
Result<Graph> import_onnx_bytes(const void*, size_t, const std::string&, const ImportOptions&) {
  return unsupported("ONNX import is not implemented yet");
}
Result<Tensor> read_onnx_tensor_file(const std::string& path) {
  return unsupported("TensorProto reading is not implemented yet: " + path);
}

}  // namespace slimrt
