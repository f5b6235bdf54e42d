// Tests of the elementwise family, part 2: variadic ops, Where, Clip, Cast/CastLike/Identity,
// symbolic shape inference and value propagation through shape subgraphs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "slimrt/graph.h"
#include "support/elementwise_reference.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make;
using testing::make_rng;
using testing::ref_nary;
using testing::set_from_double;
using testing::values_of;
using testing::max_abs_diff;
using testing::random_tensor;
using testing::rel_l2;
using testing::run_single_op;

// ---- variadic --------------------------------------------------------------------------------------

TEST(ElementwiseVariadic, MaxMinSumMeanBroadcastOverManyInputs) {
  auto rng = make_rng();
  const std::vector<std::pair<std::string, std::function<double(const std::vector<double>&)>>> ops = {
      {"Max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }},
      {"Min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }},
      {"Sum", [](const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return s; }},
      {"Mean", [](const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return s / static_cast<double>(v.size()); }}};
  const std::vector<std::vector<std::vector<int64_t>>> shape_sets = {
      {{2, 3}}, {{3, 1, 4}, {5, 1}}, {{3, 1, 4}, {5, 1}, {4}}, {{}, {2, 2}, {2, 1}, {1, 2}}, {{6}, {6}, {6}}};
  for (DataType dt : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16}) {
    for (const auto& shapes : shape_sets) {
      std::vector<Tensor> ins;
      for (const auto& s : shapes) ins.push_back(random_tensor(dt, s, rng, -5, 5));
      for (const auto& [op, f] : ops) {
        auto r = run_single_op(op, ins, {});
        ASSERT_TRUE(r.status.ok()) << op << ": " << r.status.to_string();
        const Tensor want = ref_nary(ins, dt, f);
        EXPECT_LT(rel_l2(r.outputs[0], want), dt == DataType::kFloat16 ? 2e-3 : 1e-6)
            << op << " with " << shapes.size() << " inputs, " << dtype_name(dt);
      }
    }
  }
  for (DataType dt : {DataType::kInt8, DataType::kUInt8, DataType::kInt32, DataType::kInt64}) {
    std::vector<Tensor> ins = {random_tensor(dt, {3, 4}, rng, 0, 100), random_tensor(dt, {4}, rng, 0, 100),
                               random_tensor(dt, {3, 1}, rng, 0, 100)};
    for (const auto& [op, f] : ops) {
      if (op == "Sum" || op == "Mean") continue;
      auto r = run_single_op(op, ins, {});
      ASSERT_TRUE(r.status.ok()) << op << ": " << r.status.to_string();
      EXPECT_EQ(max_abs_diff(r.outputs[0], ref_nary(ins, dt, f)), 0.0) << op << " " << dtype_name(dt);
    }
  }
  // Sum/Mean take floats only (ONNX signature).
  EXPECT_EQ(run_single_op("Sum", {make(DataType::kInt32, {1}, {1})}, {}).status.code(), StatusCode::kUnsupported);
}

TEST(ElementwiseVariadic, NaNPropagatesThroughMaxMin) {
  const double nan = std::nan("");
  const Tensor a = make(DataType::kFloat32, {3}, {nan, 1, 2});
  const Tensor b = make(DataType::kFloat32, {3}, {0, nan, 1});
  for (const char* op : {"Max", "Min"}) {
    auto r = run_single_op(op, {a, b}, {});
    ASSERT_TRUE(r.status.ok());
    EXPECT_TRUE(std::isnan(r.outputs[0].get_as_double(0))) << op;
    EXPECT_TRUE(std::isnan(r.outputs[0].get_as_double(1))) << op;
  }
}

TEST(ElementwiseVariadic, MixedDtypesAreAnError) {
  auto r = run_single_op("Max", {make(DataType::kFloat32, {1}, {1}), make(DataType::kFloat32, {1}, {1}),
                                 make(DataType::kFloat64, {1}, {1})}, {});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("input 2 has dtype float64"), std::string::npos) << r.status.message();
}

// ---- Where, Clip --------------------------------------------------------------------------------------

