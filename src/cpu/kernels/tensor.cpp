// CPU reference kernels for the tensor op family: shape queries and pure data movement
// (Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Expand, Tile).
// They move bytes, so every dtype goes through dispatch_bytes and fp16/bf16 are not widened.
#include "cpu/kernels/tensor_common.h"

namespace slimrt::cpu {

// Defined in tensor_index.cpp and tensor_generate.cpp.
void register_tensor_index_kernels(KernelRegistry& r);
void register_tensor_generate_kernels(KernelRegistry& r);

namespace {

using tensor_kernels::axis_attr;
using tensor_kernels::copy_from_offsets;
using tensor_kernels::product;
using tensor_kernels::strides_of;

Status shape_kernel(KernelContext& ctx) {
  const auto& shape = ctx.input(0)->shape();
  const int64_t rank = static_cast<int64_t>(shape.size());
  auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp(ctx.node.attr_int("start", 0));
  const int64_t end = clamp(ctx.node.attr_int("end", rank));
  Tensor& out = ctx.output(0);
  for (int64_t k = start; k < end; ++k) out.data<int64_t>()[k - start] = shape[static_cast<size_t>(k)];
  return Status::OK();
}

Status size_kernel(KernelContext& ctx) {
  ctx.output(0).data<int64_t>()[0] = ctx.input(0)->numel();
  return Status::OK();
}

Status copy_kernel(KernelContext& ctx) { return tensor_kernels::copy_bytes(ctx); }

Status transpose_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  Tensor& out = ctx.output(0);
  const size_t rank = in.rank();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (perm.empty()) {
    for (size_t k = rank; k-- > 0;) perm.push_back(static_cast<int64_t>(k));
  }
  const auto in_strides = strides_of(in.shape());
  // Input stride of each output axis.
  std::vector<int64_t> stride(rank);
  for (size_t k = 0; k < rank; ++k) {
    const int64_t p = perm[k] < 0 ? perm[k] + static_cast<int64_t>(rank) : perm[k];
    stride[k] = in_strides[static_cast<size_t>(p)];
  }
  return copy_from_offsets(in, out, [&](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t k = 0; k < rank; ++k) off += idx[k] * stride[k];
    return off;
  });
}

Status concat_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  const int64_t axis = axis_attr(ctx.node, "axis", 0, static_cast<int64_t>(out.rank()));
  const size_t a = static_cast<size_t>(axis);
  const int64_t outer = product(out.shape(), 0, a);
  const size_t esize = dtype_size(out.dtype());
  const size_t inner_bytes = static_cast<size_t>(product(out.shape(), a + 1, out.rank())) * esize;
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor* in : ctx.inputs) {
      const size_t block = static_cast<size_t>(in->dim(a)) * inner_bytes;
      if (block == 0) continue;
      std::memcpy(dst, static_cast<const uint8_t*>(in->raw()) + static_cast<size_t>(o) * block, block);
      dst += block;
    }
  }
  return Status::OK();
}

Status split_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  const int64_t axis = axis_attr(ctx.node, "axis", 0, static_cast<int64_t>(in.rank()));
  const size_t a = static_cast<size_t>(axis);
  const int64_t outer = product(in.shape(), 0, a);
  const size_t esize = dtype_size(in.dtype());
  const size_t inner_bytes = static_cast<size_t>(product(in.shape(), a + 1, in.rank())) * esize;
  const size_t in_block = static_cast<size_t>(in.dim(a)) * inner_bytes;
  size_t offset = 0;  // bytes into each outer block of the input
  for (Tensor* out : ctx.outputs) {
    const size_t block = static_cast<size_t>(out->dim(a)) * inner_bytes;
    if (offset + block > in_block) return ctx.invalid("split sizes exceed the input dim");
    for (int64_t o = 0; o < outer && block; ++o) {
      std::memcpy(static_cast<uint8_t*>(out->raw()) + static_cast<size_t>(o) * block,
                  static_cast<const uint8_t*>(in.raw()) + static_cast<size_t>(o) * in_block + offset, block);
    }
    offset += block;
  }
  return Status::OK();
}

// Input strides aligned to the output's rank, 0 along broadcast axes.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  const auto s = strides_of(in);
  std::vector<int64_t> r(out.size(), 0);
  const size_t off = out.size() - in.size();
  for (size_t k = 0; k < in.size(); ++k) r[off + k] = in[k] == 1 ? 0 : s[k];
  return r;
}

Status expand_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  Tensor& out = ctx.output(0);
  if (in.rank() > out.rank()) return ctx.invalid("input rank exceeds the output's");
  const auto stride = broadcast_strides(in.shape(), out.shape());
  return copy_from_offsets(in, out, [&](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t k = 0; k < idx.size(); ++k) off += idx[k] * stride[k];
    return off;
  });
}

Status tile_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  Tensor& out = ctx.output(0);
  const auto stride = strides_of(in.shape());
  return copy_from_offsets(in, out, [&](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t k = 0; k < idx.size(); ++k) off += (idx[k] % in.dim(k)) * stride[k];
    return off;
  });
}

}  // namespace

void register_tensor_kernels(KernelRegistry& r) {
  r.add({"Shape", shape_kernel, false});
  r.add({"Size", size_kernel, false});
  r.add({"Reshape", copy_kernel, false});
  r.add({"Flatten", copy_kernel, false});
  r.add({"Squeeze", copy_kernel, false});
  r.add({"Unsqueeze", copy_kernel, false});
  r.add({"Transpose", transpose_kernel, false});
  r.add({"Concat", concat_kernel, false});
  r.add({"Split", split_kernel, false});
  r.add({"Expand", expand_kernel, false});
  r.add({"Tile", tile_kernel, false});
  register_tensor_index_kernels(r);
  register_tensor_generate_kernels(r);
}

}  // namespace slimrt::cpu
