// Tests of the elementwise family, part 1: unary ops, binary arithmetic with broadcasting,
// comparisons and logic. References are independent double-precision loops over explicit
// multi-indices (no broadcasting iterator shared with the kernels).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <numbers>

#include "support/elementwise_reference.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make;
using testing::make_rng;
using testing::ref_nary;
using testing::set_from_double;
using testing::values_of;
using testing::random_tensor;
using testing::rel_l2;
using testing::run_single_op;

// ---- unary float ops -----------------------------------------------------------------------

struct UnaryCase {
  std::string op;
  std::vector<std::pair<std::string, Attribute>> attrs;
  std::function<double(double)> ref;
  double lo = -3, hi = 3;
};

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }
double softplus(double v) { return std::log(1 + std::exp(v)); }

std::vector<UnaryCase> unary_cases() {
  return {
      {"Abs", {}, [](double v) { return std::fabs(v); }},
      {"Neg", {}, [](double v) { return -v; }},
      {"Sign", {}, [](double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }},
      {"Ceil", {}, [](double v) { return std::ceil(v); }},
      {"Floor", {}, [](double v) { return std::floor(v); }},
      {"Round", {}, [](double v) { return std::nearbyint(v); }},
      {"Sqrt", {}, [](double v) { return std::sqrt(v); }, 0.01, 5},
      {"Reciprocal", {}, [](double v) { return 1 / v; }, 0.1, 4},
      {"Exp", {}, [](double v) { return std::exp(v); }},
      {"Log", {}, [](double v) { return std::log(v); }, 0.01, 5},
      {"Sin", {}, [](double v) { return std::sin(v); }},
      {"Cos", {}, [](double v) { return std::cos(v); }},
      {"Tan", {}, [](double v) { return std::tan(v); }, -1.2, 1.2},
      {"Asin", {}, [](double v) { return std::asin(v); }, -1, 1},
      {"Acos", {}, [](double v) { return std::acos(v); }, -1, 1},
      {"Atan", {}, [](double v) { return std::atan(v); }},
      {"Sinh", {}, [](double v) { return std::sinh(v); }},
      {"Cosh", {}, [](double v) { return std::cosh(v); }},
      {"Asinh", {}, [](double v) { return std::asinh(v); }},
      {"Acosh", {}, [](double v) { return std::acosh(v); }, 1, 5},
      {"Atanh", {}, [](double v) { return std::atanh(v); }, -0.99, 0.99},
      {"Tanh", {}, [](double v) { return std::tanh(v); }},
      {"Erf", {}, [](double v) { return std::erf(v); }},
      {"Sigmoid", {}, sigmoid, -20, 20},
      {"Softplus", {}, softplus, -20, 20},
      {"Softsign", {}, [](double v) { return v / (1 + std::fabs(v)); }},
      {"Relu", {}, [](double v) { return v > 0 ? v : 0; }},
      {"Elu", {{"alpha", 0.7f}}, [](double v) { return v >= 0 ? v : static_cast<double>(0.7f) * (std::exp(v) - 1); }},
      {"Selu", {}, [](double v) {  // ONNX's defaults are float32 attributes
         return 1.05070102214813232421875 * (v > 0 ? v : 1.67326319217681884765625 * (std::exp(v) - 1));
       }},
      {"Celu", {{"alpha", 2.0f}}, [](double v) { return std::max(0.0, v) + std::min(0.0, 2 * (std::exp(v / 2) - 1)); }},
      {"LeakyRelu", {}, [](double v) { return v < 0 ? static_cast<double>(0.01f) * v : v; }},
      {"HardSigmoid", {{"alpha", 0.3f}, {"beta", 0.4f}},
       [](double v) { return std::clamp(static_cast<double>(0.3f) * v + static_cast<double>(0.4f), 0.0, 1.0); }},
      {"HardSwish", {}, [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); }, -5, 5},
      {"ThresholdedRelu", {{"alpha", 0.5f}}, [](double v) { return v > 0.5 ? v : 0; }},
      {"Mish", {}, [](double v) { return v * std::tanh(softplus(v)); }},
      {"Gelu", {}, [](double v) { return 0.5 * v * (1 + std::erf(v / std::numbers::sqrt2)); }},
      {"Gelu", {{"approximate", std::string("tanh")}},
       [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v))); }},
      {"Shrink", {{"bias", 0.25f}, {"lambd", 0.75f}},
       [](double v) { return v < -0.75 ? v + 0.25 : (v > 0.75 ? v - 0.25 : 0.0); }},
  };
}

