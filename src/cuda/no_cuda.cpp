// Built instead of the CUDA sources when slimrt is configured without CUDA.
#include <cstdlib>

#include "slimrt/device.h"

namespace slimrt {

DeviceQuery query_cuda_devices() { return {0, "slimrt was built without CUDA (SLIMRT_ENABLE_CUDA=OFF or no toolkit)"}; }

}  // namespace slimrt

#include "cuda/cuda_backend.h"

namespace slimrt::cuda {

Result<std::unique_ptr<Backend>> make_cuda_backend() {
  return unsupported("the CUDA backend is not available: slimrt was built without CUDA");
}

}  // namespace slimrt::cuda

#include "slimrt/context.h"

namespace slimrt {

// Without CUDA no context can be created; the other members are unreachable.
struct ExecutionContext::Impl {};
ExecutionContext::ExecutionContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExecutionContext::~ExecutionContext() = default;
Result<std::unique_ptr<ExecutionContext>> ExecutionContext::create(std::shared_ptr<const Engine>, const ContextOptions&) {
  return unsupported("ExecutionContext needs CUDA: slimrt was built without CUDA");
}
const Engine& ExecutionContext::engine() const { std::abort(); }
uint64_t ExecutionContext::device_memory_size() const { return 0; }
uint64_t ExecutionContext::activation_bytes() const { return 0; }
Status ExecutionContext::set_device_memory(void*, uint64_t) { return unsupported("built without CUDA"); }
Status ExecutionContext::set_input_shape(std::string_view, const std::vector<int64_t>&) { return unsupported("built without CUDA"); }
Status ExecutionContext::set_tensor_address(std::string_view, void*) { return unsupported("built without CUDA"); }
Status ExecutionContext::resolve_shapes() { return unsupported("built without CUDA"); }
Result<std::vector<int64_t>> ExecutionContext::tensor_shape(std::string_view) { return unsupported("built without CUDA"); }
Result<const void*> ExecutionContext::output_address(std::string_view) { return unsupported("built without CUDA"); }
Status ExecutionContext::enqueue(CudaStream) { return unsupported("built without CUDA"); }
Status ExecutionContext::run(const std::vector<NamedTensor>&, std::vector<NamedTensor>*, bool) { return unsupported("built without CUDA"); }
Result<std::vector<LayerTime>> ExecutionContext::profile_layers(CudaStream, int) { return unsupported("built without CUDA"); }
const ContextStats& ExecutionContext::stats() const {
  static const ContextStats none;
  return none;
}

}  // namespace slimrt
