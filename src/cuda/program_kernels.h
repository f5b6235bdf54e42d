// Small device helpers of the execution core (host-only header; the kernels are in
// program_kernels.cu).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "slimrt/status.h"

namespace slimrt::cuda {

inline constexpr uint32_t kMaxSmallValueBytes = 512;

// Writes `bytes` (<= kMaxSmallValueBytes) known on the host to `dst` on `stream`. The bytes travel
// as a kernel parameter, so the call is asynchronous, allocation-free and capturable into a CUDA
// graph (a cudaMemcpyAsync from pageable memory is none of these).
Status write_small_values(void* dst, const uint8_t* bytes, uint32_t n, cudaStream_t stream);

// Fills `bytes` at `dst` with 0xFF: NaN in every float type, -1 in the integers. Used to poison
// outputs and the arena before a run in tests.
Status poison_device(void* dst, uint64_t bytes, cudaStream_t stream);

}  // namespace slimrt::cuda
