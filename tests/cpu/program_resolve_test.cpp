// Program::resolve's steps (src/cuda/program_resolve.h) one at a time, without a GPU: shapes (1),
// host values (2) and launches (4) run on the host; device nodes get stub kernels in place of step
// 3's factories (tests/gpu/* cover the kernels end to end).
#ifdef SLIMRT_HAVE_CUDA

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cuda/program.h"
#include "cuda/program_resolve.h"
#include "slimrt/graph.h"
#include "slimrt/tensor.h"

namespace slimrt::cuda {
namespace {

using ::testing::HasSubstr;

Tensor i64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<int64_t>(DataType::kInt64, {n}, v);
}

std::vector<int64_t> values_of(const Tensor* t) {
  std::vector<int64_t> v;
  if (!t) return v;
  for (int64_t i = 0; i < t->numel(); ++i) v.push_back(static_cast<int64_t>(t->get_as_double(i)));
  return v;
}

// Stands in for a device kernel: never enqueued here.
class StubKernel : public Kernel {
 public:
  explicit StubKernel(uint64_t workspace = 0) : workspace_(workspace) {}
  uint64_t workspace_bytes() const override { return workspace_; }
  Status enqueue(const LaunchArgs&) const override { return Status::OK(); }

 private:
  uint64_t workspace_;
};

std::unique_ptr<Program> make_program(const Graph& g, ProgramOptions options = {}) {
  auto p = Program::create(g, {}, {}, 0, options);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? std::move(*p) : nullptr;
}

// Runs steps 1-3 of every node, a stub kernel for each node that launches one.
Status resolve_nodes(Resolver& r, const Graph& g) {
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    SLIMRT_RETURN_IF_ERROR(r.shapes(i));
    SLIMRT_RETURN_IF_ERROR(r.host_values(i));
    if (r.launches_kernel(i)) SLIMRT_RETURN_IF_ERROR(r.kernel(i, std::make_unique<StubKernel>()));
  }
  return Status::OK();
}

// x[batch, 4] -> Shape -> Gather([0]) -> Concat(with [2, 2]) -> Reshape(x, .): [batch, 2, 2].
TEST(ProgramResolve, ShapeSubgraphIsKnownOnTheHostAndLaunchesNothing) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(4)});
  Value* s = g.add_node("Shape", "shape", {x}, 1, {"s"})->output(0);
  Node* gather = g.add_node("Gather", "gather", {s, g.add_initializer("zero", i64({0}))}, 1, {"b"});
  gather->set_attr("axis", int64_t{0});
  Node* concat = g.add_node("Concat", "concat", {gather->output(0), g.add_initializer("tail", i64({2, 2}))}, 1, {"t"});
  concat->set_attr("axis", int64_t{0});
  Value* y = g.add_node("Reshape", "reshape", {x, concat->output(0)}, 1, {"y"})->output(0);
  g.add_output(y);
  ASSERT_TRUE(infer_shapes(g).ok());
  auto p = make_program(g);
  ASSERT_TRUE(p);

  Resolver r(*p);
  ASSERT_TRUE(r.seed({{3, 4}}, nullptr).ok());
  EXPECT_EQ(r.dims(x), (std::vector<int64_t>{3, 4}));
  // Step 1 then step 2, node by node: Gather's shape needs Shape's host value.
  ASSERT_TRUE(r.shapes(0).ok());
  EXPECT_EQ(r.dims(s), (std::vector<int64_t>{2}));
  EXPECT_EQ(r.host_value(s), nullptr);  // step 2's
  ASSERT_TRUE(r.host_values(0).ok());
  EXPECT_EQ(values_of(r.host_value(s)), (std::vector<int64_t>{3, 4}));
  EXPECT_FALSE(r.launches_kernel(0));
  for (size_t i : {1, 2}) {
    ASSERT_TRUE(r.shapes(i).ok());
    ASSERT_TRUE(r.host_values(i).ok());
    EXPECT_FALSE(r.launches_kernel(i)) << i;
  }
  EXPECT_EQ(values_of(r.host_value(gather->output(0))), (std::vector<int64_t>{3}));
  EXPECT_EQ(values_of(r.host_value(concat->output(0))), (std::vector<int64_t>{3, 2, 2}));

  ASSERT_TRUE(r.shapes(3).ok());
  EXPECT_EQ(r.dims(y), (std::vector<int64_t>{3, 2, 2}));
  ASSERT_TRUE(r.host_values(3).ok());
  EXPECT_EQ(r.host_value(y), nullptr);
  EXPECT_TRUE(r.launches_kernel(3));
  ASSERT_TRUE(r.kernel(3, std::make_unique<StubKernel>()).ok());
  EXPECT_TRUE(r.read_on_device(x));
  EXPECT_FALSE(r.read_on_device(concat->output(0)));  // Reshape's target is read on the host

  ASSERT_TRUE(r.launches().ok());
  ASSERT_EQ(r.binding().num_launches(), 1u);  // the shape nodes launch nothing
  EXPECT_EQ(r.binding().launch_node(0)->name(), "reshape");
  EXPECT_EQ(r.input_slots(), 2u);
  EXPECT_EQ(r.output_slots(), 1u);
  EXPECT_EQ(r.num_copies(), 0u);
  std::unique_ptr<Binding> b = r.take();
  EXPECT_EQ(b->output_dims(0), (std::vector<int64_t>{3, 2, 2}));
}

