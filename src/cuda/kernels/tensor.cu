// CUDA kernels: tensor family (see src/cuda/kernel.h): shape queries, views, Concat and Split.
// Transpose, Slice, Expand, Tile, DepthToSpace and SpaceToDepth are in tensor_layout.cu; Pad and
// Trilu in tensor_pad.cu; the strided-copy engine they share in tensor_copy.cu.
//
// Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity) copy their bytes for now: the output
// has its own buffer until the planner aliases views.
#include <string>
#include <vector>

#include "cuda/kernels/tensor_common.cuh"

namespace slimrt::cuda {

namespace {

using tensor::axis_attr;
using tensor::copy_2d;
using tensor::product;

constexpr uint32_t kHostInput1 = 1u << 1;

bool movable(DataType t) {
  const size_t s = dtype_size(t);
  return s == 1 || s == 2 || s == 4 || s == 8;
}

// ---- views ----------------------------------------------------------------------------------

class ViewCopyKernel final : public Kernel {
 public:
  explicit ViewCopyKernel(uint64_t bytes) : bytes_(bytes) {}
  Status enqueue(const LaunchArgs& args) const override {
    if (bytes_ && args.input(0) != args.output(0))
      return SLIMRT_CUDA(cudaMemcpyAsync(args.output(0), args.input(0), bytes_, cudaMemcpyDeviceToDevice, args.stream));
    return Status::OK();
  }

 private:
  uint64_t bytes_;
};

Result<std::unique_ptr<Kernel>> create_view(const PrepareArgs& a) {
  if (a.input(0).bytes() != a.output(0).bytes()) return a.invalid("input and output sizes differ");
  if (a.input(0).dtype != a.output(0).dtype) return a.invalid("input and output dtypes differ");
  return std::unique_ptr<Kernel>(new ViewCopyKernel(a.output(0).bytes()));
}

// ---- Shape / Size ---------------------------------------------------------------------------

constexpr int kMaxShapeValues = 64;

struct Int64Values {
  int n = 0;
  int64_t v[kMaxShapeValues] = {};
};

__global__ void write_values_kernel(int64_t* out, Int64Values vals) {
  for (int i = threadIdx.x; i < vals.n; i += blockDim.x) out[i] = vals.v[i];
}

// The values are known from the dims at prepare time; a tiny launch writes them, so no host
// buffer has to outlive the enqueue.
class ValuesKernel final : public Kernel {
 public:
  explicit ValuesKernel(const Int64Values& v) : vals_(v) {}
  Status enqueue(const LaunchArgs& args) const override {
    if (vals_.n > 0) write_values_kernel<<<1, 64, 0, args.stream>>>(args.out<int64_t>(0), vals_);
    return Status::OK();
  }

 private:
  Int64Values vals_;
};

Result<std::unique_ptr<Kernel>> create_shape(const PrepareArgs& a) {
  const auto& dims = a.input(0).dims;
  const int64_t rank = static_cast<int64_t>(dims.size());
  auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp(a.node.attr_int("start", 0));
  const int64_t end = clamp(a.node.attr_int("end", rank));
  const int64_t n = std::max<int64_t>(0, end - start);
  if (n > kMaxShapeValues) return a.unsupported("Shape of more than " + std::to_string(kMaxShapeValues) + " dims");
  if (a.output(0).numel() != n) return a.invalid("output size disagrees with start/end");
  Int64Values v;
  v.n = static_cast<int>(n);
  for (int64_t k = 0; k < n; ++k) v.v[k] = dims[static_cast<size_t>(start + k)];
  return std::unique_ptr<Kernel>(new ValuesKernel(v));
}

Result<std::unique_ptr<Kernel>> create_size(const PrepareArgs& a) {
  Int64Values v;
  v.n = 1;
  v.v[0] = a.input(0).numel();
  return std::unique_ptr<Kernel>(new ValuesKernel(v));
}

// ---- Concat / Split -------------------------------------------------------------------------

// One pitched copy per input (Concat) or output (Split): `rows` outer blocks of `block` bytes,
// at `offset` bytes into each `pitch`-byte block of the concatenated tensor.
struct Piece {
  int64_t block = 0;
  int64_t offset = 0;
};

class ConcatKernel final : public Kernel {
 public:
  ConcatKernel(std::vector<Piece> pieces, int64_t pitch, int64_t rows)
      : pieces_(std::move(pieces)), pitch_(pitch), rows_(rows) {}
  Status enqueue(const LaunchArgs& args) const override {
    auto* dst = static_cast<uint8_t*>(args.output(0));
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const Piece& p = pieces_[i];
      if (p.block) copy_2d(args.input(i), p.block, dst + p.offset, pitch_, p.block, rows_, args.stream);
    }
    return Status::OK();
  }

