// The elementwise CUDA kernels against the CPU reference: every op over fp32/fp16/bf16 (ints
// where the op takes them), odd shapes, the vectorised layouts (same shape, bias row, channel
// constant, scalar), the strided fallback, attribute variants and zero-size tensors.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gpu/gpu_test_util.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::OpCheck;
using testing::expect_cuda_matches_cpu;
using testing::make_rng;
using testing::random_tensor;
using Attrs = std::vector<std::pair<std::string, Attribute>>;
using Shape = std::vector<int64_t>;

OpCheck check_of(const std::string& op, std::vector<Tensor> inputs = {}) {
  OpCheck c;
  c.op_type = op;
  c.inputs = std::move(inputs);
  return c;
}

constexpr DataType kFloats[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};
constexpr DataType kInts[] = {DataType::kInt8, DataType::kUInt8, DataType::kInt32, DataType::kInt64};
const std::vector<Shape> kUnaryShapes = {{3, 5, 7}, {1, 257}, {2, 3, 33, 65}, {4096}};

void check_unary(const std::string& op, double lo, double hi, const Attrs& attrs = {},
                 std::vector<DataType> types = {kFloats[0], kFloats[1], kFloats[2], DataType::kFloat64}) {
  auto rng = make_rng();
  for (DataType t : types) {
    for (const Shape& s : kUnaryShapes) {
      OpCheck c = check_of(op);
      c.inputs = {random_tensor(t, s, rng, lo, hi)};
      c.attrs = attrs;
      expect_cuda_matches_cpu(c);
    }
  }
}

// a (op) b for each pair of shapes: the fast layouts and the strided fallback.
const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{3, 5, 7}, {3, 5, 7}},          // same shape, not a multiple of the vector width
    {{2, 3, 33, 64}, {64}},          // bias row
    {{2, 3, 33, 65}, {65}},          // bias row, odd width (strided path)
    {{2, 8, 4, 16}, {8, 1, 1}},      // channel constant
    {{1, 257}, {1}},                 // scalar
    {{}, {3, 5}},                    // scalar on the left
    {{7}, {2, 3, 7}},                // bias on the left
    {{2, 1, 5, 7}, {3, 1, 7}},       // both broadcast
    {{2, 1, 1, 16}, {2, 12, 16, 16}},  // attention-mask-like
};

void check_binary(const std::string& op, const std::vector<DataType>& types, double lo, double hi,
                  const Attrs& attrs = {}, double blo = NAN, double bhi = NAN) {
  auto rng = make_rng();
  if (std::isnan(blo)) blo = lo, bhi = hi;
  for (DataType t : types) {
    for (const auto& [sa, sb] : kBinaryShapes) {
      OpCheck c = check_of(op);
      c.inputs = {random_tensor(t, sa, rng, lo, hi), random_tensor(t, sb, rng, blo, bhi)};
      c.attrs = attrs;
      expect_cuda_matches_cpu(c);
    }
  }
}

std::vector<DataType> all_numeric() {
  std::vector<DataType> v(std::begin(kFloats), std::end(kFloats));
  v.push_back(DataType::kFloat64);
  v.insert(v.end(), std::begin(kInts), std::end(kInts));
  return v;
}