TEST(ElementwiseWhere, BroadcastsAllThreeInputsOnEveryDtype) {
  auto rng = make_rng();
  const std::vector<std::array<std::vector<int64_t>, 3>> shape_sets = {
      {{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}}, {{{3, 1}, {1, 4}, {}}}, {{{4}, {2, 3, 4}, {3, 1}}},
      {{{}, {5}, {5}}}, {{{2, 1, 3}, {2, 4, 1}, {1}}}};
  for (DataType dt : kAllDataTypes) {
    for (const auto& s : shape_sets) {
      const Tensor c = random_tensor(DataType::kBool, s[0], rng);
      const Tensor x = random_tensor(dt, s[1], rng, -50, 50);
      const Tensor y = random_tensor(dt, s[2], rng, -50, 50);
      auto r = run_single_op("Where", {c, x, y}, {});
      ASSERT_TRUE(r.status.ok()) << dtype_name(dt) << ": " << r.status.to_string();
      EXPECT_EQ(r.outputs[0].dtype(), dt);
      const Tensor want = ref_nary({c, x, y}, dt, [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; });
      EXPECT_EQ(max_abs_diff(r.outputs[0], want), 0.0) << dtype_name(dt);
    }
  }
  auto bad = run_single_op("Where", {make(DataType::kInt32, {1}, {1}), make(DataType::kFloat32, {1}, {1}),
                                     make(DataType::kFloat32, {1}, {2})}, {});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad.status.message().find("must be bool"), std::string::npos);
}

TEST(ElementwiseClip, BoundsOptionalAndTyped) {
  auto rng = make_rng();
  for (DataType dt : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kInt8, DataType::kInt32,
                      DataType::kInt64, DataType::kUInt8}) {
    const Tensor x = random_tensor(dt, {3, 7}, rng, dt == DataType::kUInt8 ? 0 : -20, 20);
    const Tensor lo = make(dt, {}, {dt == DataType::kUInt8 ? 3.0 : -5.0});
    const Tensor hi = make(dt, {1}, {7});
    const double l = lo.get_as_double(0), h = hi.get_as_double(0);
    auto both = run_single_op("Clip", {x, lo, hi}, {});
    ASSERT_TRUE(both.status.ok()) << dtype_name(dt) << ": " << both.status.to_string();
    EXPECT_EQ(max_abs_diff(both.outputs[0], ref_nary({x}, dt, [&](const std::vector<double>& v) {
                return std::min(std::max(v[0], l), h);
              })), 0.0) << dtype_name(dt);
    auto only_max = run_single_op("Clip", {x, Tensor(), hi}, {});
    ASSERT_TRUE(only_max.status.ok()) << only_max.status.to_string();
    EXPECT_EQ(max_abs_diff(only_max.outputs[0], ref_nary({x}, dt, [&](const std::vector<double>& v) {
                return std::min(v[0], h);
              })), 0.0);
    auto only_min = run_single_op("Clip", {x, lo}, {}, 1, {1});
    ASSERT_TRUE(only_min.status.ok());
    EXPECT_EQ(max_abs_diff(only_min.outputs[0], ref_nary({x}, dt, [&](const std::vector<double>& v) {
                return std::max(v[0], l);
              })), 0.0);
    auto none = run_single_op("Clip", {x}, {});
    ASSERT_TRUE(none.status.ok());
    EXPECT_EQ(max_abs_diff(none.outputs[0], x), 0.0);
    // min > max: everything becomes max.
    auto crossed = run_single_op("Clip", {x, make(dt, {}, {9}), make(dt, {}, {4})}, {});
    ASSERT_TRUE(crossed.status.ok());
    for (double v : values_of(crossed.outputs[0])) EXPECT_EQ(v, 4);
  }
  auto bad = run_single_op("Clip", {make(DataType::kFloat32, {2}, {1, 2}), make(DataType::kFloat32, {2}, {0, 0})}, {});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad.status.message().find("min must be a scalar"), std::string::npos) << bad.status.message();
}

// ---- Cast ---------------------------------------------------------------------------------------------

// The correctly rounded (nearest, ties to even) 16-bit value of `d`, found by search over the
// neighbours of a guess: independent of the kernel's round-to-odd method.
uint16_t nearest16(double d, float (*to_float)(uint16_t), uint16_t (*from_float)(float)) {
  const uint16_t guess = from_float(static_cast<float>(d));
  uint16_t best = guess;
  double best_err = std::numeric_limits<double>::infinity();
  for (int delta = -2; delta <= 2; ++delta) {
    const uint16_t h = static_cast<uint16_t>(guess + delta);
    if ((h & 0x8000) != (guess & 0x8000)) continue;
    double v = to_float(h);
    if (std::isnan(v)) continue;
    // Infinity stands where the next binade would start: values at or above the midpoint
    // between the largest finite value and it overflow.
    if (std::isinf(v)) v = std::copysign(2.0 * to_float(static_cast<uint16_t>(h - 1)) - to_float(static_cast<uint16_t>(h - 2)), v);
    const double err = std::fabs(v - d);
    if (err < best_err || (err == best_err && (h & 1) == 0)) {
      best = h;
      best_err = err;
    }
  }
  return best;
}

