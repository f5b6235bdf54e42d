// Channels-last (NHWC) forms of 2-D convolution and pooling.
//
// The builder's layout pass (src/passes/layout.cpp) gives FusedConv, MaxPool and AveragePool
// nodes the internal attribute channels_last = 1 when their 4-D input is fp16/bf16, so that
// cuDNN runs them on tensor cores without converting layouts on every call. Such a node reads
// and writes NHWC tensors:
//
//   FusedConv   X [N, H, W, C], W [M, kH, kW, C/group] (transposed once, at build), B [M],
//               R and Y [N, H', W', M]
//   MaxPool     X [N, H, W, C] -> Y [N, H', W', C]   (no Indices output)
//   AveragePool X [N, H, W, C] -> Y [N, H', W', C]
//
// Every other attribute keeps its ONNX meaning (kernel_shape, pads, strides are still [H, W]).
// Shape inference and the CPU reference permute the layout-bearing inputs to NCHW, run the
// NCHW definition and permute the output back, so the two forms can never disagree.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ir/op_registry.h"
#include "slimrt/graph.h"

namespace slimrt {

inline constexpr const char* kChannelsLastAttr = "channels_last";

// True when the node carries channels_last = 1.
bool is_channels_last(const Node& n);
// Whether `op_type` has a channels-last form, and which of its inputs carry the layout
// (rank-4 NHWC / [M, kH, kW, C] tensors); empty for other ops.
std::vector<size_t> channels_last_inputs(const std::string& op_type);

// NHWC <-> NCHW permutations of rank-4 dims (anything else is returned unchanged).
template <typename D> std::vector<D> nhwc_to_nchw(const std::vector<D>& d) {
  return d.size() == 4 ? std::vector<D>{d[0], d[3], d[1], d[2]} : d;
}
template <typename D> std::vector<D> nchw_to_nhwc(const std::vector<D>& d) {
  return d.size() == 4 ? std::vector<D>{d[0], d[2], d[3], d[1]} : d;
}

// The ONNX Transpose of a rank-4 tensor (output axis k is input axis perm[k]); any element size.
Result<Tensor> transpose4(const Tensor& in, const std::array<int, 4>& perm);
inline constexpr std::array<int, 4> kNhwcToNchw = {0, 3, 1, 2};
inline constexpr std::array<int, 4> kNchwToNhwc = {0, 2, 3, 1};

// The layout form a node is in, for backends that run it as the ordinary op between
// permutations (the CPU reference): channels-last FusedConv / MaxPool / AveragePool, and
// Attention with seq_major = 1 (Q, K, V, Y as [batch, seq, heads, dim] or [seq, batch*heads,
// dim]). `inputs` carry the layout; output 0 always does.
//
// Attention with qkv_packed = 1 (and seq_major = 1) has Q, K and V in input 0 as
// [batch, seq, 3, heads, dim] and inputs 1 and 2 absent: `split_packed_qkv` is set, and the
// backend fills inputs 0, 1 and 2 with split_packed_qkv(input 0), already heads-major, instead of
// permuting `inputs`; the output is permuted back as for seq_major.
struct LayoutForm {
  std::vector<size_t> inputs;
  std::array<int, 4> to_standard;    // applied to those inputs (rank-3 tensors as [1, ...])
  std::array<int, 4> from_standard;  // applied to the standard output
  bool split_packed_qkv = false;
};
std::optional<LayoutForm> layout_form(const Node& n);
// QKV [B, S, 3, H, D] -> Q, K, V as [B, H, S, D] each (the heads-major form), any element size.
Result<std::array<Tensor, 3>> split_packed_qkv(const Tensor& qkv);
// transpose4, with rank-3 tensors handled as [1, d0, d1, d2] (perm[0] must then be 0).
Result<Tensor> permute_layout(const Tensor& t, const std::array<int, 4>& perm);
std::vector<int64_t> permute_layout_dims(const std::vector<int64_t>& dims, const std::array<int, 4>& perm);

// Shape inference of a channels-last node: `nchw` (the op's ordinary inference) on the
// permuted input shapes, its output 0 permuted back. Outputs beyond 0 are refused.
Status infer_channels_last(ShapeContext& ctx, ShapeInferFn nchw);

}  // namespace slimrt