TEST(ElementwiseUnary, FloatOpsMatchDoubleReference) {
  auto rng = make_rng();
  for (const UnaryCase& c : unary_cases()) {
    for (DataType dt : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16}) {
      const Tensor x = random_tensor(dt, {3, 5, 7}, rng, c.lo, c.hi);
      auto r = run_single_op(c.op, {x}, c.attrs);
      ASSERT_TRUE(r.status.ok()) << c.op << " " << dtype_name(dt) << ": " << r.status.to_string();
      ASSERT_EQ(r.outputs[0].dtype(), dt);
      const Tensor want = ref_nary({x}, dt, [&](const std::vector<double>& a) { return c.ref(a[0]); });
      const double tol = dt == DataType::kFloat64 ? 1e-13
                         : dt == DataType::kFloat32 ? 1e-6
                         : dt == DataType::kFloat16 ? 1e-3 : 8e-3;
      EXPECT_LT(rel_l2(r.outputs[0], want), tol) << c.op << " on " << dtype_name(dt);
    }
  }
}

TEST(ElementwiseUnary, RoundIsHalfToEvenAndEdgeValues) {
  const Tensor x = make(DataType::kFloat32, {8}, {0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, -2.5001, 7});
  auto r = run_single_op("Round", {x}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(values_of(r.outputs[0]), (std::vector<double>{0, 2, 2, -0.0, -2, 2, -3, 7}));

  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  const Tensor y = make(DataType::kFloat32, {5}, {-inf, inf, nan, -100, 100});
  auto s = run_single_op("Sigmoid", {y}, {});
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.outputs[0].get_as_double(0), 0.0);
  EXPECT_EQ(s.outputs[0].get_as_double(1), 1.0);
  EXPECT_TRUE(std::isnan(s.outputs[0].get_as_double(2)));
  auto sp = run_single_op("Softplus", {y}, {});
  ASSERT_TRUE(sp.status.ok());
  EXPECT_EQ(sp.outputs[0].get_as_double(4), 100.0);  // no overflow to inf
  for (const char* op : {"Relu", "HardSigmoid", "Sign", "LeakyRelu", "Abs", "Elu"}) {
    auto q = run_single_op(op, {y}, {});
    ASSERT_TRUE(q.status.ok()) << op;
    EXPECT_TRUE(std::isnan(q.outputs[0].get_as_double(2))) << op << " must propagate NaN";
  }
}

TEST(ElementwiseUnary, IntegerAbsNegSignRelu) {
  auto rng = make_rng();
  for (DataType dt : {DataType::kInt8, DataType::kInt32, DataType::kInt64}) {
    const Tensor x = random_tensor(dt, {4, 9}, rng, -100, 100);
    const std::vector<std::pair<std::string, std::function<double(double)>>> ops = {
        {"Abs", [](double v) { return std::fabs(v); }},
        {"Neg", [](double v) { return -v; }},
        {"Sign", [](double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }},
        {"Relu", [](double v) { return std::max(v, 0.0); }}};
    for (const auto& [op, f] : ops) {
      auto r = run_single_op(op, {x}, {});
      ASSERT_TRUE(r.status.ok()) << op << ": " << r.status.to_string();
      EXPECT_EQ(r.outputs[0].dtype(), dt);
      const Tensor want = ref_nary({x}, dt, [&, f = f](const std::vector<double>& a) { return f(a[0]); });
      EXPECT_EQ(testing::max_abs_diff(r.outputs[0], want), 0.0) << op << " " << dtype_name(dt);
    }
  }
  // The most negative value wraps instead of invoking undefined behaviour.
  const Tensor m = Tensor::from_vector<int8_t>(DataType::kInt8, {2}, {-128, 127});
  auto a = run_single_op("Abs", {m}, {});
  ASSERT_TRUE(a.status.ok());
  EXPECT_EQ(a.outputs[0].data<int8_t>()[0], -128);
  EXPECT_EQ(a.outputs[0].data<int8_t>()[1], 127);
  const Tensor u = Tensor::from_vector<uint8_t>(DataType::kUInt8, {3}, {0, 3, 255});
  auto su = run_single_op("Sign", {u}, {});
  ASSERT_TRUE(su.status.ok());
  EXPECT_EQ(values_of(su.outputs[0]), (std::vector<double>{0, 1, 1}));
  // Neg on unsigned is not an ONNX signature.
  EXPECT_EQ(run_single_op("Neg", {u}, {}).status.code(), StatusCode::kUnsupported);
}