double expected_cast(double v, DataType to) {
  switch (to) {
    case DataType::kFloat32: return static_cast<float>(v);
    case DataType::kFloat64: return v;
    case DataType::kFloat16: return half_to_float(nearest16(v, half_to_float, float_to_half));
    case DataType::kBFloat16: return bfloat16_to_float(nearest16(v, bfloat16_to_float, float_to_bfloat16));
    case DataType::kBool: return v != 0 ? 1 : 0;
    case DataType::kInt8: return static_cast<int8_t>(static_cast<int64_t>(std::trunc(v)));
    case DataType::kUInt8: return static_cast<uint8_t>(static_cast<int64_t>(std::trunc(v)));
    case DataType::kInt32: return static_cast<int32_t>(static_cast<int64_t>(std::trunc(v)));
    case DataType::kInt64: return static_cast<double>(static_cast<int64_t>(std::trunc(v)));
    case DataType::kUndefined: break;
  }
  return 0;
}

TEST(ElementwiseCast, EveryPairOfDtypes) {
  const std::vector<double> base = {0, 1, 2, 7, 100, 127, 3, 5, 42, 1};
  const std::vector<double> signed_extra = {-1, -3, -100, -128};
  const std::vector<double> float_extra = {0.5, -0.5, 2.75, -2.75, 1e-3, 300.25, -1e4, 1.0009765625, 3.14159265358979, 65519.0};
  for (DataType from : kAllDataTypes) {
    std::vector<double> vals = base;
    if (from == DataType::kBool) vals = {0, 1, 1, 0};
    if (dtype_is_signed(from) || dtype_is_float(from)) vals.insert(vals.end(), signed_extra.begin(), signed_extra.end());
    const Tensor x0 = make(from, {static_cast<int64_t>(vals.size())}, vals);
    Tensor x = x0;
    if (dtype_is_float(from)) {
      std::vector<double> all = vals;
      all.insert(all.end(), float_extra.begin(), float_extra.end());
      x = make(from, {static_cast<int64_t>(all.size())}, all);
    }
    for (DataType to : kAllDataTypes) {
      auto r = run_single_op("Cast", {x}, {{"to", static_cast<int64_t>(to)}});
      ASSERT_TRUE(r.status.ok()) << dtype_name(from) << "->" << dtype_name(to) << ": " << r.status.to_string();
      ASSERT_EQ(r.outputs[0].dtype(), to);
      for (int64_t i = 0; i < x.numel(); ++i) {
        const double v = x.get_as_double(i);
        const double want = expected_cast(v, to);
        EXPECT_EQ(r.outputs[0].get_as_double(i), want) << dtype_name(from) << "->" << dtype_name(to) << " of " << v;
      }
      // CastLike takes the dtype of its second input.
      auto l = run_single_op("CastLike", {x, Tensor::allocate(to, {0}).value()}, {});
      ASSERT_TRUE(l.status.ok()) << l.status.to_string();
      ASSERT_EQ(l.outputs[0].dtype(), to);
      EXPECT_EQ(std::memcmp(l.outputs[0].raw(), r.outputs[0].raw(), r.outputs[0].bytes()), 0);
    }
  }
}