// ---- unary math ------------------------------------------------------------------------------
#define SLIMRT_UNARY_TEST(Op, lo, hi)  \
  TEST(CudaElementwise, Op) {          \
    SLIMRT_SKIP_WITHOUT_GPU();         \
    check_unary(#Op, lo, hi);          \
  }
SLIMRT_UNARY_TEST(Acos, -0.95, 0.95)
SLIMRT_UNARY_TEST(Acosh, 1.05, 4.0)
SLIMRT_UNARY_TEST(Asin, -0.95, 0.95)
SLIMRT_UNARY_TEST(Asinh, -3.0, 3.0)
SLIMRT_UNARY_TEST(Atan, -3.0, 3.0)
SLIMRT_UNARY_TEST(Atanh, -0.9, 0.9)
SLIMRT_UNARY_TEST(Ceil, -5.0, 5.0)
SLIMRT_UNARY_TEST(Cos, -3.0, 3.0)
SLIMRT_UNARY_TEST(Cosh, -3.0, 3.0)
SLIMRT_UNARY_TEST(Erf, -3.0, 3.0)
SLIMRT_UNARY_TEST(Exp, -4.0, 4.0)
SLIMRT_UNARY_TEST(Floor, -5.0, 5.0)
SLIMRT_UNARY_TEST(Log, 0.05, 5.0)
SLIMRT_UNARY_TEST(Reciprocal, 0.2, 3.0)
SLIMRT_UNARY_TEST(Round, -5.0, 5.0)
SLIMRT_UNARY_TEST(Sin, -3.0, 3.0)
SLIMRT_UNARY_TEST(Sinh, -3.0, 3.0)
SLIMRT_UNARY_TEST(Sqrt, 0.0, 5.0)
SLIMRT_UNARY_TEST(Tan, -1.2, 1.2)
SLIMRT_UNARY_TEST(Tanh, -3.0, 3.0)
SLIMRT_UNARY_TEST(Sigmoid, -8.0, 8.0)
SLIMRT_UNARY_TEST(HardSwish, -5.0, 5.0)
SLIMRT_UNARY_TEST(Softplus, -8.0, 8.0)
SLIMRT_UNARY_TEST(Softsign, -5.0, 5.0)
SLIMRT_UNARY_TEST(Mish, -5.0, 5.0)
SLIMRT_UNARY_TEST(SiLU, -6.0, 6.0)
#undef SLIMRT_UNARY_TEST

TEST(CudaElementwise, RoundHalfToEven) {
  SLIMRT_SKIP_WITHOUT_GPU();
  OpCheck c = check_of("Round");
  c.inputs = {Tensor::from_vector<float>(DataType::kFloat32, {8}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, -2.6f})};
  expect_cuda_matches_cpu(c);
}

TEST(CudaElementwise, ActivationsWithAttributes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  check_unary("Relu", -2.0, 2.0);
  check_unary("LeakyRelu", -2.0, 2.0);
  check_unary("LeakyRelu", -2.0, 2.0, {{"alpha", Attribute(0.3f)}});
  check_unary("Elu", -3.0, 3.0);
  check_unary("Elu", -3.0, 3.0, {{"alpha", Attribute(0.5f)}});
  check_unary("Celu", -3.0, 3.0, {{"alpha", Attribute(2.0f)}});
  check_unary("Selu", -3.0, 3.0);
  check_unary("Selu", -3.0, 3.0, {{"alpha", Attribute(1.5f)}, {"gamma", Attribute(0.9f)}});
  check_unary("HardSigmoid", -5.0, 5.0);
  check_unary("HardSigmoid", -5.0, 5.0, {{"alpha", Attribute(0.3f)}, {"beta", Attribute(0.4f)}});
  check_unary("ThresholdedRelu", -2.0, 3.0);
  check_unary("ThresholdedRelu", -2.0, 3.0, {{"alpha", Attribute(0.5f)}});
  check_unary("Shrink", -2.0, 2.0);
  check_unary("Shrink", -2.0, 2.0, {{"bias", Attribute(0.3f)}, {"lambd", Attribute(0.7f)}});
}

TEST(CudaElementwise, Gelu) {
  SLIMRT_SKIP_WITHOUT_GPU();
  check_unary("Gelu", -5.0, 5.0);
  check_unary("Gelu", -5.0, 5.0, {{"approximate", Attribute(std::string("none"))}});
  check_unary("Gelu", -5.0, 5.0, {{"approximate", Attribute(std::string("tanh"))}});
}

