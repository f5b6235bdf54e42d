// Engine::io_tensors() and the profile checks (include/slimrt/io_tensor.h), on engines written
// from small graphs and loaded on the CPU: static and dynamic dims, several profiles, host
// inputs, several outputs, an output whose shape depends on data.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cpu/engine_test_util.h"
#include "slimrt/io_tensor.h"
#include "slimrt/runtime.h"

namespace slimrt {
namespace {

using Dims = std::vector<int64_t>;
using Names = std::vector<std::string>;

// `g` after shape inference, written with `profiles` and loaded on the CPU backend.
std::shared_ptr<Engine> load_engine(Graph& g, const std::vector<OptimizationProfile>& profiles) {
  Status inferred = infer_shapes(g);
  EXPECT_TRUE(inferred.ok()) << inferred.to_string();
  EngineOptions o;
  o.profiles = profiles;
  const std::vector<uint8_t> bytes = engine_test::write_to_bytes(g, o);
  engine_test::ByteReader reader(bytes);
  Result<std::unique_ptr<Runtime>> rt = Runtime::create({.backend = "cpu"});
  EXPECT_TRUE(rt.ok()) << rt.status().to_string();
  Result<std::shared_ptr<Engine>> e = (*rt)->load(reader);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? *e : nullptr;
}

void expect_range(const IoProfileDims& p, const Dims& min, const Dims& opt, const Dims& max) {
  EXPECT_EQ(p.min, min);
  EXPECT_EQ(p.opt, opt);
  EXPECT_EQ(p.max, max);
}
// expect_range with the profile's expression and the caller's line in a failure.
#define EXPECT_RANGE(profile, ...)      \
  do {                                  \
    SCOPED_TRACE(#profile);             \
    expect_range(profile, __VA_ARGS__); \
  } while (0)

// The message of a failed status, or "OK".
std::string message(const Status& s) { return s.ok() ? "OK" : s.message(); }

// x f32[2,3] -> Relu -> y.
Graph static_graph() {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{2, 3});
  g.add_output(g.add_node("Relu", "relu", {x}, 1, {"y"})->output(0));
  return g;
}

TEST(IoTensors, StaticDims) {
  Graph g = static_graph();
  std::shared_ptr<Engine> e = load_engine(g, {OptimizationProfile{{InputProfile{"x", {2, 3}, {2, 3}, {2, 3}}}}});
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->io_tensors().size(), 2u);
  EXPECT_EQ(e->num_profiles(), 1u);

  const IoTensor& x = e->io_tensors()[0];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.direction, IoDirection::kInput);
  EXPECT_TRUE(x.is_input());
  EXPECT_FALSE(x.is_output());
  EXPECT_EQ(x.index, 0);
  EXPECT_EQ(x.dtype, DataType::kFloat32);
  EXPECT_TRUE(x.has_shape);
  EXPECT_EQ(x.rank(), 2);
  EXPECT_EQ(x.dims, (Dims{2, 3}));
  EXPECT_EQ(x.dim_names, (Names{"", ""}));
  EXPECT_FALSE(x.is_dynamic());
  EXPECT_FALSE(x.is_host_input);
  EXPECT_FALSE(x.data_dependent_shape);
  ASSERT_EQ(x.profiles.size(), 1u);
  EXPECT_RANGE(x.profiles[0], {2, 3}, {2, 3}, {2, 3});

  const IoTensor& y = e->io_tensors()[1];
  EXPECT_EQ(y.name, "y");
  EXPECT_EQ(y.direction, IoDirection::kOutput);
  EXPECT_TRUE(y.is_output());
  EXPECT_EQ(y.index, 0);
  EXPECT_EQ(y.dtype, DataType::kFloat32);
  EXPECT_EQ(y.dims, (Dims{2, 3}));
  EXPECT_EQ(y.dim_names, (Names{"", ""}));
  EXPECT_FALSE(y.is_host_input);
  EXPECT_FALSE(y.data_dependent_shape);
  ASSERT_EQ(y.profiles.size(), 1u);
  EXPECT_RANGE(y.profiles[0], {2, 3}, {2, 3}, {2, 3});

