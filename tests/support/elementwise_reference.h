// Independent references for the elementwise tests: tensors built from doubles and numpy-style
// broadcasting computed over explicit multi-indices (nothing shared with the kernels' iterator).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "slimrt/tensor.h"

namespace slimrt::testing {

inline void set_from_double(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DataType::kFloat32: t.data<float>()[i] = static_cast<float>(v); break;
    case DataType::kFloat64: t.data<double>()[i] = v; break;
    case DataType::kFloat16: t.data<uint16_t>()[i] = float_to_half(static_cast<float>(v)); break;
    case DataType::kBFloat16: t.data<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(v)); break;
    case DataType::kInt8: t.data<int8_t>()[i] = static_cast<int8_t>(v); break;
    case DataType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case DataType::kInt32: t.data<int32_t>()[i] = static_cast<int32_t>(v); break;
    case DataType::kInt64: t.data<int64_t>()[i] = static_cast<int64_t>(v); break;
    case DataType::kBool: t.data<uint8_t>()[i] = v != 0 ? 1 : 0; break;
    case DataType::kUndefined: break;
  }
}

inline Tensor make(DataType dt, const std::vector<int64_t>& shape, const std::vector<double>& v) {
  Tensor t = Tensor::allocate(dt, shape).value();
  EXPECT_EQ(static_cast<size_t>(t.numel()), v.size());
  for (size_t i = 0; i < v.size(); ++i) set_from_double(t, static_cast<int64_t>(i), v[i]);
  return t;
}

inline std::vector<double> values_of(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.get_as_double(i);
  return v;
}

inline std::vector<int64_t> broadcast(const std::vector<std::vector<int64_t>>& shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  std::vector<int64_t> out(rank, 1);
  for (const auto& s : shapes) {
    for (size_t k = 0; k < s.size(); ++k) {
      int64_t& o = out[rank - s.size() + k];
      if (s[k] != 1) o = s[k];
    }
  }
  return out;
}

// Flat index into `in` of the element broadcast to output element `flat`.
inline int64_t source_index(const std::vector<int64_t>& out, int64_t flat, const std::vector<int64_t>& in) {
  int64_t idx = 0, stride = 1;
  for (size_t k = out.size(); k-- > 0;) {
    const int64_t coord = flat % out[k];
    flat /= out[k];
    const size_t lead = out.size() - in.size();
    if (k >= lead) {
      const int64_t d = in[k - lead];
      if (d != 1) idx += coord * stride;
      stride *= d;
    }
  }
  return idx;
}

// out = f(inputs...) elementwise with broadcasting, computed in double, stored as `dt`.
inline Tensor ref_nary(const std::vector<Tensor>& ins, DataType dt, const std::function<double(const std::vector<double>&)>& f) {
  std::vector<std::vector<int64_t>> shapes;
  for (const Tensor& t : ins) shapes.push_back(t.shape());
  const std::vector<int64_t> out_shape = broadcast(shapes);
  Tensor out = Tensor::allocate(dt, out_shape).value();
  std::vector<double> args(ins.size());
  for (int64_t i = 0; i < out.numel(); ++i) {
    for (size_t j = 0; j < ins.size(); ++j) args[j] = ins[j].get_as_double(source_index(out_shape, i, ins[j].shape()));
    set_from_double(out, i, f(args));
  }
  return out;
}

}  // namespace slimrt::testing
