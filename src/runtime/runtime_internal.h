// src/runtime/runtime_internal.h: the device side of Runtime::load. Not a public header.
//
// Everything that touches the CUDA runtime lives in cuda_region.cpp, compiled with or without
// CUDA: without it, cuda_init() is kUnsupported and nothing else is reachable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "runtime/weight_pipeline.h"
#include "slimrt/status.h"

namespace slimrt::runtime_detail {

// Selects `device` and creates its context. Returns the engine target this device loads
// ("sm_90"). kUnsupported (with the reason) without CUDA or without a usable device.
Result<std::string> cuda_init(int device);

// One cudaMalloc of `bytes` on the current device, refused first (kOutOfMemory naming the bytes
// requested, the free and total memory, and `limit` when set) when it cannot fit. The pointer is
// freed by the returned owner.
Result<std::shared_ptr<void>> cuda_alloc_region(uint64_t bytes, uint64_t limit, const std::string& what);

// Called with each staged group before its copy is queued (host mirrors of small weights).
using StagedFn = std::function<void(uint64_t begin, const uint8_t* data, uint64_t n)>;

// A RegionSink that copies groups into `device_region` through `slots` pinned buffers of
// `group_bytes`, on its own non-blocking stream. kOutOfMemory when the pinned ring cannot be
// allocated.
Result<std::unique_ptr<RegionSink>> make_cuda_sink(uint8_t* device_region, uint64_t group_bytes, uint32_t slots,
                                                   StagedFn on_staged);

// Copies device bytes back to the host (tools and tests: checking a load byte for byte).
Status cuda_copy_to_host(void* host, const void* device, uint64_t bytes);

}  // namespace slimrt::runtime_detail