  EXPECT_EQ(e->io_tensor("y"), &e->io_tensors()[1]);
  EXPECT_EQ(e->io_tensor("nosuch"), nullptr);
  EXPECT_EQ(io_direction_name(x.direction), "input");
  EXPECT_EQ(io_direction_name(y.direction), "output");

  // Sizes for concrete dims: checked against the rank and the static dims.
  EXPECT_EQ(x.element_count({2, 3}).value(), 6);
  EXPECT_EQ(x.byte_size({2, 3}).value(), 24u);
  EXPECT_EQ(message(x.byte_size({2, 4}).status()), "input 'x' [2,4]: dim 1 = 4, but that dim is fixed at 3");
  EXPECT_EQ(message(y.element_count({6}).status()), "output 'y' [6]: 1 dims given; it has rank 2");

  EXPECT_EQ(e->select_profile({{"x", {2, 3}}}).value(), 0u);
  EXPECT_EQ(message(e->check_input_shapes(0, {{"x", {3, 3}}})), "input 'x' [3,3]: dim 0 = 3, but that dim is fixed at 2");
}

TEST(IoTensors, EngineWithoutProfilesChecksStaticDims) {
  Graph g = static_graph();
  std::shared_ptr<Engine> e = load_engine(g, {});
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->num_profiles(), 0u);
  EXPECT_TRUE(e->io_tensors()[0].profiles.empty());
  EXPECT_TRUE(e->io_tensors()[1].profiles.empty());
  EXPECT_EQ(e->select_profile({{"x", {2, 3}}}).value(), 0u);
  EXPECT_EQ(message(e->select_profile({{"x", {2, 4}}}).status()),
            "input 'x' [2,4]: dim 1 = 4, but that dim is fixed at 3");
  EXPECT_EQ(message(e->check_input_shapes(1, {{"x", {2, 3}}})),
            "profile 1 does not exist: the engine has no optimization profiles");
}

// x f32[batch,seq,8] -> Relu -> y [batch,seq,8]; Concat(x, x, axis 1) -> z [batch,2*seq,8].
Graph dynamic_graph() {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), 8});
  g.add_output(g.add_node("Relu", "relu", {x}, 1, {"y"})->output(0));
  Node* cat = g.add_node("Concat", "cat", {x, x}, 1, {"z"});
  cat->set_attr("axis", int64_t{1});
  g.add_output(cat->output(0));
  return g;
}

std::vector<OptimizationProfile> two_profiles() {
  return {OptimizationProfile{{InputProfile{"x", {1, 1, 8}, {2, 16, 8}, {4, 32, 8}}}},
          OptimizationProfile{{InputProfile{"x", {8, 1, 8}, {8, 64, 8}, {8, 128, 8}}}}};
}

