// The CUDA backend behind create_backend("cuda") (host-only header).
#pragma once

#include <memory>

#include "slimrt/backend.h"

namespace slimrt::cuda {

// kUnsupported with the reason when this build has no CUDA or no device is usable.
Result<std::unique_ptr<Backend>> make_cuda_backend();

}  // namespace slimrt::cuda