TEST(CudaElementwise, NumericUnaryOnIntegers) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const std::vector<DataType> ints(std::begin(kInts), std::end(kInts));
  std::vector<DataType> signed_types;
  for (DataType t : all_numeric()) {
    if (t != DataType::kUInt8) signed_types.push_back(t);
  }
  for (const char* op : {"Abs", "Neg", "Sign", "Relu"}) {
    const bool is_neg = std::string(op) == "Neg";  // the IR refuses Neg on unsigned types
    check_unary(op, -100.0, 100.0, {}, is_neg ? signed_types : all_numeric());
    check_unary(op, 0.0, 100.0, {}, is_neg ? signed_types : ints);  // uint8 sees only non-negative values
  }
  check_unary("Shrink", -10.0, 10.0, {{"bias", Attribute(2.0f)}, {"lambd", Attribute(3.0f)}}, ints);
}

TEST(CudaElementwise, Clip) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  for (DataType t : all_numeric()) {
    const bool is_int = !dtype_is_float(t);
    const double lo = is_int ? -50 : -2, hi = is_int ? 50 : 2;
    auto scalar = [&](double v) {
      Tensor s = random_tensor(t, {}, rng, 0, 1);
      switch (t) {
        case DataType::kFloat32: s.data<float>()[0] = static_cast<float>(v); break;
        case DataType::kFloat64: s.data<double>()[0] = v; break;
        case DataType::kFloat16: s.data<uint16_t>()[0] = float_to_half(static_cast<float>(v)); break;
        case DataType::kBFloat16: s.data<uint16_t>()[0] = float_to_bfloat16(static_cast<float>(v)); break;
        case DataType::kInt8: s.data<int8_t>()[0] = static_cast<int8_t>(v); break;
        case DataType::kUInt8: s.data<uint8_t>()[0] = static_cast<uint8_t>(v); break;
        case DataType::kInt32: s.data<int32_t>()[0] = static_cast<int32_t>(v); break;
        case DataType::kInt64: s.data<int64_t>()[0] = static_cast<int64_t>(v); break;
        default: break;
      }
      return s;
    };
    const double mn = t == DataType::kUInt8 ? 10 : (is_int ? -20 : -0.5);
    const double mx = is_int ? 30 : 1.0;
    const double xlo = t == DataType::kUInt8 ? 0 : lo;
    for (int variant = 0; variant < 4; ++variant) {
      OpCheck c = check_of("Clip");
      c.inputs = {random_tensor(t, {3, 5, 7}, rng, xlo, hi)};
      if (variant == 0) {
        c.inputs.push_back(scalar(mn));
        c.inputs.push_back(scalar(mx));
        c.constant_inputs = {1, 2};
      } else if (variant == 1) {
        c.inputs.push_back(scalar(mn));
        c.constant_inputs = {1};
      } else if (variant == 2) {
        c.inputs.push_back(Tensor());
        c.inputs.push_back(scalar(mx));
        c.constant_inputs = {2};
      } else {
        c.inputs.push_back(scalar(mx));  // min > max: everything becomes max
        c.inputs.push_back(scalar(mn));
        c.constant_inputs = {1, 2};
      }
      expect_cuda_matches_cpu(c);
    }
    OpCheck none = check_of("Clip");
    none.inputs = {random_tensor(t, {2, 3, 33, 65}, rng, xlo, hi)};
    expect_cuda_matches_cpu(none);
  }
}

TEST(CudaElementwise, IsNaNIsInf) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> v = {1.0f, -inf, inf, nan, 0.0f, -2.0f, inf, nan, -inf, 3.0f, 5.0f};
  for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16}) {
    Tensor x = Tensor::allocate(t, {11}).value();
    for (size_t i = 0; i < v.size(); ++i) {
      switch (t) {
        case DataType::kFloat32: x.data<float>()[i] = v[i]; break;
        case DataType::kFloat64: x.data<double>()[i] = v[i]; break;
        case DataType::kFloat16: x.data<uint16_t>()[i] = float_to_half(v[i]); break;
        default: x.data<uint16_t>()[i] = float_to_bfloat16(v[i]); break;
      }
    }
    expect_cuda_matches_cpu(check_of("IsNaN", {x}));
    expect_cuda_matches_cpu(check_of("IsInf", {x}));
    for (int64_t neg : {0, 1}) {
      for (int64_t pos : {0, 1}) {
        OpCheck c = check_of("IsInf", {x});
        c.attrs = {{"detect_negative", Attribute(neg)}, {"detect_positive", Attribute(pos)}};
        expect_cuda_matches_cpu(c);
      }
    }
  }
}