TEST(IoTensors, DynamicDimsSeveralProfilesSeveralOutputs) {
  Graph g = dynamic_graph();
  std::shared_ptr<Engine> e = load_engine(g, two_profiles());
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->io_tensors().size(), 3u);
  EXPECT_EQ(e->num_profiles(), 2u);

  const IoTensor& x = e->io_tensors()[0];
  EXPECT_EQ(x.name, "x");
  EXPECT_TRUE(x.is_input());
  EXPECT_EQ(x.dims, (Dims{-1, -1, 8}));
  EXPECT_EQ(x.dim_names, (Names{"batch", "seq", ""}));
  EXPECT_TRUE(x.is_dynamic());
  EXPECT_FALSE(x.is_host_input);
  ASSERT_EQ(x.profiles.size(), 2u);
  EXPECT_RANGE(x.profiles[0], {1, 1, 8}, {2, 16, 8}, {4, 32, 8});
  EXPECT_RANGE(x.profiles[1], {8, 1, 8}, {8, 64, 8}, {8, 128, 8});

  // Outputs, in graph order, at the inputs' min/opt/max shapes of each profile.
  const IoTensor& y = e->io_tensors()[1];
  EXPECT_EQ(y.name, "y");
  EXPECT_TRUE(y.is_output());
  EXPECT_EQ(y.index, 0);
  EXPECT_EQ(y.dims, (Dims{-1, -1, 8}));
  EXPECT_EQ(y.dim_names, (Names{"batch", "seq", ""}));
  EXPECT_FALSE(y.data_dependent_shape);
  ASSERT_EQ(y.profiles.size(), 2u);
  EXPECT_RANGE(y.profiles[0], {1, 1, 8}, {2, 16, 8}, {4, 32, 8});
  EXPECT_RANGE(y.profiles[1], {8, 1, 8}, {8, 64, 8}, {8, 128, 8});

  const IoTensor& z = e->io_tensors()[2];
  EXPECT_EQ(z.name, "z");
  EXPECT_TRUE(z.is_output());
  EXPECT_EQ(z.index, 1);
  EXPECT_EQ(z.dtype, DataType::kFloat32);
  EXPECT_EQ(z.dims, (Dims{-1, -1, 8}));
  EXPECT_EQ(z.dim_names, (Names{"batch", "2*seq", ""}));
  EXPECT_FALSE(z.data_dependent_shape);
  ASSERT_EQ(z.profiles.size(), 2u);
  EXPECT_RANGE(z.profiles[0], {1, 2, 8}, {2, 32, 8}, {4, 64, 8});
  EXPECT_RANGE(z.profiles[1], {8, 2, 8}, {8, 128, 8}, {8, 256, 8});
  EXPECT_EQ(z.byte_size({3, 10, 8}).value(), 3u * 10 * 8 * 4);
  EXPECT_EQ(message(z.element_count({-1, 10, 8}).status()), "output 'z' [-1,10,8]: dim 0 = -1 is negative");
  EXPECT_EQ(message(z.element_count({int64_t{1} << 40, int64_t{1} << 40, 8}).status()),
            "output 'z' [1099511627776,1099511627776,8]: more than 2^63-1 elements");
}

TEST(IoTensors, ProfileChecksNameTheTensorDimValueAndRange) {
  Graph g = dynamic_graph();
  std::shared_ptr<Engine> e = load_engine(g, two_profiles());
  ASSERT_NE(e, nullptr);

  // The first profile that holds the shapes; the bounds are inclusive.
  EXPECT_EQ(e->select_profile({{"x", {2, 16, 8}}}).value(), 0u);
  EXPECT_EQ(e->select_profile({{"x", {4, 32, 8}}}).value(), 0u);
  EXPECT_EQ(e->select_profile({{"x", {8, 1, 8}}}).value(), 1u);
  EXPECT_EQ(e->select_profile({{"x", {8, 100, 8}}}).value(), 1u);
  EXPECT_EQ(e->select_profile({}).value(), 0u);
  EXPECT_TRUE(e->check_input_shapes(1, {{"x", {8, 128, 8}}}).ok());

  Status s = e->select_profile({{"x", {5, 1, 8}}}).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(message(s), "input 'x' [5,1,8] is outside every optimization profile of the engine "
                        "(profile 0: x: [1x1x8 .. 4x32x8]; profile 1: x: [8x1x8 .. 8x128x8])");

  EXPECT_EQ(message(e->check_input_shapes(0, {{"x", {5, 1, 8}}})),
            "input 'x' [5,1,8]: dim 0 = 5 is outside profile 0's range [1, 4]");
  EXPECT_EQ(message(e->check_input_shapes(1, {{"x", {8, 129, 8}}})),
            "input 'x' [8,129,8]: dim 1 = 129 is outside profile 1's range [1, 128]");
  EXPECT_EQ(message(e->check_input_shapes(1, {{"x", {7, 2, 8}}})),
            "input 'x' [7,2,8]: dim 0 = 7 is outside profile 1's range [8, 8]");
  EXPECT_EQ(message(e->check_input_shapes(0, {{"x", {2, 16, 9}}})),
            "input 'x' [2,16,9]: dim 2 = 9, but that dim is fixed at 8");
  EXPECT_EQ(message(e->check_input_shapes(0, {{"x", {2, 16}}})), "input 'x' [2,16]: 2 dims given; it has rank 3");
  EXPECT_EQ(message(e->check_input_shapes(0, {{"x", {-2, 16, 8}}})), "input 'x' [-2,16,8]: dim 0 = -2 is negative");
  EXPECT_EQ(message(e->check_input_shapes(0, {{"nosuch", {1}}})), "'nosuch' is not an input of the engine (inputs: x)");
  EXPECT_EQ(message(e->check_input_shapes(0, {{"y", {1, 1, 8}}})), "'y' is an output of the engine, not an input");
  EXPECT_EQ(message(e->check_input_shapes(2, {{"x", {2, 16, 8}}})), "profile 2 does not exist: the engine has 2");
  // A name that is not an input is reported as such, not as a shape outside the profiles.
  EXPECT_EQ(message(e->select_profile({{"z", {1, 2, 8}}}).status()), "'z' is an output of the engine, not an input");
  // A rank that matches no profile is outside every one.
  EXPECT_NE(message(e->select_profile({{"x", {2, 16}}}).status()).find("outside every optimization profile"),
            std::string::npos);
}

