// CPU reference for InputConvert (ir/input_convert.h): each element in double, rounded once to
// the output type (half outputs are narrowed by the backend from float32, KernelDef::widen_half).
#include <vector>

#include "cpu/kernel_registry.h"
#include "ir/input_convert.h"

namespace slimrt::cpu {

namespace {

template <typename X, typename Y>
void convert(const Tensor& x, Tensor& y, const InputConvertParams& p) {
  const std::vector<int64_t>& yd = y.shape();
  const size_t rank = yd.size();
  // X's element stride along each axis of Y, and each axis's size before the padding.
  std::vector<int64_t> x_strides(x.rank(), 1), along(rank), limit(rank);
  for (size_t k = x.rank(); k-- > 1;) x_strides[k - 1] = x_strides[k] * x.dim(k);
  for (size_t k = 0; k < rank; ++k) {
    along[k] = x_strides[static_cast<size_t>(p.perm[k])];
    limit[k] = yd[k] - p.pad_end[k];
  }
  const X* src = x.data<X>();
  Y* dst = y.data<Y>();
  std::vector<int64_t> idx(rank, 0);
  const int64_t total = y.numel();
  for (int64_t e = 0; e < total; ++e) {
    int64_t off = 0;
    bool padding = false;
    for (size_t k = 0; k < rank; ++k) {
      padding = padding || idx[k] >= limit[k];
      off += idx[k] * along[k];
    }
    const size_t c = p.axis >= 0 ? static_cast<size_t>(idx[static_cast<size_t>(p.axis)]) : 0;
    dst[e] = padding ? Y(0)
                     : static_cast<Y>(static_cast<double>(src[off]) * static_cast<double>(p.scale[c]) +
                                      static_cast<double>(p.bias[c]));
    for (size_t k = rank; k-- > 0;) {
      if (++idx[k] < yd[k]) break;
      idx[k] = 0;
    }
  }
}

template <typename Y>
Status convert_to(KernelContext& ctx, const InputConvertParams& p) {
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  switch (x.dtype()) {
    case DataType::kUInt8: convert<uint8_t, Y>(x, y, p); return Status::OK();
    case DataType::kFloat32: convert<float, Y>(x, y, p); return Status::OK();
    case DataType::kFloat64: convert<double, Y>(x, y, p); return Status::OK();
    default: return ctx.unsupported("X of dtype " + std::string(dtype_name(x.dtype())));
  }
}

Status input_convert_kernel(KernelContext& ctx) {
  Result<InputConvertParams> p = read_input_convert(ctx.node, ctx.input(0)->rank());
  if (!p.ok()) return ctx.invalid(p.status().message());
  switch (ctx.output(0).dtype()) {
    case DataType::kFloat32: return convert_to<float>(ctx, *p);
    case DataType::kFloat64: return convert_to<double>(ctx, *p);
    default: return ctx.unsupported("Y of dtype " + std::string(dtype_name(ctx.output(0).dtype())));
  }
}

}  // namespace

void register_input_convert_kernels(KernelRegistry& r) { r.add({"InputConvert", &input_convert_kernel, true}); }

}  // namespace slimrt::cpu
