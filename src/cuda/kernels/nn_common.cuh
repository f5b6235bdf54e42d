// Shared pieces of the nn kernel family (.cu files only): cuDNN descriptor owners,
// the window geometry read from a node, and the activations FusedConv applies.
#pragma once

#include <cudnn.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cuda/check.h"
#include "cuda/kernels/common.cuh"
#include "cuda/kernels/device_math.cuh"
#include "ir/ops/nn_geometry.h"

namespace slimrt::cuda::nn_detail {

// Move-only owner of one cuDNN descriptor type.
template <typename D, cudnnStatus_t (*Create)(D*), cudnnStatus_t (*Destroy)(D)>
class CudnnDesc {
 public:
  CudnnDesc() = default;
  CudnnDesc(const CudnnDesc&) = delete;
  CudnnDesc& operator=(const CudnnDesc&) = delete;
  ~CudnnDesc() {
    if (d_) SLIMRT_CUDA_IGNORE(Destroy(d_));
  }
  Status create() { return SLIMRT_CUDA(Create(&d_), "creating a cuDNN descriptor"); }
  D get() const { return d_; }

 private:
  D d_ = nullptr;
};

using TensorDesc = CudnnDesc<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = CudnnDesc<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    CudnnDesc<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;
using ActivationDesc =
    CudnnDesc<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor, cudnnDestroyActivationDescriptor>;

inline bool cudnn_dtype(DataType t, cudnnDataType_t* out) {
  switch (t) {
    case DataType::kFloat32: *out = CUDNN_DATA_FLOAT; return true;
    case DataType::kFloat16: *out = CUDNN_DATA_HALF; return true;
    case DataType::kBFloat16: *out = CUDNN_DATA_BFLOAT16; return true;
    case DataType::kFloat64: *out = CUDNN_DATA_DOUBLE; return true;
    default: return false;
  }
}

// Packed NCHW-style descriptor of `dims`.
inline Status set_tensor_desc(const TensorDesc& d, cudnnDataType_t t, const std::vector<int>& dims) {
  std::vector<int> strides(dims.size(), 1);
  for (size_t i = dims.size() - 1; i-- > 0;) strides[i] = strides[i + 1] * dims[i + 1];
  SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetTensorNdDescriptor(d.get(), t, static_cast<int>(dims.size()), dims.data(), strides.data()));
  return Status::OK();
}

inline uint64_t align256(uint64_t n) { return (n + 255) & ~uint64_t{255}; }

// ---- window geometry ----------------------------------------------------------------------

// Per-axis window of a Conv / ConvTranspose / pool node, resolved from its attributes exactly
// as the CPU kernels and shape inference do.
struct WindowAttrs {
  nn::AutoPad mode = nn::AutoPad::kNotSet;
  std::vector<int64_t> kernel, strides, dilations, pads;
};

inline bool read_window(const Node& node, size_t n, std::vector<int64_t> kernel, WindowAttrs* w, std::string* why) {
  w->mode = nn::parse_auto_pad(node.attr_string("auto_pad", "NOTSET"));
  if (w->mode == nn::AutoPad::kInvalid) {
    *why = "unknown auto_pad";
    return false;
  }
  w->kernel = std::move(kernel);
  w->strides = node.attr_ints("strides", std::vector<int64_t>(n, 1));
  w->dilations = node.attr_ints("dilations", std::vector<int64_t>(n, 1));
  w->pads = node.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  if (w->kernel.size() != n || w->strides.size() != n || w->dilations.size() != n || w->pads.size() != 2 * n) {
    *why = "kernel_shape/strides/dilations/pads do not match the spatial rank";
    return false;
  }
  return true;
}

// ---- activations (FusedConv) ------------------------------------------------------------------

enum class Act { kNone, kRelu, kGelu, kGeluTanh, kSilu, kSigmoid, kTanh, kLeakyRelu, kClip };

inline bool parse_act(const std::string& s, Act* a) {
  static const std::pair<const char*, Act> kNames[] = {
      {"", Act::kNone},         {"Relu", Act::kRelu},       {"Gelu", Act::kGelu},
      {"GeluTanh", Act::kGeluTanh}, {"SiLU", Act::kSilu},   {"Sigmoid", Act::kSigmoid},
      {"Tanh", Act::kTanh},     {"LeakyRelu", Act::kLeakyRelu}, {"Clip", Act::kClip}};
  for (const auto& [name, act] : kNames) {
    if (s == name) {
      *a = act;
      return true;
    }
  }
  return false;
}

struct ActParams {
  Act act = Act::kNone;
  float alpha = 0.01f;  // LeakyRelu
  float lo = -INFINITY, hi = INFINITY;  // Clip (absent bounds: no clamp)
};

// The activation in the compute type C (float, or double for fp64), as the CPU kernels define it.
template <typename C>
__device__ __forceinline__ C apply_act(C v, const ActParams& p) {
  switch (p.act) {
    case Act::kNone: return v;
    case Act::kRelu: return v < C(0) ? C(0) : v;
    case Act::kGelu: return gelu_erf(v);
    case Act::kGeluTanh: return gelu_tanh(v);
    case Act::kSilu: return v / (C(1) + exp(-v));
    case Act::kSigmoid: {
      const C e = exp(-fabs(v));
      return v >= C(0) ? C(1) / (C(1) + e) : e / (C(1) + e);
    }
    case Act::kTanh: return tanh(v);
    case Act::kLeakyRelu: return v < C(0) ? C(p.alpha) * v : v;
    case Act::kClip: {
      const C lo = C(p.lo), hi = C(p.hi);
      const C t = v < lo ? lo : v;
      return t > hi ? hi : t;
    }
  }
  return v;
}

}  // namespace slimrt::cuda::nn_detail