TEST(ElementwiseUnary, IsNaNIsInfNot) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (DataType dt : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16}) {
    const Tensor x = make(dt, {2, 3}, {1, nan, inf, -inf, 0, -2});
    auto r = run_single_op("IsNaN", {x}, {});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_EQ(r.outputs[0].dtype(), DataType::kBool);
    EXPECT_EQ(values_of(r.outputs[0]), (std::vector<double>{0, 1, 0, 0, 0, 0}));
    auto i = run_single_op("IsInf", {x}, {});
    ASSERT_TRUE(i.status.ok());
    EXPECT_EQ(values_of(i.outputs[0]), (std::vector<double>{0, 0, 1, 1, 0, 0}));
    auto p = run_single_op("IsInf", {x}, {{"detect_negative", int64_t{0}}});
    EXPECT_EQ(values_of(p.outputs[0]), (std::vector<double>{0, 0, 1, 0, 0, 0}));
    auto n = run_single_op("IsInf", {x}, {{"detect_positive", int64_t{0}}});
    EXPECT_EQ(values_of(n.outputs[0]), (std::vector<double>{0, 0, 0, 1, 0, 0}));
  }
  const Tensor b = make(DataType::kBool, {3}, {1, 0, 1});
  auto r = run_single_op("Not", {b}, {});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(values_of(r.outputs[0]), (std::vector<double>{0, 1, 0}));
  EXPECT_EQ(run_single_op("Not", {make(DataType::kFloat32, {1}, {1})}, {}).status.code(), StatusCode::kUnsupported);
}

TEST(ElementwiseUnary, FloatOpRejectsIntegerInput) {
  const Tensor x = Tensor::from_vector<int32_t>(DataType::kInt32, {2}, {1, 2});
  auto r = run_single_op("Exp", {x}, {});
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status.message().find("'op' (Exp)"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("int32"), std::string::npos);
}

// ---- binary arithmetic -------------------------------------------------------------------------

const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> kBroadcastPairs = {
    {{3, 5, 7}, {3, 5, 7}},     // same shape
    {{3, 5, 7}, {}},            // scalar
    {{}, {2, 3}},               // scalar first
    {{4, 6}, {6}},              // trailing dim
    {{2, 3, 5, 4}, {3, 1, 1}},  // per-channel bias
    {{2, 1, 4}, {3, 1}},        // both broadcast
    {{1, 5}, {7, 1}},           // outer product
    {{2, 3, 1, 5}, {1, 3, 4, 5}},
    {{1}, {1, 1, 1}},
    {{0, 3}, {3}},              // empty
    {{5, 1, 3}, {5, 2, 3}},     // middle broadcast
};