// Inputs whose values the runtime reads on the host, and outputs sized by them:
//   x f32[batch,6]; shape i64[n] -> Add(shape, 0) -> Reshape(x, .) -> r (rank unknown)
//   lo f32[] -> Clip(x, lo) -> c [batch,6]
//   ref f32[batch,6] -> Shape -> Reshape(x, .) -> s [batch,6]   (ref: dims only, not a host input)
//   mask bool[batch,6] -> NonZero -> nz [2,?]                    (mask: data on the device)
Graph host_input_graph() {
  Graph g;
  const Shape rows{Dim::symbol("batch"), 6};
  Value* x = g.add_input("x", DataType::kFloat32, rows);
  Value* shape = g.add_input("shape", DataType::kInt64, Shape{Dim::symbol("n")});
  Value* lo = g.add_input("lo", DataType::kFloat32, Shape{});
  Value* ref = g.add_input("ref", DataType::kFloat32, rows);
  Value* mask = g.add_input("mask", DataType::kBool, rows);
  Value* zero = g.add_initializer("zero", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {0}));
  Node* add = g.add_node("Add", "add", {shape, zero}, 1, {"shape_plus_0"});
  g.add_output(g.add_node("Reshape", "reshape", {x, add->output(0)}, 1, {"r"})->output(0));
  g.add_output(g.add_node("Clip", "clip", {x, lo}, 1, {"c"})->output(0));
  Node* ref_shape = g.add_node("Shape", "ref_shape", {ref}, 1, {"ref_shape"});
  g.add_output(g.add_node("Reshape", "reshape_ref", {x, ref_shape->output(0)}, 1, {"s"})->output(0));
  g.add_output(g.add_node("NonZero", "nonzero", {mask}, 1, {"nz"})->output(0));
  return g;
}

OptimizationProfile host_profile(int64_t max_n) {
  OptimizationProfile p;
  for (const char* name : {"x", "ref", "mask"}) p.inputs.push_back({name, {1, 6}, {2, 6}, {4, 6}});
  p.inputs.push_back({"shape", {1}, {2}, {max_n}});
  p.inputs.push_back({"lo", {}, {}, {}});
  return p;
}

