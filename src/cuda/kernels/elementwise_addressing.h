// The CUDA element-wise kernels' addressing, evaluated on the host so that tests without a GPU can
// check it (tests/cpu/cuda_ew_addressing_test.cpp). Plain C++: no CUDA header needed to call it.
#pragma once

#include <cstdint>
#include <vector>

namespace slimrt::cuda::ew {

// For a binary op whose inputs have shapes `a` and `b` (numpy-broadcastable to `out`): for every
// output element, in row-major order, the element offset each input is read from.
struct BinaryAddressing {
  std::vector<int64_t> a, b;  // the strided kernel's offsets (ew_strided_kernel)
  bool vectorized = false;    // whether the vectorized kernel accepts these shapes (make_vec)
  std::vector<int64_t> vec_a, vec_b;  // the vectorized kernel's offsets, when it does
};

// `vec_width` is the elements per 16-byte chunk (4 for fp32, 8 for fp16).
BinaryAddressing binary_addressing(const std::vector<int64_t>& out, const std::vector<int64_t>& a,
                                   const std::vector<int64_t>& b, int vec_width);

}  // namespace slimrt::cuda::ew