TEST(ElementwiseBinary, ArithmeticBroadcastsLikeNumpy) {
  auto rng = make_rng();
  const std::vector<std::pair<std::string, std::function<double(double, double)>>> ops = {
      {"Add", [](double a, double b) { return a + b; }},
      {"Sub", [](double a, double b) { return a - b; }},
      {"Mul", [](double a, double b) { return a * b; }},
      {"Div", [](double a, double b) { return a / b; }}};
  for (const auto& [sa, sb] : kBroadcastPairs) {
    for (DataType dt : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16}) {
      const Tensor a = random_tensor(dt, sa, rng, -2, 2);
      const Tensor b = random_tensor(dt, sb, rng, 0.5, 2);
      for (const auto& [op, f] : ops) {
        auto r = run_single_op(op, {a, b}, {});
        ASSERT_TRUE(r.status.ok()) << op << ": " << r.status.to_string();
        const Tensor want = ref_nary({a, b}, dt, [&, f = f](const std::vector<double>& v) { return f(v[0], v[1]); });
        EXPECT_EQ(r.outputs[0].shape(), want.shape());
        EXPECT_LT(rel_l2(r.outputs[0], want), dt == DataType::kFloat16 ? 1e-3 : 1e-7)
            << op << " " << shape_to_string(sa) << " " << shape_to_string(sb) << " " << dtype_name(dt);
      }
    }
  }
}

TEST(ElementwiseBinary, IntegerArithmeticTruncatesAndWraps) {
  auto rng = make_rng();
  for (DataType dt : {DataType::kInt8, DataType::kUInt8, DataType::kInt32, DataType::kInt64}) {
    const bool is_unsigned = dt == DataType::kUInt8;
    const Tensor a = random_tensor(dt, {4, 5}, rng, is_unsigned ? 0 : -50, 50);
    Tensor b = random_tensor(dt, {5}, rng, is_unsigned ? 1 : -9, 9);
    for (int64_t i = 0; i < b.numel(); ++i) {
      if (b.get_as_double(i) == 0) set_from_double(b, i, 3);
    }
    auto r = run_single_op("Div", {a, b}, {});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    const Tensor want = ref_nary({a, b}, dt, [](const std::vector<double>& v) { return std::trunc(v[0] / v[1]); });
    EXPECT_EQ(testing::max_abs_diff(r.outputs[0], want), 0.0) << dtype_name(dt);
    auto m = run_single_op("Mul", {a, b}, {});
    ASSERT_TRUE(m.status.ok());
    const Tensor wm = ref_nary({a, b}, dt, [&](const std::vector<double>& v) {
      // Two's-complement wrap of the exact product.
      const int64_t p = static_cast<int64_t>(v[0] * v[1]);
      if (dt == DataType::kInt8) return static_cast<double>(static_cast<int8_t>(p));
      if (dt == DataType::kUInt8) return static_cast<double>(static_cast<uint8_t>(p));
      return static_cast<double>(p);
    });
    EXPECT_EQ(testing::max_abs_diff(m.outputs[0], wm), 0.0) << dtype_name(dt);
  }
  // ONNX test: Div -7 / 2 on int32 truncates toward zero; overflow wraps.
  const Tensor a = Tensor::from_vector<int32_t>(DataType::kInt32, {4}, {-7, 7, std::numeric_limits<int32_t>::min(), 5});
  const Tensor b = Tensor::from_vector<int32_t>(DataType::kInt32, {4}, {2, -2, -1, 5});
  auto r = run_single_op("Div", {a, b}, {});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(values_of(r.outputs[0]), (std::vector<double>{-3, -3, std::numeric_limits<int32_t>::min(), 1}));
  const Tensor big = Tensor::from_vector<int32_t>(DataType::kInt32, {1}, {std::numeric_limits<int32_t>::max()});
  auto s = run_single_op("Add", {big, Tensor::from_vector<int32_t>(DataType::kInt32, {1}, {1})}, {});
  EXPECT_EQ(s.outputs[0].data<int32_t>()[0], std::numeric_limits<int32_t>::min());
}