TEST(IoTensors, HostInputsAndDataDependentOutputs) {
  Graph g = host_input_graph();
  std::shared_ptr<Engine> e = load_engine(g, {host_profile(4), host_profile(kMaxHostInputElements)});
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->io_tensors().size(), 9u);
  Names order;
  for (const IoTensor& t : e->io_tensors()) order.push_back(t.name);
  EXPECT_EQ(order, (Names{"x", "shape", "lo", "ref", "mask", "r", "c", "s", "nz"}));

  const IoTensor& shape = *e->io_tensor("shape");
  EXPECT_EQ(shape.index, 1);
  EXPECT_EQ(shape.dtype, DataType::kInt64);
  EXPECT_EQ(shape.dims, (Dims{-1}));
  EXPECT_EQ(shape.dim_names, (Names{"n"}));
  EXPECT_TRUE(shape.is_host_input);  // through the Add: its values reach Reshape's shape
  EXPECT_RANGE(shape.profiles[1], {1}, {2}, {kMaxHostInputElements});

  const IoTensor& lo = *e->io_tensor("lo");
  EXPECT_EQ(lo.index, 2);
  EXPECT_TRUE(lo.has_shape);
  EXPECT_EQ(lo.rank(), 0);
  EXPECT_FALSE(lo.is_dynamic());
  EXPECT_TRUE(lo.is_host_input);  // Clip's bound
  EXPECT_RANGE(lo.profiles[0], {}, {}, {});
  EXPECT_EQ(lo.byte_size({}).value(), 4u);

  EXPECT_FALSE(e->io_tensor("x")->is_host_input);
  EXPECT_FALSE(e->io_tensor("ref")->is_host_input);   // only its dims are read (Shape)
  EXPECT_FALSE(e->io_tensor("mask")->is_host_input);  // NonZero reads it on the device

  // Reshape to a shape only known at run time: not even the rank is known.
  const IoTensor& r = *e->io_tensor("r");
  EXPECT_EQ(r.index, 0);
  EXPECT_FALSE(r.has_shape);
  EXPECT_EQ(r.rank(), -1);
  EXPECT_TRUE(r.is_dynamic());
  EXPECT_TRUE(r.dims.empty());
  EXPECT_TRUE(r.dim_names.empty());
  ASSERT_EQ(r.profiles.size(), 2u);
  EXPECT_RANGE(r.profiles[0], {}, {}, {});
  EXPECT_EQ(r.element_count({2, 3, 2}).value(), 12);  // any rank

  const IoTensor& c = *e->io_tensor("c");
  EXPECT_EQ(c.dims, (Dims{-1, 6}));
  EXPECT_RANGE(c.profiles[1], {1, 6}, {2, 6}, {4, 6});
  EXPECT_FALSE(c.data_dependent_shape);

  const IoTensor& s = *e->io_tensor("s");
  EXPECT_EQ(s.dims, (Dims{-1, 6}));
  EXPECT_EQ(s.dim_names, (Names{"batch", ""}));
  EXPECT_FALSE(s.data_dependent_shape);

  // NonZero: [rank, count], the count known only after the run.
  const IoTensor& nz = *e->io_tensor("nz");
  EXPECT_EQ(nz.index, 3);
  EXPECT_EQ(nz.dtype, DataType::kInt64);
  ASSERT_EQ(nz.dims.size(), 2u);
  EXPECT_EQ(nz.dims[0], 2);
  EXPECT_EQ(nz.dims[1], kDynamicDim);
  EXPECT_FALSE(nz.dim_names[1].empty());
  EXPECT_TRUE(nz.data_dependent_shape);
  EXPECT_RANGE(nz.profiles[0], {2, -1}, {2, -1}, {2, -1});
}

TEST(IoTensors, HostInputsHoldAtMostTheLimitAtEveryProfilesMax) {
  Graph g = host_input_graph();
  std::shared_ptr<Engine> e = load_engine(g, {host_profile(4), host_profile(kMaxHostInputElements + 1)});
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->io_tensor("shape")->is_host_input);  // 65 elements at profile 1's max
  EXPECT_TRUE(e->io_tensor("lo")->is_host_input);
}

TEST(IoTensors, DescribeAGraphWithoutProfiles) {
  Graph g = host_input_graph();
  ASSERT_TRUE(infer_shapes(g).ok());
  const std::vector<IoTensor> io = describe_io(g, {});
  ASSERT_EQ(io.size(), 9u);
  for (const IoTensor& t : io) EXPECT_TRUE(t.profiles.empty()) << t.name;
  EXPECT_TRUE(io[2].is_host_input);   // lo: static, one element
  EXPECT_FALSE(io[1].is_host_input);  // shape: its length is unbounded without a profile
  EXPECT_EQ(io[8].name, "nz");
  EXPECT_TRUE(io[8].data_dependent_shape);
  EXPECT_EQ(message(check_input_shapes(io, 0, 0, {{"x", {100, 6}}})), "OK");
  EXPECT_EQ(message(check_input_shapes(io, 0, 0, {{"x", {100, 7}}})),
            "input 'x' [100,7]: dim 1 = 7, but that dim is fixed at 6");
}

}  // namespace
}  // namespace slimrt
