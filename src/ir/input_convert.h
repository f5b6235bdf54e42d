// InputConvert: an engine input bound in another dtype or layout than the model declared
// (slimrt/builder/io_formats.h), converted to the tensor the model reads in one pass over it.
// The builder inserts it; it is never read from ONNX files (domain "slimrt").
//
//   InputConvert(X) -> Y
//     to      int     Y's dtype: float32, float16, bfloat16 or float64
//     perm    ints    Y = transpose(X, perm), as ONNX Transpose reads perm; absent: identity
//     axis    int     the axis of Y that `scale` and `bias` index when they hold more than one value
//     scale   floats  one value, or one per index of Y's `axis` (absent: 1)
//     bias    floats  the same (absent: 0)
//     pad_end ints    zeros appended at the end of each axis of Y (absent: none): a channels-last
//                     stem's channel padding (3 -> 8) written in the same pass
//
//   Y[j] = round(float(X[i]) * scale[c] + bias[c])  where Y's index j is X's index i permuted
//   and c is j's index on `axis`; Y[j] = 0 where j lies in the padding. X is uint8, float16, bfloat16, float32 or float64. The
//   arithmetic runs in double on the CPU and in fp32 on the GPU (fp64 for double), and Y is
//   rounded once. Normalization (x * s - mean) / std is scale = s / std, bias = -mean / std.
#pragma once

#include <cstdint>
#include <vector>

#include "slimrt/graph.h"
#include "slimrt/status.h"

namespace slimrt {

// The most values scale and bias may hold (one per channel; the GPU kernel takes them by value).
inline constexpr int64_t kMaxInputConvertChannels = 64;

struct InputConvertParams {
  DataType to = DataType::kFloat32;
  std::vector<int64_t> perm;  // always `rank` entries (identity when the attribute is absent)
  int64_t axis = -1;          // -1 when scale and bias hold at most one value each
  std::vector<float> scale, bias;  // each 1 or `channels` values (filled in: never empty)
  std::vector<int64_t> pad_end;    // always `rank` entries (zeros when the attribute is absent)

  bool identity_perm() const;
  bool pads() const;
  // Y[j] = X[j] cast to `to`: nothing to compute.
  bool is_plain_cast() const;
};

// The node's attributes for an input of rank `rank`, validated: kInvalidArgument naming the
// node for a perm that is not a permutation, an axis out of range, or scale/bias lengths that
// disagree or exceed kMaxInputConvertChannels.
Result<InputConvertParams> read_input_convert(const Node& n, int64_t rank);
// Sets the node's attributes to `p` (the inverse of read_input_convert).
void write_input_convert(Node* n, const InputConvertParams& p);

}  // namespace slimrt