TEST(ElementwiseBinary, IntegerDivisionByZeroIsAnError) {
  const Tensor a = Tensor::from_vector<int64_t>(DataType::kInt64, {3}, {1, 2, 3});
  const Tensor b = Tensor::from_vector<int64_t>(DataType::kInt64, {3}, {1, 0, 3});
  for (const char* op : {"Div", "Mod"}) {
    auto r = run_single_op(op, {a, b}, {});
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << op;
    EXPECT_NE(r.status.message().find("node 'op'"), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find("by zero"), std::string::npos) << r.status.message();
  }
  // Float division by zero is IEEE: inf.
  auto f = run_single_op("Div", {make(DataType::kFloat32, {2}, {1, -1}), make(DataType::kFloat32, {2}, {0, 0})}, {});
  ASSERT_TRUE(f.status.ok());
  EXPECT_EQ(f.outputs[0].get_as_double(0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(f.outputs[0].get_as_double(1), -std::numeric_limits<double>::infinity());
}

TEST(ElementwiseBinary, MismatchedDtypesAndShapesAreShapeErrors) {
  auto r = run_single_op("Add", {make(DataType::kFloat32, {2}, {1, 2}), make(DataType::kInt64, {2}, {1, 2})}, {});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("node 'op' (Add)"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("equal dtypes"), std::string::npos) << r.status.message();
  auto s = run_single_op("Mul", {make(DataType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6}), make(DataType::kFloat32, {2}, {1, 2})}, {});
  EXPECT_EQ(s.status.code(), StatusCode::kShapeError);
  EXPECT_NE(s.status.message().find("do not broadcast"), std::string::npos) << s.status.message();
}

TEST(ElementwiseBinary, ModFollowsPythonOrC) {
  // From the ONNX node tests (mod_mixed_sign_*).
  const std::vector<double> x = {-4, 7, 5, 4, -7, 8}, y = {2, -3, 8, -2, 3, 5};
  for (DataType dt : {DataType::kInt8, DataType::kInt32, DataType::kInt64}) {
    auto r = run_single_op("Mod", {make(dt, {6}, x), make(dt, {6}, y)}, {});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_EQ(values_of(r.outputs[0]), (std::vector<double>{0, -2, 5, 0, 2, 3}));
    auto f = run_single_op("Mod", {make(dt, {6}, x), make(dt, {6}, y)}, {{"fmod", int64_t{1}}});
    ASSERT_TRUE(f.status.ok());
    EXPECT_EQ(values_of(f.outputs[0]), (std::vector<double>{0, 1, 5, 0, -1, 3}));
  }
  const std::vector<double> fx = {-4.3, 7.2, 5.0, 4.3, -7.2, 8.0}, fy = {2.1, -3.4, 8.0, -2.1, 3.4, 5.0};
  for (DataType dt : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16}) {
    const Tensor a = make(dt, {6}, fx), b = make(dt, {6}, fy);
    auto f = run_single_op("Mod", {a, b}, {{"fmod", int64_t{1}}});
    ASSERT_TRUE(f.status.ok()) << f.status.to_string();
    EXPECT_EQ(testing::max_abs_diff(f.outputs[0], ref_nary({a, b}, dt, [](const std::vector<double>& v) {
                return std::fmod(v[0], v[1]);
              })), 0.0) << dtype_name(dt);
    auto p = run_single_op("Mod", {a, b}, {});
    ASSERT_TRUE(p.status.ok());
    EXPECT_LT(testing::max_abs_diff(p.outputs[0], ref_nary({a, b}, dt, [](const std::vector<double>& v) {
                return v[0] - std::floor(v[0] / v[1]) * v[1];
              })), dt == DataType::kFloat16 ? 4e-3 : 1e-6) << dtype_name(dt);
  }
  // Broadcast (ONNX mod_broadcast) on uint8.
  auto rng = make_rng();
  const Tensor a = random_tensor(DataType::kUInt8, {3, 2, 5}, rng, 0, 255);
  const Tensor b = make(DataType::kUInt8, {1}, {7});
  auto r = run_single_op("Mod", {a, b}, {});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(testing::max_abs_diff(r.outputs[0], ref_nary({a, b}, DataType::kUInt8, [](const std::vector<double>& v) {
              return std::fmod(v[0], v[1]);
            })), 0.0);
}

