// The generic CUDA Einsum: any number of operands, repeated labels (diagonals), labels summed
// within one operand, ellipsis with broadcasting, any output order, with the CPU reference's
// semantics (src/cpu/kernels/linalg_einsum.cpp). linalg.cu uses it whenever an equation is not
// one strided-batched GEMM.
//
//   EinsumEquation eq;                       // parse_einsum(), ellipsis not expanded
//   auto k = create_einsum_generic(args, eq);
#pragma once

#include <memory>

#include "cuda/kernel.h"
#include "ir/ops/linalg_einsum.h"

namespace slimrt::cuda {

// Largest operand count and (after dropping size-1 axes and merging contiguous ones) output and
// summed rank the kernel takes; beyond them create returns kUnsupported.
inline constexpr int kEinsumMaxOperands = 8;
inline constexpr int kEinsumMaxAxes = 8;

Result<std::unique_ptr<Kernel>> create_einsum_generic(const PrepareArgs& args, const EinsumEquation& eq);

}  // namespace slimrt::cuda