TEST(ElementwiseCast, RoundsOnceToHalfAndBFloat16) {
  // 1 + 2^-11 + 2^-40 lies just above the fp16 midpoint between 1 and 1 + 2^-10: a cast through
  // float32 would round twice and land on 1.
  const double d = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  const Tensor x = Tensor::from_vector<double>(DataType::kFloat64, {4}, {d, -d, 1e6, 1e-9});
  auto r = run_single_op("Cast", {x}, {{"to", static_cast<int64_t>(DataType::kFloat16)}});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].get_as_double(0), 1.0009765625);
  EXPECT_EQ(r.outputs[0].get_as_double(1), -1.0009765625);
  EXPECT_TRUE(std::isinf(r.outputs[0].get_as_double(2)));
  EXPECT_EQ(r.outputs[0].get_as_double(3), 0.0);
  // int64 2^24 + 2^16 + 1 is just above a bf16 midpoint; through float32 it would tie to even.
  const int64_t big = (int64_t{1} << 24) + (int64_t{1} << 16) + 1;
  const Tensor xi = Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {big, -big});
  auto b = run_single_op("Cast", {xi}, {{"to", static_cast<int64_t>(DataType::kBFloat16)}});
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(b.outputs[0].get_as_double(0), static_cast<double>((int64_t{1} << 24) + (int64_t{1} << 17)));
  EXPECT_EQ(b.outputs[0].get_as_double(1), -static_cast<double>((int64_t{1} << 24) + (int64_t{1} << 17)));
  // The ONNX cast tests' float32 -> fp16/bf16 use plain round to nearest even.
  auto rng = make_rng();
  const Tensor f = random_tensor(DataType::kFloat32, {1000}, rng, -70000, 70000);
  auto h = run_single_op("Cast", {f}, {{"to", static_cast<int64_t>(DataType::kFloat16)}});
  auto bf = run_single_op("Cast", {f}, {{"to", static_cast<int64_t>(DataType::kBFloat16)}});
  for (int64_t i = 0; i < f.numel(); ++i) {
    EXPECT_EQ(h.outputs[0].data<uint16_t>()[i], float_to_half(f.data<float>()[i]));
    EXPECT_EQ(bf.outputs[0].data<uint16_t>()[i], float_to_bfloat16(f.data<float>()[i]));
  }
}

TEST(ElementwiseCast, FloatToIntTruncatesAndNeverInvokesUB) {
  const float nan = std::nanf(""), inf = std::numeric_limits<float>::infinity();
  const Tensor x = Tensor::from_vector<float>(DataType::kFloat32, {7}, {-2.7f, 2.7f, -0.5f, 200.0f, 1e10f, nan, inf});
  auto i8 = run_single_op("Cast", {x}, {{"to", static_cast<int64_t>(DataType::kInt8)}});
  ASSERT_TRUE(i8.status.ok());
  EXPECT_EQ(values_of(i8.outputs[0]), (std::vector<double>{-2, 2, 0, -56, 0, 0, -1}));
  auto i64 = run_single_op("Cast", {x}, {{"to", static_cast<int64_t>(DataType::kInt64)}});
  EXPECT_EQ(i64.outputs[0].data<int64_t>()[4], 10000000000);
  EXPECT_EQ(i64.outputs[0].data<int64_t>()[5], 0);
  EXPECT_EQ(i64.outputs[0].data<int64_t>()[6], std::numeric_limits<int64_t>::max());
  auto b = run_single_op("Cast", {x}, {{"to", static_cast<int64_t>(DataType::kBool)}});
  EXPECT_EQ(values_of(b.outputs[0]), (std::vector<double>{1, 1, 1, 1, 1, 1, 1}));
  // int64 -> int32 wraps, like numpy's astype.
  const Tensor big = Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {(int64_t{1} << 32) + 5, -1});
  auto i32 = run_single_op("Cast", {big}, {{"to", static_cast<int64_t>(DataType::kInt32)}});
  EXPECT_EQ(values_of(i32.outputs[0]), (std::vector<double>{5, -1}));
}

TEST(ElementwiseCast, BadTargetAndIdentity) {
  const Tensor x = make(DataType::kFloat32, {2}, {1, 2});
  auto r = run_single_op("Cast", {x}, {{"to", int64_t{42}}});
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status.message().find("to=42"), std::string::npos) << r.status.message();
  EXPECT_EQ(run_single_op("Cast", {x}, {}).status.code(), StatusCode::kShapeError);
  auto rng = make_rng();
  for (DataType dt : kAllDataTypes) {
    const Tensor t = random_tensor(dt, {2, 3, 5}, rng, -9, 9);
    auto id = run_single_op("Identity", {t}, {});
    ASSERT_TRUE(id.status.ok());
    ASSERT_EQ(id.outputs[0].dtype(), dt);
    ASSERT_EQ(id.outputs[0].shape(), t.shape());
    EXPECT_EQ(std::memcmp(id.outputs[0].raw(), t.raw(), t.bytes()), 0) << dtype_name(dt);
  }
}

// ---- shape inference ------------------------------------------------------------------------------