TEST(ElementwiseBinary, PowMixedTypes) {
  auto rng = make_rng();
  // Float base with every exponent type; the output takes the base's dtype.
  for (DataType et : {DataType::kFloat32, DataType::kFloat64, DataType::kInt32, DataType::kInt64, DataType::kUInt8}) {
    const Tensor a = random_tensor(DataType::kFloat32, {3, 4}, rng, 0.1, 3);
    const Tensor b = et == DataType::kUInt8 ? random_tensor(et, {4}, rng, 0, 5) : random_tensor(et, {4}, rng, -3, 3);
    auto r = run_single_op("Pow", {a, b}, {});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat32);
    const Tensor want = ref_nary({a, b}, DataType::kFloat32, [](const std::vector<double>& v) { return std::pow(v[0], v[1]); });
    EXPECT_LT(rel_l2(r.outputs[0], want), 1e-6) << dtype_name(et);
  }
  // ONNX pow_types_int*: [1,2,3] ^ [4,5,6].
  for (DataType bt : {DataType::kInt32, DataType::kInt64}) {
    for (DataType et : {DataType::kInt32, DataType::kInt64, DataType::kFloat32}) {
      auto r = run_single_op("Pow", {make(bt, {3}, {1, 2, 3}), make(et, {3}, {4, 5, 6})}, {});
      ASSERT_TRUE(r.status.ok()) << r.status.to_string();
      EXPECT_EQ(r.outputs[0].dtype(), bt);
      EXPECT_EQ(values_of(r.outputs[0]), (std::vector<double>{1, 32, 729}));
    }
  }
  auto neg = run_single_op("Pow", {make(DataType::kInt64, {3}, {2, -1, 1}), make(DataType::kInt64, {3}, {-1, -3, -2})}, {});
  ASSERT_TRUE(neg.status.ok());
  EXPECT_EQ(values_of(neg.outputs[0]), (std::vector<double>{0, -1, 1}));
  auto half = run_single_op("Pow", {make(DataType::kFloat16, {2}, {2, 3}), make(DataType::kFloat32, {2}, {0.5, 2})}, {});
  ASSERT_TRUE(half.status.ok()) << half.status.to_string();
  EXPECT_EQ(half.outputs[0].dtype(), DataType::kFloat16);
  EXPECT_EQ(values_of(half.outputs[0]), (std::vector<double>{half_to_float(float_to_half(std::sqrt(2.0f))), 9}));
}

TEST(ElementwiseBinary, PReluBroadcastsSlope) {
  auto rng = make_rng();
  const Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4, 5}, rng);
  for (const std::vector<int64_t>& ss : {std::vector<int64_t>{3, 1, 1}, {5}, {1}, {2, 3, 4, 5}}) {
    const Tensor s = random_tensor(DataType::kFloat32, ss, rng);
    auto r = run_single_op("PRelu", {x, s}, {});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    const Tensor want = ref_nary({x, s}, DataType::kFloat32, [](const std::vector<double>& v) { return v[0] < 0 ? v[0] * v[1] : v[0]; });
    EXPECT_LT(rel_l2(r.outputs[0], want), 1e-7);
  }
  auto bad = run_single_op("PRelu", {x, random_tensor(DataType::kFloat32, {4}, rng)}, {});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
}

TEST(ElementwiseBinary, BitShift) {
  const Tensor x = make(DataType::kUInt8, {4}, {16, 4, 1, 255});
  const Tensor y = make(DataType::kUInt8, {4}, {1, 2, 3, 8});
  auto l = run_single_op("BitShift", {x, y}, {{"direction", std::string("LEFT")}});
  ASSERT_TRUE(l.status.ok()) << l.status.to_string();
  EXPECT_EQ(values_of(l.outputs[0]), (std::vector<double>{32, 16, 8, 0}));
  auto r = run_single_op("BitShift", {x, y}, {{"direction", std::string("RIGHT")}});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(values_of(r.outputs[0]), (std::vector<double>{8, 1, 0, 0}));
  EXPECT_EQ(run_single_op("BitShift", {x, y}, {}).status.code(), StatusCode::kUnsupported);
}

// ---- comparisons and logic ----------------------------------------------------------------------

