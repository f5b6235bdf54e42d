// CUDA kernels: the tensor family's strided layout ops, each one prepared CopyPlan
// (tensor_common.cuh): Transpose, Slice, Expand, Tile, DepthToSpace, SpaceToDepth.
#include <string>
#include <vector>

#include "cuda/kernels/tensor_common.cuh"
#include "ir/ops/tensor_common.h"

namespace slimrt::cuda::tensor {

namespace {

// Host inputs: Slice's starts/ends/axes/steps, Expand's shape, Tile's repeats.
constexpr uint32_t kHostInputs1to4 = 0b11110;
constexpr uint32_t kHostInput1 = 0b10;

class GatherKernel final : public Kernel {
 public:
  Status enqueue(const LaunchArgs& args) const override {
    plan_.enqueue(args.input(0), args.output(0), args.stream);
    return Status::OK();
  }
  CopyPlan plan_;
};

Result<std::unique_ptr<Kernel>> make_gather(const PrepareArgs& a, const StridedView& v) {
  const size_t esize = dtype_size(a.input(0).dtype);
  if (esize != 1 && esize != 2 && esize != 4 && esize != 8)
    return a.unsupported("dtype " + std::string(dtype_name(a.input(0).dtype)) + " is not moved by this CUDA kernel");
  auto k = std::make_unique<GatherKernel>();
  std::string why;
  if (!k->plan_.build(v, static_cast<int>(esize), &why)) return a.unsupported(why);
  return std::unique_ptr<Kernel>(std::move(k));
}

Result<std::unique_ptr<Kernel>> create_transpose(const PrepareArgs& a) {
  const TensorInfo& in = a.input(0);
  const int64_t rank = in.rank();
  std::vector<int64_t> perm = a.node.attr_ints("perm");
  if (perm.empty()) {
    for (int64_t k = rank; k-- > 0;) perm.push_back(k);
  }
  if (static_cast<int64_t>(perm.size()) != rank) return a.invalid("perm has the wrong length");
  const auto in_strides = row_major_strides(in.dims);
  StridedView v;
  v.dims = a.output(0).dims;
  for (int64_t p : perm) {
    if (p < 0) p += rank;
    if (p < 0 || p >= rank) return a.invalid("perm entry out of range");
    v.strides.push_back(in_strides[static_cast<size_t>(p)]);
  }
  if (v.dims.size() != v.strides.size()) return a.invalid("output rank disagrees with perm");
  return make_gather(a, v);
}

Result<std::unique_ptr<Kernel>> create_slice(const PrepareArgs& a) {
  const TensorInfo& in = a.input(0);
  const TensorInfo& out = a.output(0);
  const int64_t rank = in.rank();
  if (out.rank() != rank) return a.invalid("output rank differs from the input's");
  for (size_t i = 1; i <= 4; ++i) {
    if (a.has_input(i) && !a.input(i).host) return a.invalid("input " + std::to_string(i) + " is not known on the host");
  }
  if (!a.has_input(1) || !a.has_input(2)) return a.invalid("starts and ends are required");
  const std::vector<int64_t> starts = a.input(1).host->to_int64_vector();
  const std::vector<int64_t> ends = a.input(2).host->to_int64_vector();
  if (ends.size() != starts.size()) return a.invalid("starts and ends differ in length");
  std::vector<int64_t> axes, steps(starts.size(), 1);
  if (a.has_input(3)) {
    axes = a.input(3).host->to_int64_vector();
  } else {
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  }
  if (a.has_input(4)) steps = a.input(4).host->to_int64_vector();
  if (axes.size() != starts.size() || steps.size() != starts.size()) return a.invalid("axes or steps length mismatch");
  const auto in_strides = row_major_strides(in.dims);
  StridedView v;
  v.dims = out.dims;
  v.strides = in_strides;
  for (size_t k = 0; k < starts.size(); ++k) {
    const int64_t ax = axes[k] < 0 ? axes[k] + rank : axes[k];
    if (ax < 0 || ax >= rank) return a.invalid("axis out of range");
    if (steps[k] == 0) return a.invalid("slice step is 0");
    const size_t x = static_cast<size_t>(ax);
    const auto r = tensor_ops::slice_range(in.dims[x], starts[k], ends[k], steps[k]);
    if (r.count != out.dims[x]) return a.invalid("slice size disagrees with the inferred shape");
    v.base += r.start * in_strides[x];
    v.strides[x] = steps[k] * in_strides[x];
  }
  return make_gather(a, v);
}

Result<std::unique_ptr<Kernel>> create_expand(const PrepareArgs& a) {
  const TensorInfo& in = a.input(0);
  const TensorInfo& out = a.output(0);
  if (in.rank() > out.rank()) return a.invalid("input rank exceeds the output's");
  const auto in_strides = row_major_strides(in.dims);
  const size_t off = out.dims.size() - in.dims.size();
  StridedView v;
  v.dims = out.dims;
  v.strides.assign(out.dims.size(), 0);
  for (size_t k = 0; k < in.dims.size(); ++k) {
    if (in.dims[k] != 1 && in.dims[k] != out.dims[off + k]) return a.invalid("input does not broadcast to the output");
    v.strides[off + k] = in.dims[k] == 1 ? 0 : in_strides[k];
  }
  return make_gather(a, v);
}

// Output axis k of size r*d reads input index (o % d): split it into (r, d) axes with input
// strides (0, stride_k); the plan then merges or drops what it can.
Result<std::unique_ptr<Kernel>> create_tile(const PrepareArgs& a) {
  const TensorInfo& in = a.input(0);
  const TensorInfo& out = a.output(0);
  if (in.rank() != out.rank()) return a.invalid("output rank differs from the input's");
  const auto in_strides = row_major_strides(in.dims);
  StridedView v;
  for (size_t k = 0; k < in.dims.size(); ++k) {
    const int64_t d = in.dims[k], o = out.dims[k];
    if (d == 0 || o == 0) {
      v.dims.push_back(0);
      v.strides.push_back(0);
      continue;
    }
    if (o % d != 0) return a.invalid("output dim is not a multiple of the input's");
    v.dims.push_back(o / d);
    v.strides.push_back(0);
    v.dims.push_back(d);
    v.strides.push_back(in_strides[k]);
  }
  return make_gather(a, v);
}

// DepthToSpace / SpaceToDepth: a 6-D transpose of the reshaped input (the CPU reference's
// transpose6); the output's 4-D layout is the 6-D result's row-major order.
Result<std::unique_ptr<Kernel>> depth_space(const PrepareArgs& a, bool to_space) {
  const TensorInfo& in = a.input(0);
  if (in.rank() != 4) return a.invalid("X must have rank 4");
  const int64_t b = a.node.attr_int("blocksize", 1);
  if (b <= 0) return a.invalid("blocksize must be positive");
  const int64_t n = in.dims[0], c = in.dims[1], h = in.dims[2], w = in.dims[3];
  std::vector<int64_t> dims, perm;
  if (!to_space) {
    if (h % b || w % b) return a.invalid("H and W must be divisible by blocksize");
    dims = {n, c, h / b, b, w / b, b};
    perm = {0, 3, 5, 1, 2, 4};
  } else {
    if (c % (b * b)) return a.invalid("C must be divisible by blocksize^2");
    if (a.node.attr_string("mode", "DCR") == "CRD") {
      dims = {n, c / (b * b), b, b, h, w};
      perm = {0, 1, 4, 2, 5, 3};
    } else {
      dims = {n, b, b, c / (b * b), h, w};
      perm = {0, 3, 4, 1, 5, 2};
    }
  }
  const auto strides = row_major_strides(dims);
  StridedView v;
  for (int64_t p : perm) {
    v.dims.push_back(dims[static_cast<size_t>(p)]);
    v.strides.push_back(strides[static_cast<size_t>(p)]);
  }
  if (product(v.dims, 0, 6) != a.output(0).numel()) return a.invalid("output size disagrees with the input's");
  return make_gather(a, v);
}

Result<std::unique_ptr<Kernel>> create_depth_to_space(const PrepareArgs& a) { return depth_space(a, true); }
Result<std::unique_ptr<Kernel>> create_space_to_depth(const PrepareArgs& a) { return depth_space(a, false); }

}  // namespace

void register_tensor_layout_kernels(KernelRegistry& r) {
  r.add({"Transpose", create_transpose, 0});
  r.add({"Slice", create_slice, kHostInputs1to4});
  r.add({"Expand", create_expand, kHostInput1});
  r.add({"Tile", create_tile, kHostInput1});
  r.add({"DepthToSpace", create_depth_to_space, 0});
  r.add({"SpaceToDepth", create_space_to_depth, 0});
}

}  // namespace slimrt::cuda::tensor