TEST(CudaElementwise, Not) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  for (const Shape& s : kUnaryShapes) expect_cuda_matches_cpu(check_of("Not", {random_tensor(DataType::kBool, s, rng)}));
}

// ---- binary ------------------------------------------------------------------------------------
TEST(CudaElementwise, AddSubMul) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (const char* op : {"Add", "Sub", "Mul"}) check_binary(op, all_numeric(), -100, 100);
}

TEST(CudaElementwise, Div) {
  SLIMRT_SKIP_WITHOUT_GPU();
  check_binary("Div", {kFloats[0], kFloats[1], kFloats[2], DataType::kFloat64}, -5, 5, {}, 0.5, 4);
  check_binary("Div", {kFloats[0], kFloats[1], kFloats[2], DataType::kFloat64}, -5, 5, {}, -4, -0.5);
  check_binary("Div", std::vector<DataType>(std::begin(kInts), std::end(kInts)), 0, 120, {}, 1, 9);
  check_binary("Div", {DataType::kInt8, DataType::kInt32, DataType::kInt64}, -120, 120, {}, -9, -1);
}

TEST(CudaElementwise, Mod) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (int64_t f : {0, 1}) {
    const Attrs a = {{"fmod", Attribute(f)}};
    check_binary("Mod", {kFloats[0], kFloats[1], kFloats[2], DataType::kFloat64}, -10, 10, a, 0.5, 3);
    check_binary("Mod", {kFloats[0], kFloats[1], kFloats[2], DataType::kFloat64}, -10, 10, a, -3, -0.5);
    check_binary("Mod", {DataType::kInt8, DataType::kInt32, DataType::kInt64}, -100, 100, a, 1, 9);
    check_binary("Mod", {DataType::kInt8, DataType::kInt32, DataType::kInt64}, -100, 100, a, -9, -1);
  }
  check_binary("Mod", {DataType::kUInt8}, 0, 200, {}, 1, 20);
}

TEST(CudaElementwise, Pow) {
  SLIMRT_SKIP_WITHOUT_GPU();
  check_binary("Pow", {kFloats[0], kFloats[1], kFloats[2], DataType::kFloat64}, 0.1, 3, {}, -2, 2);
  check_binary("Pow", {DataType::kInt32, DataType::kInt64}, -5, 5, {}, 0, 4);
  auto rng = make_rng();
  // Mixed exponent dtypes.
  for (DataType base : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    for (DataType e : {DataType::kFloat32, DataType::kInt32, DataType::kInt64}) {
      OpCheck c = check_of("Pow");
      c.inputs = {random_tensor(base, {2, 3, 33, 64}, rng, 0.1, 2), random_tensor(e, {64}, rng, 0, 3)};
      expect_cuda_matches_cpu(c);
    }
  }
  OpCheck neg = check_of("Pow");
  neg.inputs = {random_tensor(DataType::kInt32, {3, 5, 7}, rng, 1, 4), random_tensor(DataType::kInt64, {7}, rng, -2, 3)};
  expect_cuda_matches_cpu(neg);
}

TEST(CudaElementwise, PRelu) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  for (DataType t : all_numeric()) {
    const double lo = t == DataType::kUInt8 ? 0 : -10;
    for (const auto& [sx, ss] : std::vector<std::pair<Shape, Shape>>{
             {{2, 3, 5, 7}, {3, 1, 1}}, {{2, 16, 4, 4}, {16, 1, 1}}, {{4, 33}, {33}}, {{3, 5, 7}, {1}}, {{3, 5, 7}, {3, 5, 7}}}) {
      OpCheck c = check_of("PRelu");
      c.inputs = {random_tensor(t, sx, rng, lo, 10), random_tensor(t, ss, rng, 0, 3)};
      expect_cuda_matches_cpu(c);
    }
  }
}