TEST(ElementwiseCompare, AllComparisonsBroadcast) {
  auto rng = make_rng();
  const std::vector<std::pair<std::string, std::function<bool(double, double)>>> ops = {
      {"Equal", [](double a, double b) { return a == b; }},
      {"Greater", [](double a, double b) { return a > b; }},
      {"GreaterOrEqual", [](double a, double b) { return a >= b; }},
      {"Less", [](double a, double b) { return a < b; }},
      {"LessOrEqual", [](double a, double b) { return a <= b; }}};
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kInt8,
                      DataType::kUInt8, DataType::kInt32, DataType::kInt64}) {
    for (const auto& [sa, sb] : kBroadcastPairs) {
      // Few distinct values so that equality happens.
      Tensor a = random_tensor(dt, sa, rng, 0, 4), b = random_tensor(dt, sb, rng, 0, 4);
      for (int64_t i = 0; i < a.numel(); ++i) set_from_double(a, i, std::floor(a.get_as_double(i)));
      for (int64_t i = 0; i < b.numel(); ++i) set_from_double(b, i, std::floor(b.get_as_double(i)));
      for (const auto& [op, f] : ops) {
        auto r = run_single_op(op, {a, b}, {});
        ASSERT_TRUE(r.status.ok()) << op << " " << dtype_name(dt) << ": " << r.status.to_string();
        EXPECT_EQ(r.outputs[0].dtype(), DataType::kBool);
        const Tensor want = ref_nary({a, b}, DataType::kBool, [&, f = f](const std::vector<double>& v) { return f(v[0], v[1]) ? 1.0 : 0.0; });
        EXPECT_EQ(testing::max_abs_diff(r.outputs[0], want), 0.0) << op << " " << dtype_name(dt);
      }
    }
  }
  // NaN compares unequal; bools compare by truth.
  const double nan = std::nan("");
  auto e = run_single_op("Equal", {make(DataType::kFloat32, {2}, {nan, 1}), make(DataType::kFloat32, {2}, {nan, 1})}, {});
  EXPECT_EQ(values_of(e.outputs[0]), (std::vector<double>{0, 1}));
  auto eb = run_single_op("Equal", {make(DataType::kBool, {2, 2}, {1, 0, 1, 0}), make(DataType::kBool, {2}, {1, 1})}, {});
  ASSERT_TRUE(eb.status.ok()) << eb.status.to_string();
  EXPECT_EQ(values_of(eb.outputs[0]), (std::vector<double>{1, 0, 1, 0}));
  EXPECT_EQ(run_single_op("Less", {make(DataType::kBool, {1}, {1}), make(DataType::kBool, {1}, {0})}, {}).status.code(),
            StatusCode::kUnsupported);
}

TEST(ElementwiseCompare, LogicOpsOnBool) {
  auto rng = make_rng();
  const std::vector<std::pair<std::string, std::function<bool(bool, bool)>>> ops = {
      {"And", [](bool a, bool b) { return a && b; }},
      {"Or", [](bool a, bool b) { return a || b; }},
      {"Xor", [](bool a, bool b) { return a != b; }}};
  for (const auto& [sa, sb] : kBroadcastPairs) {
    const Tensor a = random_tensor(DataType::kBool, sa, rng), b = random_tensor(DataType::kBool, sb, rng);
    for (const auto& [op, f] : ops) {
      auto r = run_single_op(op, {a, b}, {});
      ASSERT_TRUE(r.status.ok()) << op << ": " << r.status.to_string();
      const Tensor want = ref_nary({a, b}, DataType::kBool, [&, f = f](const std::vector<double>& v) { return f(v[0] != 0, v[1] != 0) ? 1.0 : 0.0; });
      EXPECT_EQ(testing::max_abs_diff(r.outputs[0], want), 0.0) << op;
    }
  }
  EXPECT_EQ(run_single_op("And", {make(DataType::kInt32, {1}, {1}), make(DataType::kInt32, {1}, {1})}, {}).status.code(),
            StatusCode::kUnsupported);
}

}  // namespace
}  // namespace slimrt
