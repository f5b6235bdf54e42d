#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "slimrt/dtype.h"
#include "slimrt/shape.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("x must be positive, got " + std::to_string(x));
  return x;
}

Status use_parse(int x, int* out) {
  SLIMRT_ASSIGN_OR_RETURN(*out, parse_positive(x));
  return Status::OK();
}

TEST(Status, OkAndErrorsCarryCodeAndMessage) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.to_string(), "OK");
  Status e = data_loss("chunk 3 at offset 4096: checksum mismatch");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.code(), StatusCode::kDataLoss);
  EXPECT_EQ(e.to_string(), "DataLoss: chunk 3 at offset 4096: checksum mismatch");
  EXPECT_TRUE(e.is_user_error());
  EXPECT_FALSE(out_of_memory("x").is_user_error());
  EXPECT_EQ(e.with_context("loading m.engine").message(), "loading m.engine: chunk 3 at offset 4096: checksum mismatch");
  Status copy = e;
  EXPECT_EQ(copy.message(), e.message());
}

TEST(Status, ResultPropagates) {
  int v = 0;
  EXPECT_TRUE(use_parse(5, &v).ok());
  EXPECT_EQ(v, 5);
  Status s = use_parse(-1, &v);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("-1"), std::string::npos);
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DataType::kFloat16), 2u);
  EXPECT_EQ(dtype_size(DataType::kInt64), 8u);
  for (DataType t : kAllDataTypes) EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  EXPECT_FALSE(dtype_from_name("complex64").has_value());
}

TEST(DType, HalfRoundTripsEveryFiniteValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = half_to_float(bits);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    EXPECT_EQ(float_to_half(f), bits) << "half bits " << h;
  }
}

TEST(DType, HalfRoundsToNearestEven) {
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 1.0f / 2048)), 1.0f);            // tie -> even
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 3.0f / 2048)), 1.0f + 2.0f / 1024);  // tie -> even (up)
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(70000.0f))));
  EXPECT_EQ(half_to_float(float_to_half(65504.0f)), 65504.0f);
  EXPECT_EQ(half_to_float(float_to_half(5.9604645e-08f)), 5.9604645e-08f);  // smallest subnormal
  EXPECT_EQ(half_to_float(float_to_half(2.0e-08f)), 0.0f);
}

TEST(DType, BFloat16) {
  for (float f : {1.0f, -2.5f, 3.140625f, 65536.0f, -0.0078125f}) EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(f)), f);
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(1.0f + 1.0f / 256)), 1.0f);  // tie -> even
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(NAN))));
}

TEST(Dim, SymbolicArithmeticCancels) {
  Dim b = Dim::symbol("batch"), s = Dim::symbol("seq");
  Dim tokens = b * s * Dim(768);
  EXPECT_EQ(tokens.to_string(), "768*batch*seq");
  auto per = tokens.divide(Dim(12) * b * s);
  ASSERT_TRUE(per.has_value());
  EXPECT_EQ(*per, Dim(64));
  EXPECT_FALSE(Dim(7).divide(Dim(2)).has_value());
  EXPECT_FALSE(b.divide(s).has_value());
  EXPECT_EQ((s + s), Dim(2) * s);
  EXPECT_EQ((b + s), (s + b));
  EXPECT_EQ((b - b), Dim(0));
  EXPECT_FALSE((b + Dim(1)).is_static());
  EXPECT_EQ(b.as_symbol(), "batch");
  EXPECT_FALSE((Dim(2) * b).as_symbol().has_value());
  EXPECT_EQ(shape_to_string(Shape{b, s, 768}), "[batch,seq,768]");
  EXPECT_EQ(dim_substitute(tokens, {{"batch", 2}, {"seq", 3}}), Dim(2 * 3 * 768));
}

