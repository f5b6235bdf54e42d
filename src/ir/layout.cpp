// Channels-last forms of FusedConv / MaxPool / AveragePool, and the sequence-major and packed-QKV
// forms of Attention: see layout.h.
#include "ir/layout.h"

#include <algorithm>
#include <cstring>

namespace slimrt {

bool is_channels_last(const Node& n) { return n.attr_int(kChannelsLastAttr, 0) != 0; }

std::vector<size_t> channels_last_inputs(const std::string& op_type) {
  if (op_type == "FusedConv") return {0, 1, 3};
  if (op_type == "MaxPool" || op_type == "AveragePool") return {0};
  return {};
}

Result<Tensor> transpose4(const Tensor& in, const std::array<int, 4>& perm) {
  if (in.rank() != 4) return invalid_argument("transpose4: rank " + std::to_string(in.rank()) + " is not 4");
  std::vector<int64_t> od(4);
  for (size_t k = 0; k < 4; ++k) od[k] = in.dim(perm[k]);
  SLIMRT_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(in.dtype(), od));
  const size_t es = dtype_size(in.dtype());
  int64_t in_stride[4];
  in_stride[3] = 1;
  for (int d = 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * in.dim(d + 1);
  int64_t step[4];  // the input stride of each output axis
  for (size_t k = 0; k < 4; ++k) step[k] = in_stride[perm[k]];
  const auto* src = static_cast<const uint8_t*>(in.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  size_t o = 0;
  for (int64_t a = 0; a < od[0]; ++a)
    for (int64_t b = 0; b < od[1]; ++b)
      for (int64_t c = 0; c < od[2]; ++c)
        for (int64_t d = 0; d < od[3]; ++d, ++o)
          std::memcpy(dst + o * es, src + static_cast<size_t>(a * step[0] + b * step[1] + c * step[2] + d * step[3]) * es,
                      es);
  return out;
}

std::optional<LayoutForm> layout_form(const Node& n) {
  if (is_channels_last(n)) return LayoutForm{channels_last_inputs(n.op_type()), kNhwcToNchw, kNchwToNhwc};
  if (n.op_type() == "Attention" && n.attr_int("seq_major", 0) != 0) {
    if (n.attr_int("qkv_packed", 0) != 0) return LayoutForm{{0}, {0, 2, 1, 3}, {0, 2, 1, 3}, true};
    return LayoutForm{{0, 1, 2}, {0, 2, 1, 3}, {0, 2, 1, 3}};
  }
  return std::nullopt;
}

Result<std::array<Tensor, 3>> split_packed_qkv(const Tensor& qkv) {
  if (qkv.rank() != 5 || qkv.dim(2) != 3)
    return invalid_argument("split_packed_qkv: QKV " + shape_to_string(qkv.shape()) + " is not [batch, seq, 3, heads, dim]");
  const int64_t b = qkv.dim(0), s = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
  const size_t row = static_cast<size_t>(d) * dtype_size(qkv.dtype());  // one head's dim, contiguous in both
  std::array<Tensor, 3> out;
  for (int64_t p = 0; p < 3; ++p) {
    SLIMRT_ASSIGN_OR_RETURN(out[static_cast<size_t>(p)], Tensor::allocate(qkv.dtype(), {b, h, s, d}));
    if (qkv.numel() == 0) continue;
    const auto* src = static_cast<const uint8_t*>(qkv.raw());
    auto* dst = static_cast<uint8_t*>(out[static_cast<size_t>(p)].raw());
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t hi = 0; hi < h; ++hi)
        for (int64_t si = 0; si < s; ++si)
          std::memcpy(dst + static_cast<size_t>((bi * h + hi) * s + si) * row,
                      src + static_cast<size_t>(((bi * s + si) * 3 + p) * h + hi) * row, row);
  }
  return out;
}

Result<Tensor> permute_layout(const Tensor& t, const std::array<int, 4>& perm) {
  if (t.rank() == 4) return transpose4(t, perm);
  if (t.rank() != 3 || perm[0] != 0) return invalid_argument("permute_layout: rank " + std::to_string(t.rank()));
  SLIMRT_ASSIGN_OR_RETURN(Tensor lifted, t.reshaped({1, t.dim(0), t.dim(1), t.dim(2)}));
  SLIMRT_ASSIGN_OR_RETURN(Tensor p, transpose4(lifted, perm));
  return p.reshaped({p.dim(1), p.dim(2), p.dim(3)});
}

std::vector<int64_t> permute_layout_dims(const std::vector<int64_t>& dims, const std::array<int, 4>& perm) {
  std::vector<int64_t> d = dims;
  if (d.size() == 3) d.insert(d.begin(), 1);
  if (d.size() != 4) return dims;
  std::vector<int64_t> out(4);
  for (size_t k = 0; k < 4; ++k) out[k] = d[static_cast<size_t>(perm[k])];
  if (dims.size() == 3) out.erase(out.begin());
  return out;
}

Status infer_channels_last(ShapeContext& ctx, ShapeInferFn nchw) {
  const std::vector<size_t> layout = channels_last_inputs(ctx.node().op_type());
  if (layout.empty()) return ctx.unsupported("op has no channels_last form");
  if (ctx.num_outputs() > 1) return ctx.unsupported("channels_last supports output 0 only (no Indices)");
  std::vector<Shape> permuted(ctx.num_inputs());
  std::vector<ShapeContext::InputInfo> ins(ctx.num_inputs());
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    ins[i].dtype = ctx.input_dtype(i);
    const bool moved = std::find(layout.begin(), layout.end(), i) != layout.end();
    if (ctx.has_shape(i)) {
      if (moved && ctx.input_rank(i) != 4)
        return ctx.error("channels_last input " + std::to_string(i) + " must have rank 4, not " +
                         std::to_string(ctx.input_rank(i)));
      permuted[i] = moved ? nhwc_to_nchw(ctx.input_shape(i)) : ctx.input_shape(i);
      ins[i].shape = &permuted[i];
    }
    // A moved constant's data is not in the layout its permuted shape says: not passed on.
    ins[i].constant = moved ? nullptr : ctx.input_constant(i);
  }
  ShapeContext sub(ctx.node(), std::move(ins), 1);
  SLIMRT_RETURN_IF_ERROR(nchw(sub));
  const ShapeContext::OutputInfo& out = sub.output(0);
  if (!out.shape) {
    ctx.set_output_dtype(0, out.dtype);
    return Status::OK();
  }
  if (out.shape->size() != 4) return ctx.error("channels_last output must have rank 4");
  ctx.set_output(0, out.dtype, nchw_to_nhwc(*out.shape));
  return Status::OK();
}

}  // namespace slimrt