TEST(CudaElementwise, BitShift) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (const char* dir : {"LEFT", "RIGHT"})
    check_binary("BitShift", {DataType::kUInt8}, 0, 256, {{"direction", Attribute(std::string(dir))}}, 0, 10);
}

TEST(CudaElementwise, Comparisons) {
  SLIMRT_SKIP_WITHOUT_GPU();
  // Narrow ranges so Equal sees ties. Only Equal takes bool (the IR refuses ordered bool compares).
  for (const char* op : {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"}) check_binary(op, all_numeric(), -3, 3);
  check_binary("Equal", {DataType::kBool}, 0, 2);
  check_binary("Equal", {kFloats[0], kFloats[1], kFloats[2]}, -1, 1);
}

TEST(CudaElementwise, Logic) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (const char* op : {"And", "Or", "Xor"}) check_binary(op, {DataType::kBool}, 0, 1);
}

TEST(CudaElementwise, Where) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  const std::vector<std::array<Shape, 3>> shapes = {
      {Shape{3, 5, 7}, Shape{3, 5, 7}, Shape{3, 5, 7}},
      {Shape{2, 1, 1, 16}, Shape{2, 12, 16, 16}, Shape{}},
      {Shape{16, 64}, Shape{64}, Shape{16, 64}},
      {Shape{5, 1}, Shape{1, 7}, Shape{3, 1, 1}},
  };
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kInt8,
                     DataType::kInt64, DataType::kBool}) {
    for (const auto& s : shapes) {
      OpCheck c = check_of("Where");
      c.inputs = {random_tensor(DataType::kBool, s[0], rng), random_tensor(t, s[1], rng, -5, 5),
                  random_tensor(t, s[2], rng, -5, 5)};
      expect_cuda_matches_cpu(c);
    }
  }
}

TEST(CudaElementwise, Variadic) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  const std::vector<std::vector<Shape>> sets = {
      {{3, 5, 7}}, {{3, 5, 7}, {3, 5, 7}}, {{2, 3, 33, 64}, {64}, {3, 1, 1}}, {{7}, {5, 1}, {2, 1, 1}, {5, 7}, {1}}};
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) {
    const bool float_only = std::string(op) == "Sum" || std::string(op) == "Mean";  // as the IR defines them
    for (DataType t : all_numeric()) {
      if (float_only && !dtype_is_float(t)) continue;
      const double lo = dtype_is_float(t) ? -5 : 0, hi = dtype_is_float(t) ? 5 : 20;
      for (const auto& shapes : sets) {
        OpCheck c = check_of(op);
        for (const Shape& s : shapes) c.inputs.push_back(random_tensor(t, s, rng, lo, hi));
        expect_cuda_matches_cpu(c);
      }
    }
  }
}

TEST(CudaElementwise, MaxMinPropagateNaN) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor a = Tensor::from_vector<float>(DataType::kFloat32, {4}, {1.0f, nan, 3.0f, nan});
  Tensor b = Tensor::from_vector<float>(DataType::kFloat32, {4}, {nan, 2.0f, 1.0f, nan});
  for (const char* op : {"Max", "Min"}) expect_cuda_matches_cpu(check_of(op, {a, b}));
}

TEST(CudaElementwise, LargeFp16Bias) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  for (const char* op : {"Add", "Mul", "Sub", "Div"}) {
    OpCheck c = check_of(op);
    c.inputs = {random_tensor(DataType::kFloat16, {1024, 768}, rng, -2, 2), random_tensor(DataType::kFloat16, {768}, rng, 0.5, 2)};
    expect_cuda_matches_cpu(c);
  }
  OpCheck g = check_of("Gelu");
  g.inputs = {random_tensor(DataType::kFloat16, {1024, 768}, rng, -4, 4)};
  expect_cuda_matches_cpu(g);
}

// ---- Cast, CastLike, Dropout ---------------------------------------------------------------------
const DataType kAllTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kInt8,
                              DataType::kUInt8,   DataType::kInt32,   DataType::kInt64,    DataType::kBool};