// x[n], t[2] (int64) -> Add(t, [0, 0]) -> Reshape(x, .): t's value, given on the host, is the target.
struct HostInputGraph {
  Graph g;
  Value* x;
  Value* t;
  Value* target;
  Value* y;
  HostInputGraph() {
    x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("n")});
    t = g.add_input("t", DataType::kInt64, Shape{Dim(2)});
    target = g.add_node("Add", "add", {t, g.add_initializer("zeros", i64({0, 0}))}, 1, {"target"})->output(0);
    y = g.add_node("Reshape", "reshape", {x, target}, 1, {"y"})->output(0);
    g.add_output(y);
  }
};

TEST(ProgramResolve, HostInputValueFlowsToReshapeTarget) {
  HostInputGraph h;
  ASSERT_TRUE(infer_shapes(h.g).ok());
  auto p = make_program(h.g);
  ASSERT_TRUE(p);
  const Tensor t = i64({2, 3});
  const std::vector<const Tensor*> host{nullptr, &t};

  Resolver r(*p);
  ASSERT_TRUE(r.seed({{6}, {2}}, &host).ok());
  EXPECT_EQ(values_of(r.host_value(h.t)), (std::vector<int64_t>{2, 3}));
  ASSERT_TRUE(resolve_nodes(r, h.g).ok());
  EXPECT_EQ(values_of(r.host_value(h.target)), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(r.dims(h.y), (std::vector<int64_t>{2, 3}));
  // Data the caller gave: known on the host for Reshape's target, yet Add still runs on the device.
  EXPECT_TRUE(r.launches_kernel(0));
  EXPECT_TRUE(r.read_on_device(h.t));
  ASSERT_TRUE(r.launches().ok());
  EXPECT_EQ(r.binding().num_launches(), 2u);
  EXPECT_EQ(r.input_slots(), 4u);
  EXPECT_EQ(r.output_slots(), 2u);
}

TEST(ProgramResolve, HostOnlyInputIsEvaluatedOnTheHost) {
  HostInputGraph h;
  ASSERT_TRUE(infer_shapes(h.g).ok());
  auto p = make_program(h.g);
  ASSERT_TRUE(p);
  p->set_host_only_inputs({false, true});
  const Tensor t = i64({3, 2});
  const std::vector<const Tensor*> host{nullptr, &t};

  Resolver r(*p);
  ASSERT_TRUE(r.seed({{6}, {2}}, &host).ok());
  ASSERT_TRUE(resolve_nodes(r, h.g).ok());
  EXPECT_EQ(r.dims(h.y), (std::vector<int64_t>{3, 2}));
  // A parameter, not data: Add is shape arithmetic, evaluated here.
  EXPECT_FALSE(r.launches_kernel(0));
  EXPECT_FALSE(r.read_on_device(h.t));
  ASSERT_TRUE(r.launches().ok());
  ASSERT_EQ(r.binding().num_launches(), 1u);
  EXPECT_EQ(r.binding().launch_node(0)->name(), "reshape");
}

TEST(ProgramResolve, HostOnlyInputReadOnTheDeviceIsRefused) {
  // t is host-only, but an Add on the device reads it as data.
  Graph g;
  Value* t = g.add_input("t", DataType::kInt64, Shape{Dim(2)});
  Value* u = g.add_input("u", DataType::kInt64, Shape{Dim(2)});
  g.add_output(g.add_node("Add", "add", {t, u}, 1, {"sum"})->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  auto p = make_program(g);
  ASSERT_TRUE(p);
  p->set_host_only_inputs({true, false});
  const Tensor tv = i64({1, 2});
  const std::vector<const Tensor*> host{&tv, nullptr};

  Resolver r(*p);
  ASSERT_TRUE(r.seed({{2}, {2}}, &host).ok());
  ASSERT_TRUE(resolve_nodes(r, g).ok());
  EXPECT_TRUE(r.read_on_device(t));
  Status s = r.launches();
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("input 't' is a host input"));
  EXPECT_THAT(s.message(), HasSubstr("(consumers: node 'add' (Add))"));
}

TEST(ProgramResolve, DataDependentShapeIsRefusedNamingTheNode) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("n")});
  g.add_output(g.add_node("NonZero", "nz", {x}, 1, {"idx"})->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  auto p = make_program(g);
  ASSERT_TRUE(p);

  Resolver r(*p);
  ASSERT_TRUE(r.seed({{5}}, nullptr).ok());
  Status s = r.shapes(0);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("node 'nz' (NonZero): output 'idx' has shape"));
  EXPECT_THAT(s.message(), HasSubstr("depends on the input data"));
}

