// Built instead of the CUDA sources when slimrt is configured without CUDA.
#include "slimrt/device.h"

namespace slimrt {

DeviceQuery query_cuda_devices() { return {0, "slimrt was built without CUDA (SLIMRT_ENABLE_CUDA=OFF or no toolkit)"}; }

}  // namespace slimrt