TEST(CudaElementwise, CastAllPairs) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  for (DataType from : kAllTypes) {
    for (DataType to : kAllTypes) {
      for (const Shape& s : {Shape{3, 5, 7}, Shape{2, 3, 33, 64}}) {
        OpCheck c = check_of("Cast");
        // Wide values: float -> int8/uint8 wraps, -> fp16 rounds; ints beyond fp16/bf16 precision.
        const double lo = from == DataType::kUInt8 ? 0 : -300, hi = 300;
        c.inputs = {random_tensor(from, s, rng, lo, hi)};
        c.attrs = {{"to", Attribute(static_cast<int64_t>(to))}};
        expect_cuda_matches_cpu(c);
      }
    }
  }
}

TEST(CudaElementwise, CastLargeValuesToNarrowFloats) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  for (DataType to : {DataType::kFloat16, DataType::kBFloat16, DataType::kFloat32}) {
    // fp16 overflows past 65504; the wider targets see integers beyond 2^24 (double rounding).
    const double range = to == DataType::kFloat16 ? 6e4 : 1e12;
    for (DataType from : {DataType::kInt64, DataType::kFloat64}) {
      OpCheck c = check_of("Cast");
      c.inputs = {random_tensor(from, {1, 257}, rng, -range, range)};
      c.attrs = {{"to", Attribute(static_cast<int64_t>(to))}};
      expect_cuda_matches_cpu(c);
    }
  }
}

TEST(CudaElementwise, CastLike) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  for (DataType from : {DataType::kFloat32, DataType::kInt64, DataType::kFloat16}) {
    for (DataType to : {DataType::kFloat16, DataType::kBFloat16, DataType::kInt32, DataType::kFloat32}) {
      OpCheck c = check_of("CastLike");
      c.inputs = {random_tensor(from, {3, 5, 7}, rng, -50, 50), random_tensor(to, {1}, rng)};
      expect_cuda_matches_cpu(c);
    }
  }
}

TEST(CudaElementwise, Dropout) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    OpCheck c = check_of("Dropout");
    c.inputs = {random_tensor(t, {2, 3, 33, 65}, rng)};
    expect_cuda_matches_cpu(c);
    OpCheck m = check_of("Dropout");
    m.inputs = {random_tensor(t, {3, 5, 7}, rng), Tensor::from_vector<float>(DataType::kFloat32, {}, {0.3f})};
    m.constant_inputs = {1};
    m.num_outputs = 2;
    expect_cuda_matches_cpu(m);
  }
}

// ---- zero-size ------------------------------------------------------------------------------------
TEST(CudaElementwise, ZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng();
  expect_cuda_matches_cpu(check_of("Relu", {random_tensor(DataType::kFloat16, {2, 0, 3}, rng)}));
  expect_cuda_matches_cpu(check_of("Add", {random_tensor(DataType::kFloat32, {0, 3}, rng), random_tensor(DataType::kFloat32, {3}, rng)}));
  expect_cuda_matches_cpu(check_of("Where", {random_tensor(DataType::kBool, {0}, rng), random_tensor(DataType::kFloat16, {0}, rng),
                                            random_tensor(DataType::kFloat16, {1}, rng)}));
  expect_cuda_matches_cpu(check_of("Sum", {random_tensor(DataType::kFloat32, {0, 4}, rng), random_tensor(DataType::kFloat32, {4}, rng),
                                          random_tensor(DataType::kFloat32, {0, 1}, rng)}));
  expect_cuda_matches_cpu(check_of("Max", {random_tensor(DataType::kInt32, {0}, rng)}));
  OpCheck cast = check_of("Cast", {random_tensor(DataType::kFloat32, {4, 0}, rng)});
  cast.attrs = {{"to", Attribute(static_cast<int64_t>(DataType::kFloat16))}};
  expect_cuda_matches_cpu(cast);
  expect_cuda_matches_cpu(check_of("Dropout", {random_tensor(DataType::kFloat16, {0, 5}, rng)}));
}

}  // namespace
}  // namespace slimrt