TEST(ProgramResolve, DataDependentShapeOfHostValuesIsEvaluated) {
  // The same NonZero on data known on the host: step 1 evaluates it for its shape.
  Graph g;
  Value* x = g.add_input("x", DataType::kInt64, Shape{Dim::symbol("n")});
  Value* idx = g.add_node("NonZero", "nz", {x}, 1, {"idx"})->output(0);
  g.add_output(idx);
  ASSERT_TRUE(infer_shapes(g).ok());
  auto p = make_program(g);
  ASSERT_TRUE(p);
  const Tensor xv = i64({0, 7, 0, 5, 0});
  const std::vector<const Tensor*> host{&xv};

  Resolver r(*p);
  ASSERT_TRUE(r.seed({{5}}, &host).ok());
  ASSERT_TRUE(r.shapes(0).ok());
  EXPECT_EQ(r.dims(idx), (std::vector<int64_t>{1, 2}));
  ASSERT_TRUE(r.host_values(0).ok());
  EXPECT_EQ(values_of(r.host_value(idx)), (std::vector<int64_t>{1, 3}));
  EXPECT_FALSE(r.launches_kernel(0));  // no CUDA kernel: computed here
  ASSERT_TRUE(r.launches().ok());
  // A graph output: its known bytes are written on the device.
  ASSERT_EQ(r.binding().num_launches(), 1u);
  EXPECT_TRUE(r.writes_known_value(0));
  EXPECT_EQ(r.input_slots(), 0u);
}

TEST(ProgramResolve, UnknownOpIsNamed) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(3)});
  g.add_output(g.add_node("Frobnicate", "frob", {x}, 1, {"y"})->output(0));
  auto p = make_program(g);
  ASSERT_TRUE(p);

  Resolver r(*p);
  ASSERT_TRUE(r.seed({{3}}, nullptr).ok());
  Status s = r.shapes(0);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_EQ(s.message(), "node 'frob' (Frobnicate): unknown op 'Frobnicate'");
}

TEST(ProgramResolve, InputCountMustMatch) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(3)});
  g.add_output(g.add_node("Relu", "relu", {x}, 1, {"y"})->output(0));
  auto p = make_program(g);
  ASSERT_TRUE(p);
  Resolver r(*p);
  Status s = r.seed({{3}, {3}}, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "2 input shapes given; the graph has 1 inputs");
}

// x, y [2, 3] -> Relu -> Add(., y); outputs: the sum, x itself and Shape(x).
struct DeviceGraph {
  Graph g;
  Value* x;
  Value* sum;
  Value* shape;
  DeviceGraph() {
    x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(3)});
    Value* y = g.add_input("y", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(3)});
    Value* r = g.add_node("Relu", "relu", {x}, 1, {"r"})->output(0);
    sum = g.add_node("Add", "add", {r, y}, 1, {"sum"})->output(0);
    shape = g.add_node("Shape", "shape", {x}, 1, {"s"})->output(0);
    g.add_output(sum);
    g.add_output(x);
    g.add_output(shape);
  }
};