TEST(Dim, SumsCancelLikeKvCacheShapes) {
  Dim past = Dim::symbol("past"), seq = Dim::symbol("seq"), b = Dim::symbol("batch");
  Dim total = past + seq;
  EXPECT_EQ(total.to_string(), "past+seq");
  EXPECT_EQ(total - past, seq);                          // key length - cache length
  EXPECT_EQ(total - (total - seq), seq);                 // ((past+seq)-((past+seq)-seq))
  EXPECT_EQ((seq - Dim(2)).to_string(), "seq-2");
  EXPECT_EQ((Dim(2) - seq).to_string(), "-seq+2");
  Dim tokens = b * total;                                 // batch*(past+seq), expanded
  EXPECT_EQ(tokens.to_string(), "batch*past+batch*seq");
  ASSERT_TRUE(tokens.divide(b).has_value());
  EXPECT_EQ(*tokens.divide(b), total);
  ASSERT_TRUE(tokens.divide(total).has_value());          // polynomial divisor
  EXPECT_EQ(*tokens.divide(total), b);
  EXPECT_FALSE(total.divide(seq).has_value());
  EXPECT_FALSE((Dim(2) * seq + Dim(1)).divide(Dim(2)).has_value());
  EXPECT_EQ((Dim(4) * seq + Dim(8)).divide(Dim(4)), seq + Dim(2));
  EXPECT_EQ(total.symbols(), (std::vector<std::string>{"past", "seq"}));
  EXPECT_EQ(dim_substitute(tokens, {{"batch", 2}, {"past", 5}, {"seq", 3}}), Dim(16));
  EXPECT_EQ(Dim(0).to_string(), "0");
  EXPECT_EQ(Dim(0), Dim(5) - Dim(5));
}

// Static dims are stored as a number and symbolic ones as terms: results that cancel every
// symbol must come back static and compare equal to the plain number, and the terms seen from
// outside are the same either way.
TEST(Dim, StaticAndSymbolicMeetAtTheBoundary) {
  const Dim s = Dim::symbol("seq");
  const Dim back = (s + Dim(7)) - s;  // symbolic on the way, static at the end
  EXPECT_TRUE(back.is_static());
  EXPECT_EQ(back, Dim(7));
  EXPECT_EQ(back.value(), 7);
  EXPECT_EQ((s * Dim(6)).divide(s), Dim(6));
  EXPECT_EQ(Dim(-3).to_string(), "-3");
  EXPECT_EQ(Dim(42).terms().size(), 1u);
  EXPECT_EQ(Dim(42).terms()[0].coeff, 42);
  EXPECT_TRUE(Dim(42).terms()[0].factors.empty());
  EXPECT_TRUE(Dim(0).terms().empty());
  EXPECT_EQ((s - Dim(2)).terms().size(), 2u);
  EXPECT_EQ(Dim(12) * Dim(-4), Dim(-48));
  EXPECT_EQ(Dim(12) + Dim(-4), Dim(8));
  EXPECT_EQ(Dim(12).divide(Dim(-4)), Dim(-3));
  EXPECT_FALSE(Dim(12).divide(Dim(0)).has_value());
  EXPECT_FALSE(s.divide(Dim(0)).has_value());
  EXPECT_EQ(Dim(0).divide(s), Dim(0));
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_FALSE(Dim(kMin).divide(Dim(-1)).has_value());  // the quotient does not fit
  EXPECT_FALSE((Dim(kMin) * s).divide(Dim(-1)).has_value());
  EXPECT_EQ(Dim(kMin).divide(Dim(1)), Dim(kMin));
  EXPECT_NE(Dim(1), s);
  EXPECT_NE(Dim(0), s - Dim(0) + Dim(1) - Dim(1) + s - s + Dim(3));
}

TEST(Tensor, AllocateWrapPoison) {
  auto t = Tensor::allocate(DataType::kFloat32, {2, 3});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->bytes(), 24u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw()) % 64, 0u);
  t->poison();
  EXPECT_TRUE(std::isnan(t->data<float>()[5]));
  EXPECT_FALSE(Tensor::allocate(DataType::kFloat32, {2, -1}).ok());
  // 2^62 bytes fit in int64 but in no machine: kOutOfMemory naming the bytes. 2^70 elements
  // overflow int64: bad input.
  auto huge = Tensor::allocate(DataType::kFloat32, {1LL << 40, 1LL << 20});
  EXPECT_EQ(huge.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(huge.status().message().find("4611686018427387904 bytes"), std::string::npos) << huge.status().to_string();
  auto overflow = Tensor::allocate(DataType::kFloat32, {1LL << 40, 1LL << 30});
  EXPECT_EQ(overflow.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(overflow.status().message().find("overflows int64"), std::string::npos) << overflow.status().to_string();
  EXPECT_TRUE(Tensor::allocate(DataType::kFloat32, {0, 1LL << 62, 1LL << 62}).ok());  // 0 elements
  float buf[4] = {1, 2, 3, 4};
  Tensor w = Tensor::wrap(buf, DataType::kFloat32, {4});
  EXPECT_EQ(w.get_as_double(2), 3.0);
  auto v = w.reshaped({2, 2});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->raw(), static_cast<void*>(buf));
  EXPECT_FALSE(w.reshaped({3}).ok());
}

}  // namespace
}  // namespace slimrt