TEST(ElementwiseShapes, SymbolicBroadcastAndDtypes) {
  Graph g;
  const Dim batch = Dim::symbol("batch"), seq = Dim::symbol("seq");
  Value* x = g.add_input("x", DataType::kFloat16, Shape{batch, 1, 768});
  Value* y = g.add_input("y", DataType::kFloat16, Shape{seq, 1});
  Value* m = g.add_input("m", DataType::kBool, Shape{batch, 1, 1});
  Value* u = g.add_input("u", DataType::kFloat32, std::nullopt);
  Node* add = g.add_node("Add", "add", {x, y}, 1);
  Node* less = g.add_node("Less", "less", {add->output(0), x}, 1);
  Node* where = g.add_node("Where", "where", {m, add->output(0), x}, 1);
  Node* cast = g.add_node("Cast", "cast", {where->output(0)}, 1);
  cast->set_attr("to", static_cast<int64_t>(DataType::kInt32));
  Node* unk = g.add_node("Relu", "unk", {u}, 1);
  ASSERT_TRUE(infer_shapes(g).ok());
  EXPECT_EQ(add->output(0)->shape(), (Shape{batch, seq, 768}));
  EXPECT_EQ(add->output(0)->dtype(), DataType::kFloat16);
  EXPECT_EQ(less->output(0)->dtype(), DataType::kBool);
  EXPECT_EQ(less->output(0)->shape(), (Shape{batch, seq, 768}));
  EXPECT_EQ(where->output(0)->shape(), (Shape{batch, seq, 768}));
  EXPECT_EQ(cast->output(0)->dtype(), DataType::kInt32);
  EXPECT_EQ(unk->output(0)->dtype(), DataType::kFloat32);
  EXPECT_FALSE(unk->output(0)->has_shape());
}

// Builds `op(inputs)` where each input is an int64 graph input of rank <= 1 with a known value.
struct ValueGraph {
  Graph g;
  Value* inset_from_double(const std::vector<Dim>& v, bool scalar = false) {
    Value* in = g.add_input("v" + std::to_string(g.inputs().size()), DataType::kInt64,
                            scalar ? Shape{} : Shape{static_cast<int64_t>(v.size())});
    in->set_known_value(v);
    return in;
  }
  const std::vector<Dim>* run(const std::string& op, const std::vector<Value*>& ins,
                              const std::vector<std::pair<std::string, Attribute>>& attrs = {}) {
    Node* n = g.add_node(op, op + std::to_string(g.num_nodes()), ins, 1);
    for (const auto& [k, a] : attrs) n->set_attr(k, a);
    Status s = infer_shapes(g);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return n->output(0)->known_value();
  }
};