TEST(ProgramResolve, LaunchesPointerTablesAndCopies) {
  DeviceGraph d;
  ASSERT_TRUE(infer_shapes(d.g).ok());
  auto p = make_program(d.g);
  ASSERT_TRUE(p);

  Resolver r(*p);
  ASSERT_TRUE(r.seed({{2, 3}, {2, 3}}, nullptr).ok());
  const uint64_t workspace[] = {1024, 4096};
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.shapes(i).ok());
    ASSERT_TRUE(r.host_values(i).ok());
    EXPECT_EQ(r.launches_kernel(i), i < 2) << i;
    if (r.launches_kernel(i)) {
      ASSERT_TRUE(r.kernel(i, std::make_unique<StubKernel>(workspace[i])).ok());
    }
  }
  EXPECT_EQ(values_of(r.host_value(d.shape)), (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(r.read_on_device(d.shape));  // until step 4 adds the graph outputs
  ASSERT_TRUE(r.launches().ok());
  EXPECT_TRUE(r.read_on_device(d.shape));
  const Binding& b = r.binding();
  ASSERT_EQ(b.num_launches(), 3u);
  EXPECT_EQ(b.launch_node(0)->name(), "relu");
  EXPECT_EQ(b.launch_node(1)->name(), "add");
  EXPECT_EQ(b.launch_node(2)->name(), "shape");  // the output's known bytes, written on the device
  EXPECT_FALSE(r.writes_known_value(0));
  EXPECT_FALSE(r.writes_known_value(1));
  EXPECT_TRUE(r.writes_known_value(2));
  EXPECT_EQ(r.input_slots(), 3u);   // Relu 1 + Add 2
  EXPECT_EQ(r.output_slots(), 2u);  // Relu 1 + Add 1
  EXPECT_EQ(r.num_copies(), 1u);    // x, a graph input, copied to its output
  EXPECT_EQ(b.workspace_needed(), 4096u);
  EXPECT_EQ(b.output_dims(0), (std::vector<int64_t>{2, 3}));
}

TEST(ProgramResolve, KernelStepChecksWithoutADevice) {
  // Clip's bounds are read on the host: a bound only known on the device is refused at step 3.
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(4)});
  Value* lo = g.add_input("lo", DataType::kFloat32, Shape{});
  g.add_output(g.add_node("Clip", "clip", {x, lo}, 1, {"y"})->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  auto p = make_program(g);
  ASSERT_TRUE(p);
  Resolver r(*p);
  ASSERT_TRUE(r.seed({{4}, {}}, nullptr).ok());
  ASSERT_TRUE(r.shapes(0).ok());
  ASSERT_TRUE(r.host_values(0).ok());
  ASSERT_TRUE(r.launches_kernel(0));
  Status s = r.kernel(0, std::make_unique<StubKernel>());
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_EQ(s.message(), "node 'clip' (Clip): input 1 ('lo') must be known before the run (a constant or computed "
                         "from shapes) on the CUDA backend");

  // A kernel asking for more workspace than the program has.
  DeviceGraph d;
  ASSERT_TRUE(infer_shapes(d.g).ok());
  ProgramOptions small;
  small.workspace_bytes = 100;
  auto p2 = make_program(d.g, small);
  ASSERT_TRUE(p2);
  Resolver r2(*p2);
  ASSERT_TRUE(r2.seed({{2, 3}, {2, 3}}, nullptr).ok());
  ASSERT_TRUE(r2.shapes(0).ok());
  ASSERT_TRUE(r2.host_values(0).ok());
  s = r2.kernel(0, std::make_unique<StubKernel>(101));
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "node 'relu' (Relu): the kernel asks for 101 bytes of workspace; the limit is 100");
}

TEST(ProgramResolve, StepsOutOfOrderAreRefused) {
  DeviceGraph d;
  ASSERT_TRUE(infer_shapes(d.g).ok());
  auto p = make_program(d.g);
  ASSERT_TRUE(p);
  Resolver r(*p);
  EXPECT_EQ(r.shapes(0).code(), StatusCode::kInternal);  // before seed
  ASSERT_TRUE(r.seed({{2, 3}, {2, 3}}, nullptr).ok());
  EXPECT_EQ(r.host_values(0).code(), StatusCode::kInternal);  // before shapes(0)
  EXPECT_EQ(r.shapes(1).code(), StatusCode::kInternal);       // node 0 first
  ASSERT_TRUE(r.shapes(0).ok());
  EXPECT_EQ(r.launches().code(), StatusCode::kInternal);  // nodes 1 and 2 not resolved
  ASSERT_TRUE(r.host_values(0).ok());
  ASSERT_TRUE(r.shapes(1).ok());
  ASSERT_TRUE(r.host_values(1).ok());
  ASSERT_TRUE(r.shapes(2).ok());
  ASSERT_TRUE(r.host_values(2).ok());
  // Relu and Add launch kernels, but step 3 gave none.
  Status s = r.launches();
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("node 'relu' (Relu): no kernel"));
}

}  // namespace
}  // namespace slimrt::cuda

#endif  // SLIMRT_HAVE_CUDA
