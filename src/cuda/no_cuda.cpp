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
Status ExecutionContext::set_tensor_address(std::string_view, void*, BufferLocation, uint64_t) {
  return unsupported("built without CUDA");
}
BufferLocation ExecutionContext::tensor_location(std::string_view) const { return BufferLocation::kDevice; }
Status ExecutionContext::set_input_consumed_event(CudaEvent) { return unsupported("built without CUDA"); }
Status ExecutionContext::set_outputs_computed_event(CudaEvent) { return unsupported("built without CUDA"); }
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

#include "slimrt/host_memory.h"

namespace slimrt {

Result<BufferLocation> locate_buffer(const void*) { return unsupported("slimrt was built without CUDA"); }
Result<HostBuffer> HostBuffer::allocate(uint64_t, bool) { return unsupported("slimrt was built without CUDA"); }
HostBuffer::~HostBuffer() = default;
HostBuffer::HostBuffer(HostBuffer&&) noexcept = default;
HostBuffer& HostBuffer::operator=(HostBuffer&&) noexcept = default;
Result<HostRegistration> HostRegistration::pin(void*, uint64_t, bool) { return unsupported("slimrt was built without CUDA"); }
HostRegistration::~HostRegistration() = default;
HostRegistration::HostRegistration(HostRegistration&&) noexcept = default;
HostRegistration& HostRegistration::operator=(HostRegistration&&) noexcept = default;

}  // namespace slimrt

#include "slimrt/pipeline.h"

namespace slimrt {

// Without CUDA no pipeline can be created; the other members are unreachable.
struct Pipeline::Impl {};
Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;
Result<std::unique_ptr<Pipeline>> Pipeline::create(std::shared_ptr<const Engine>, const PipelineOptions&) {
  return unsupported("Pipeline needs CUDA: slimrt was built without CUDA");
}
Status Pipeline::submit(const Request&, bool) { return unsupported("built without CUDA"); }
std::future<Status> Pipeline::submit_future(const Request&, bool) {
  std::promise<Status> p;
  p.set_value(unsupported("built without CUDA"));
  return p.get_future();
}
void Pipeline::wait_idle() {}
PipelineStats Pipeline::stats() const { return {}; }
std::vector<RequestTiming> Pipeline::timings() const { return {}; }
Status Pipeline::reset_timings() { return unsupported("built without CUDA"); }
const Engine& Pipeline::engine() const { std::abort(); }
uint32_t Pipeline::in_flight() const { return 0; }

}  // namespace slimrt