TEST(ElementwiseShapes, ValuePropagationForShapeSubgraphs) {
  const Dim batch = Dim::symbol("batch"), seq = Dim::symbol("seq");
  {
    // BERT: Reshape target [batch, seq, 12, Div(768, 12)] and batch*seq surviving Mul.
    ValueGraph vg;
    const auto* q = vg.run("Div", {vg.inset_from_double({768}), vg.inset_from_double({12}, true)});
    ASSERT_TRUE(q);
    EXPECT_EQ(*q, (std::vector<Dim>{64}));
    const auto* p = vg.run("Mul", {vg.inset_from_double({batch}), vg.inset_from_double({seq})});
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, (std::vector<Dim>{batch * seq}));
    const auto* d = vg.run("Div", {vg.inset_from_double({batch * seq, Dim(7), Dim(-7)}), vg.inset_from_double({seq, Dim(2), Dim(2)})});
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, (std::vector<Dim>{batch, 3, -3}));
    EXPECT_EQ(vg.run("Div", {vg.inset_from_double({batch}), vg.inset_from_double({2})}), nullptr);  // not exact
    EXPECT_EQ(vg.run("Div", {vg.inset_from_double({5}), vg.inset_from_double({0})}), nullptr);
  }
  {
    ValueGraph vg;
    const auto* s = vg.run("Mul", {vg.inset_from_double({2}, true), vg.inset_from_double({batch, seq, 3})});
    ASSERT_TRUE(s);
    EXPECT_EQ(*s, (std::vector<Dim>{batch * Dim(2), seq * Dim(2), 6}));
    const auto* a = vg.run("Add", {vg.inset_from_double({seq}), vg.inset_from_double({seq})});
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, (std::vector<Dim>{seq * Dim(2)}));
    const auto* sub = vg.run("Sub", {vg.inset_from_double({seq, 10}), vg.inset_from_double({1})});
    ASSERT_TRUE(sub);
    EXPECT_EQ((*sub)[1], Dim(9));
    EXPECT_EQ((*sub)[0], seq - Dim(1));
    const auto* neg = vg.run("Neg", {vg.inset_from_double({batch, -4})});
    ASSERT_TRUE(neg);
    EXPECT_EQ(*neg, (std::vector<Dim>{batch * Dim(-1), 4}));
    const auto* abs = vg.run("Abs", {vg.inset_from_double({batch * Dim(-1), -4, 5})});
    ASSERT_TRUE(abs);
    EXPECT_EQ(*abs, (std::vector<Dim>{batch, 4, 5}));
  }
  {
    ValueGraph vg;
    const auto* mx = vg.run("Max", {vg.inset_from_double({3, 9, batch}), vg.inset_from_double({5, 2, batch}), vg.inset_from_double({4}, true)});
    EXPECT_EQ(mx, nullptr);  // Max(batch, 4) is not decidable
    const auto* mx2 = vg.run("Max", {vg.inset_from_double({3, 9}), vg.inset_from_double({5, 2})});
    ASSERT_TRUE(mx2);
    EXPECT_EQ(*mx2, (std::vector<Dim>{5, 9}));
    const auto* mn = vg.run("Min", {vg.inset_from_double({3, batch}), vg.inset_from_double({5, batch})});
    ASSERT_TRUE(mn);
    EXPECT_EQ(*mn, (std::vector<Dim>{3, batch}));
    const auto* eq = vg.run("Equal", {vg.inset_from_double({batch, 3, 4}), vg.inset_from_double({batch, 3, 5})});
    ASSERT_TRUE(eq);
    EXPECT_EQ(*eq, (std::vector<Dim>{1, 1, 0}));
    EXPECT_EQ(vg.run("Equal", {vg.inset_from_double({batch}), vg.inset_from_double({seq})}), nullptr);
  }
  {
    // Where(Equal(shape, -1), ones, shape): the Expand-shape pattern of exporters.
    ValueGraph vg;
    Value* cond = vg.g.add_initializer("c", Tensor::from_vector<uint8_t>(DataType::kBool, {3}, {1, 0, 1}));
    const auto* w = vg.run("Where", {cond, vg.inset_from_double({batch, seq, 768}), vg.inset_from_double({1}, true)});
    ASSERT_TRUE(w);
    EXPECT_EQ(*w, (std::vector<Dim>{batch, 1, 768}));
    const auto* c = vg.run("Cast", {vg.inset_from_double({batch, 300})}, {{"to", static_cast<int64_t>(DataType::kInt32)}});
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, (std::vector<Dim>{batch, 300}));
    const auto* c8 = vg.run("Cast", {vg.inset_from_double({300})}, {{"to", static_cast<int64_t>(DataType::kUInt8)}});
    ASSERT_TRUE(c8);
    EXPECT_EQ(*c8, (std::vector<Dim>{44}));
    // int -> float keeps exact integer values (torch.arange(seq) exports through a float Cast),
    // but not one float32 cannot hold exactly.
    const auto* cf = vg.run("Cast", {vg.inset_from_double({batch, 7})}, {{"to", static_cast<int64_t>(DataType::kFloat32)}});
    ASSERT_TRUE(cf);
    EXPECT_EQ(*cf, (std::vector<Dim>{batch, 7}));
    EXPECT_EQ(vg.run("Cast", {vg.inset_from_double({(int64_t{1} << 24) + 1})}, {{"to", static_cast<int64_t>(DataType::kFloat32)}}),
              nullptr);
    const auto* id = vg.run("Identity", {vg.inset_from_double({seq, 2})});
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, (std::vector<Dim>{seq, 2}));
  }
}

TEST(ElementwiseShapes, ConstantValuesPropagateWithoutAnEvaluator) {
  Graph g;
  Value* a = g.add_initializer("a", Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {6, 8}));
  Value* b = g.add_initializer("b", Tensor::from_vector<int64_t>(DataType::kInt64, {}, {2}));
  Node* n = g.add_node("Div", "div", {a, b}, 1);
  ASSERT_TRUE(infer_shapes(g).ok());
  ASSERT_TRUE(n->output(0)->known_value());
  EXPECT_EQ(*n->output(0)->known_value(), (std::vector<Dim>{3, 4}));
  EXPECT_EQ(n->output(0)->shape(), (Shape{2}));
}

}  // namespace
}  // namespace slimrt