 private:
  std::vector<Piece> pieces_;
  int64_t pitch_, rows_;
};

class SplitKernel final : public Kernel {
 public:
  SplitKernel(std::vector<Piece> pieces, int64_t pitch, int64_t rows)
      : pieces_(std::move(pieces)), pitch_(pitch), rows_(rows) {}
  Status enqueue(const LaunchArgs& args) const override {
    const auto* src = static_cast<const uint8_t*>(args.input(0));
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const Piece& p = pieces_[i];
      if (p.block) copy_2d(src + p.offset, pitch_, args.output(i), p.block, p.block, rows_, args.stream);
    }
    return Status::OK();
  }

 private:
  std::vector<Piece> pieces_;
  int64_t pitch_, rows_;
};

Result<std::unique_ptr<Kernel>> create_concat(const PrepareArgs& a) {
  const TensorInfo& out = a.output(0);
  const int64_t rank = out.rank();
  if (rank == 0) return a.invalid("Concat needs inputs of rank >= 1");
  const size_t axis = static_cast<size_t>(axis_attr(a.node, "axis", 0, rank));
  const int64_t esize = static_cast<int64_t>(dtype_size(out.dtype));
  const int64_t inner = product(out.dims, axis + 1, out.dims.size()) * esize;
  const int64_t rows = product(out.dims, 0, axis);
  const int64_t pitch = out.dims[axis] * inner;
  std::vector<Piece> pieces;
  int64_t offset = 0;
  for (const TensorInfo& in : a.inputs) {
    if (in.rank() != rank || in.dtype != out.dtype) return a.invalid("inputs disagree with the output");
    Piece p;
    p.block = in.dims[axis] * inner;
    p.offset = offset;
    offset += p.block;
    pieces.push_back(p);
  }
  if (offset != pitch) return a.invalid("input sizes along the axis do not add up to the output's");
  return std::unique_ptr<Kernel>(new ConcatKernel(std::move(pieces), pitch, rows));
}

Result<std::unique_ptr<Kernel>> create_split(const PrepareArgs& a) {
  const TensorInfo& in = a.input(0);
  const int64_t rank = in.rank();
  if (rank == 0) return a.invalid("Split needs an input of rank >= 1");
  const size_t axis = static_cast<size_t>(axis_attr(a.node, "axis", 0, rank));
  const int64_t esize = static_cast<int64_t>(dtype_size(in.dtype));
  const int64_t inner = product(in.dims, axis + 1, in.dims.size()) * esize;
  const int64_t rows = product(in.dims, 0, axis);
  const int64_t pitch = in.dims[axis] * inner;
  std::vector<Piece> pieces;
  int64_t offset = 0;
  for (const TensorInfo& out : a.outputs) {
    if (out.rank() != rank) return a.invalid("outputs disagree with the input's rank");
    Piece p;
    p.block = out.dims[axis] * inner;
    p.offset = offset;
    offset += p.block;
    if (offset > pitch) return a.invalid("split sizes exceed the input dim");
    pieces.push_back(p);
  }
  return std::unique_ptr<Kernel>(new SplitKernel(std::move(pieces), pitch, rows));
}

// Every data-moving op rejects element sizes it cannot move (strings), then builds.
template <Result<std::unique_ptr<Kernel>> (*F)(const PrepareArgs&)>
Result<std::unique_ptr<Kernel>> checked(const PrepareArgs& a) {
  for (const TensorInfo& t : a.outputs) {
    if (!movable(t.dtype))
      return a.unsupported("dtype " + std::string(dtype_name(t.dtype)) + " is not moved by this CUDA kernel");
  }
  return F(a);
}

}  // namespace

void register_tensor_kernels(KernelRegistry& r) {
  r.add({"Shape", create_shape, 0});
  r.add({"Size", create_size, 0});
  r.add({"Reshape", checked<create_view>, kHostInput1});
  r.add({"Flatten", checked<create_view>, 0});
  r.add({"Squeeze", checked<create_view>, kHostInput1});
  r.add({"Unsqueeze", checked<create_view>, kHostInput1});
  r.add({"Identity", checked<create_view>, 0});
  r.add({"Concat", checked<create_concat>, 0});
  r.add({"Split", checked<create_split>, kHostInput1});
  tensor::register_tensor_layout_kernels(r);
  tensor::register_tensor_pad_kernels(r);
}

}  // namespace slimrt::cuda
