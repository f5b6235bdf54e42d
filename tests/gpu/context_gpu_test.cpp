// ExecutionContext on the GPU: results against the CPU reference, enqueue without allocation or
// synchronisation (counting allocator + capture into a caller's CUDA graph), user-supplied
// memory shared by two contexts, concurrent contexts, bounded caches, and device memory that
// does not grow over 10,000 enqueues with varying shapes.
#ifdef SLIMRT_HAVE_CUDA  // needs the CUDA runtime headers
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <set>
#include <thread>

#include "cuda/program_kernels.h"
#include "gpu/gpu_test_util.h"
#include "slimrt/builder/engine_writer.h"
#include "slimrt/context.h"
#include "slimrt/engine_format.h"
#include "slimrt/host_memory.h"
#include "slimrt/runtime.h"

// GCC cannot see that the replaced operator new below is malloc-based.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// ---- counting allocator: every operator new in this binary goes through here ----------------
namespace {
std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace slimrt {
namespace {

using testing::make_rng;
using testing::random_tensor;

constexpr int64_t kIn = 64, kHidden = 96, kOut = 32, kMaxBatch = 64;

// x[batch, 64] -> MatMul -> Add -> Relu -> MatMul -> Add -> Reshape to [batch, 8, 4] with the
// target shape computed from Shape(h) (a host-known value) -> Softmax(last axis).
Graph make_mlp(std::mt19937_64& rng, bool dynamic) {
  Graph g;
  Value* x = dynamic ? g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(kIn)})
                     : g.add_input("x", DataType::kFloat32, Shape{Dim(4), Dim(kIn)});
  Value* w1 = g.add_initializer("w1", random_tensor(DataType::kFloat32, {kIn, kHidden}, rng, -0.2, 0.2));
  Value* b1 = g.add_initializer("b1", random_tensor(DataType::kFloat32, {kHidden}, rng));
  Value* w2 = g.add_initializer("w2", random_tensor(DataType::kFloat32, {kHidden, kOut}, rng, -0.2, 0.2));
  Value* b2 = g.add_initializer("b2", random_tensor(DataType::kFloat32, {kOut}, rng));
  Value* h = g.add_node("MatMul", "mm1", {x, w1}, 1)->output(0);
  h = g.add_node("Add", "add1", {h, b1}, 1)->output(0);
  h = g.add_node("Relu", "relu", {h}, 1)->output(0);
  h = g.add_node("MatMul", "mm2", {h, w2}, 1)->output(0);
  h = g.add_node("Add", "add2", {h, b2}, 1)->output(0);
  Value* shape = g.add_node("Shape", "shape", {h}, 1)->output(0);
  Value* zero = g.add_initializer("zero", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {0}));
  Node* gather = g.add_node("Gather", "batch_dim", {shape, zero}, 1);
  gather->set_attr("axis", int64_t{0});
  Value* tail = g.add_initializer("tail", Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {8, 4}));
  Node* concat = g.add_node("Concat", "target", {gather->output(0), tail}, 1);
  concat->set_attr("axis", int64_t{0});
  Value* y = g.add_node("Reshape", "reshape", {h, concat->output(0)}, 1)->output(0);
  Node* sm = g.add_node("Softmax", "softmax", {y}, 1);
  sm->set_attr("axis", int64_t{-1});
  g.add_output(sm->output(0));
  SLIMRT_CHECK(infer_shapes(g).ok());
  return g;
}

struct TestEngine {
  Graph graph;
  std::shared_ptr<Engine> engine;
};

// Writes `g` as an engine with `opts` and loads it on the GPU (null after a test failure).
std::shared_ptr<Engine> load_engine(const Graph& g, const EngineOptions& opts, const std::string& tag) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("slimrt_ctx_" + tag + "_" + std::to_string(::getpid()) + ".engine"))
          .string();
  const Status s = write_engine(g, opts, path);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (!s.ok()) return nullptr;
  auto rt = Runtime::create({});
  EXPECT_TRUE(rt.ok()) << rt.status().to_string();
  if (!rt.ok()) return nullptr;
  auto e = (*rt)->load_file(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? *e : nullptr;
}

// Writes the graph as an engine (profile batch 1..64 when dynamic) and loads it on the GPU.
TestEngine load_mlp(bool dynamic) {
  TestEngine t;
  auto rng = make_rng(7);
  t.graph = make_mlp(rng, dynamic);
  EngineOptions opts;
  if (dynamic) opts.profiles.push_back({{{"x", {1, kIn}, {8, kIn}, {kMaxBatch, kIn}}}});
  t.engine = load_engine(t.graph, opts, dynamic ? "dyn" : "static");
  return t;
}

Tensor reference(const Graph& g, const Tensor& x) {
  auto out = testing::run_graph(g, {{"x", x}});
  return out.empty() ? Tensor() : out[0];
}

// Device buffers for one input batch and its output, plus the host copies.
struct Io {
  void* x = nullptr;
  void* y = nullptr;
  int64_t batch = 0;
  Tensor host_x;
  Io(int64_t b, std::mt19937_64& rng) : batch(b) {
    host_x = random_tensor(DataType::kFloat32, {b, kIn}, rng);
    EXPECT_EQ(cudaMalloc(&x, host_x.bytes()), cudaSuccess);
    EXPECT_EQ(cudaMalloc(&y, static_cast<size_t>(b * kOut) * sizeof(float)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(x, host_x.raw(), host_x.bytes(), cudaMemcpyHostToDevice), cudaSuccess);
    EXPECT_EQ(cudaMemset(y, 0xFF, static_cast<size_t>(b * kOut) * sizeof(float)), cudaSuccess);
  }
  ~Io() {
    cudaFree(x);
    cudaFree(y);
  }
  Tensor fetch() const {
    Tensor t = Tensor::allocate(DataType::kFloat32, {batch, 8, 4}).value();
    EXPECT_EQ(cudaMemcpy(t.raw(), y, t.bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    return t;
  }
};

Status bind(ExecutionContext& ctx, const Io& io) {
  SLIMRT_RETURN_IF_ERROR(ctx.set_input_shape("x", {io.batch, kIn}));
  SLIMRT_RETURN_IF_ERROR(ctx.set_tensor_address("x", io.x));
  return ctx.set_tensor_address(ctx.engine().graph().outputs()[0]->name(), io.y);
}

TEST(CudaContext, MatchesCpuReference) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  auto ctx = ExecutionContext::create(t.engine);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  EXPECT_GT((*ctx)->device_memory_size(), (*ctx)->activation_bytes());
  auto rng = make_rng();
  for (int64_t batch : {1, 7, 64, 33}) {
    Tensor x = random_tensor(DataType::kFloat32, {batch, kIn}, rng);
    std::vector<NamedTensor> outs;
    Status s = (*ctx)->run({{"x", x}}, &outs, /*poison=*/true);
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_EQ(outs.size(), 1u);
    EXPECT_EQ(outs[0].tensor.shape(), (std::vector<int64_t>{batch, 8, 4}));
    EXPECT_LT(testing::rel_l2(outs[0].tensor, reference(t.graph, x)), 1e-5) << "batch " << batch;
  }
}

TEST(CudaContext, EnqueueAllocatesNothing) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  auto rng = make_rng();
  for (bool graphs : {false, true}) {
    ContextOptions opts;
    opts.cuda_graphs = graphs;
    auto ctx = ExecutionContext::create(t.engine, opts);
    ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
    Io io(16, rng);
    ASSERT_TRUE(bind(**ctx, io).ok());
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*ctx)->enqueue(stream).ok());  // warm-up (+ capture)
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    g_allocations = 0;
    g_counting = true;
    Status s;
    for (int i = 0; i < 100 && s.ok(); ++i) s = (*ctx)->enqueue(stream);
    g_counting = false;
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(g_allocations.load(), 0u) << "host allocations during 100 enqueues (cuda_graphs=" << graphs << ")";
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    EXPECT_LT(testing::rel_l2(io.fetch(), reference(t.graph, io.host_x)), 1e-5);
    if (graphs) {
      EXPECT_GE((*ctx)->stats().graph_launches, 100u);
    }
    cudaStreamDestroy(stream);
  }
}

// profile_layers (slimrt bench --profile): one entry per launch, named after its node, with a
// positive time; the results stay correct and later enqueues still replay graphs.
TEST(CudaContext, ProfileLayersTimesEveryLaunch) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  auto ctx = ExecutionContext::create(t.engine);
  ASSERT_TRUE(ctx.ok());
  auto rng = make_rng();
  Io io(24, rng);
  ASSERT_TRUE(bind(**ctx, io).ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  auto layers = (*ctx)->profile_layers(stream, 5);
  ASSERT_TRUE(layers.ok()) << layers.status().to_string();
  std::set<std::string> ops;
  for (const LayerTime& l : *layers) {
    EXPECT_GT(l.median_ms, 0.0) << l.name;
    EXPECT_FALSE(l.name.empty());
    ops.insert(l.op_type);
  }
  // MatMul, Add, Relu, Softmax launch kernels; Shape/Gather/Concat are host-known.
  EXPECT_TRUE(ops.count("MatMul") && ops.count("Softmax")) << layers->size() << " launches";
  EXPECT_FALSE(ops.count("Shape"));
  EXPECT_FALSE((*ctx)->profile_layers(stream, 0).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*ctx)->enqueue(stream).ok());
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_LT(testing::rel_l2(io.fetch(), reference(t.graph, io.host_x)), 1e-5);
  EXPECT_GE((*ctx)->stats().graph_launches, 1u);
  cudaStreamDestroy(stream);
}

// A caller capturing its stream in global mode makes any synchronising or allocating CUDA call
// fail; enqueue must record cleanly into the caller's graph, which then replays correctly.
TEST(CudaContext, EnqueueCapturesIntoCallersGraph) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  auto ctx = ExecutionContext::create(t.engine);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  auto rng = make_rng();
  Io io(9, rng);
  ASSERT_TRUE(bind(**ctx, io).ok());
  ASSERT_TRUE((*ctx)->resolve_shapes().ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
  Status s = (*ctx)->enqueue(stream);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
  ASSERT_TRUE(s.ok()) << s.to_string();
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_LT(testing::rel_l2(io.fetch(), reference(t.graph, io.host_x)), 1e-5);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

TEST(CudaContext, TwoContextsShareUserMemory) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  ContextOptions opts;
  opts.allocate_device_memory = false;
  auto a = ExecutionContext::create(t.engine, opts);
  auto b = ExecutionContext::create(t.engine, opts);
  ASSERT_TRUE(a.ok() && b.ok());
  const uint64_t bytes = (*a)->device_memory_size();
  auto rng = make_rng();
  Io io_a(5, rng), io_b(64, rng);
  ASSERT_TRUE(bind(**a, io_a).ok());
  ASSERT_TRUE(bind(**b, io_b).ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  EXPECT_EQ((*a)->enqueue(stream).code(), StatusCode::kInvalidArgument);  // no memory yet
  void* block = nullptr;
  ASSERT_EQ(cudaMalloc(&block, bytes), cudaSuccess);
  EXPECT_EQ((*a)->set_device_memory(block, bytes - 256).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*a)->set_device_memory(block, bytes).ok());
  ASSERT_TRUE((*b)->set_device_memory(block, bytes).ok());
  for (int i = 0; i < 3; ++i) {  // alternate on one stream: never at the same time
    ASSERT_TRUE((*a)->enqueue(stream).ok());
    ASSERT_TRUE((*b)->enqueue(stream).ok());
  }
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_LT(testing::rel_l2(io_a.fetch(), reference(t.graph, io_a.host_x)), 1e-5);
  EXPECT_LT(testing::rel_l2(io_b.fetch(), reference(t.graph, io_b.host_x)), 1e-5);
  cudaStreamDestroy(stream);
  cudaFree(block);
}

TEST(CudaContext, ConcurrentContextsOnThreads) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  constexpr int kThreads = 4;
  std::vector<Tensor> got(kThreads), want(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto rng = make_rng(100 + i);
      auto ctx = ExecutionContext::create(t.engine);
      if (!ctx.ok()) {
        errors[i] = ctx.status().to_string();
        return;
      }
      Io io(3 + 13 * i, rng);
      Status s = bind(**ctx, io);
      cudaStream_t stream = nullptr;
      cudaStreamCreate(&stream);
      for (int k = 0; k < 50 && s.ok(); ++k) s = (*ctx)->enqueue(stream);
      cudaStreamSynchronize(stream);
      cudaStreamDestroy(stream);
      if (!s.ok()) errors[i] = s.to_string();
      got[i] = io.fetch();
      want[i] = io.host_x;
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(errors[i].empty()) << "thread " << i << ": " << errors[i];
    EXPECT_LT(testing::rel_l2(got[i], reference(t.graph, want[i])), 1e-5) << "thread " << i;
  }
}

TEST(CudaContext, RefusesShapesOutsideTheProfile) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  auto ctx = ExecutionContext::create(t.engine);
  ASSERT_TRUE(ctx.ok());
  Status s = (*ctx)->set_input_shape("x", {kMaxBatch + 1, kIn});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("outside profile 0"), std::string::npos) << s.message();
  EXPECT_EQ((*ctx)->set_input_shape("x", {4, kIn + 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*ctx)->set_input_shape("nope", {4, kIn}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*ctx)->set_input_shape("x", {4, kIn}).ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  s = (*ctx)->enqueue(stream);  // no address for x
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'x'"), std::string::npos) << s.message();
  cudaStreamDestroy(stream);
}

// More shapes than the caches hold: results stay right and the caches stay bounded.
TEST(CudaContext, BoundedShapeAndGraphCaches) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  ContextOptions opts;
  opts.max_cached_shapes = 2;
  opts.max_cuda_graphs = 2;
  auto ctx = ExecutionContext::create(t.engine, opts);
  ASSERT_TRUE(ctx.ok());
  auto rng = make_rng();
  std::vector<std::unique_ptr<Io>> ios;
  for (int64_t b : {2, 9, 17, 40, 64}) ios.push_back(std::make_unique<Io>(b, rng));
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  for (int round = 0; round < 4; ++round) {
    for (auto& io : ios) {
      ASSERT_TRUE(bind(**ctx, *io).ok());
      ASSERT_TRUE((*ctx)->enqueue(stream).ok());
      ASSERT_TRUE((*ctx)->enqueue(stream).ok());
    }
  }
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  for (auto& io : ios) EXPECT_LT(testing::rel_l2(io->fetch(), reference(t.graph, io->host_x)), 1e-5) << io->batch;
  EXPECT_GE((*ctx)->stats().shape_resolutions, 5u);
  cudaStreamDestroy(stream);
}

// The acceptance check: device memory after 10,000 enqueues with shapes varying inside
// the profile equals device memory after the first enqueue.
TEST(CudaContext, DeviceMemoryStableOver10kEnqueues) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  auto ctx = ExecutionContext::create(t.engine);
  ASSERT_TRUE(ctx.ok());
  auto rng = make_rng();
  std::vector<std::unique_ptr<Io>> ios;
  for (int64_t b : {1, 3, 8, 15, 31, 47, 64}) ios.push_back(std::make_unique<Io>(b, rng));
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  ASSERT_TRUE(bind(**ctx, *ios[0]).ok());
  ASSERT_TRUE((*ctx)->enqueue(stream).ok());
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  size_t free_first = 0, free_last = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_first, &total), cudaSuccess);
  std::uniform_int_distribution<size_t> pick(0, ios.size() - 1);
  for (int i = 1; i < 10000; ++i) {
    const Io& io = *ios[pick(rng)];
    ASSERT_TRUE(bind(**ctx, io).ok());
    Status s = (*ctx)->enqueue(stream);
    ASSERT_TRUE(s.ok()) << "enqueue " << i << ": " << s.to_string();
  }
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&free_last, &total), cudaSuccess);
  std::printf("device free after the first enqueue: %zu bytes; after 10,000: %zu bytes; %llu shape resolutions, "
              "%llu graph captures, %llu graph launches\n",
              free_first, free_last, static_cast<unsigned long long>((*ctx)->stats().shape_resolutions),
              static_cast<unsigned long long>((*ctx)->stats().graph_captures),
              static_cast<unsigned long long>((*ctx)->stats().graph_launches));
  EXPECT_EQ(free_last, free_first);
  for (auto& io : ios) {
    ASSERT_TRUE(bind(**ctx, *io).ok());
    ASSERT_TRUE((*ctx)->enqueue(stream).ok());
  }
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  for (auto& io : ios) EXPECT_LT(testing::rel_l2(io->fetch(), reference(t.graph, io->host_x)), 1e-5) << io->batch;
  cudaStreamDestroy(stream);
}

// Resize prepares tap tables per input shape; they go through the workspace, so new spatial
// sizes allocate no device memory either.
TEST(CudaContext, ResizeShapesAllocateNoDeviceMemory) {
  SLIMRT_SKIP_WITHOUT_GPU();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{1, 4, Dim::symbol("h"), Dim::symbol("w")});
  Value* roi = g.add_initializer("roi", Tensor::from_vector<float>(DataType::kFloat32, {0}, {}));
  Value* scales = g.add_initializer("scales", Tensor::from_vector<float>(DataType::kFloat32, {4}, {1, 1, 2, 2}));
  Node* r = g.add_node("Resize", "resize", {x, roi, scales}, 1, {"y"});
  r->set_attr("mode", std::string("linear"));
  g.add_output(r->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  EngineOptions opts;
  opts.profiles.push_back({{{"x", {1, 4, 4, 4}, {1, 4, 32, 32}, {1, 4, 64, 64}}}});
  std::shared_ptr<Engine> engine = load_engine(g, opts, "resize");
  ASSERT_TRUE(engine);
  auto ctx = ExecutionContext::create(engine);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  auto rng = make_rng();
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{4, 4}, {7, 9}, {16, 5}, {33, 64}, {64, 64}, {21, 40}};
  std::vector<Tensor> inputs;
  std::vector<void*> dx, dy;
  for (auto [h, w] : sizes) {
    inputs.push_back(random_tensor(DataType::kFloat32, {1, 4, h, w}, rng));
    void* px = nullptr;
    void* py = nullptr;
    ASSERT_EQ(cudaMalloc(&px, inputs.back().bytes()), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&py, inputs.back().bytes() * 4), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(px, inputs.back().raw(), inputs.back().bytes(), cudaMemcpyHostToDevice), cudaSuccess);
    dx.push_back(px);
    dy.push_back(py);
  }
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  auto run = [&](size_t i) {
    ASSERT_TRUE((*ctx)->set_input_shape("x", inputs[i].shape()).ok());
    ASSERT_TRUE((*ctx)->set_tensor_address("x", dx[i]).ok());
    ASSERT_TRUE((*ctx)->set_tensor_address("y", dy[i]).ok());
    Status s = (*ctx)->enqueue(stream);
    ASSERT_TRUE(s.ok()) << s.to_string();
  };
  run(0);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  size_t free_first = 0, free_last = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_first, &total), cudaSuccess);
  for (int k = 1; k < 600; ++k) run(static_cast<size_t>(k) % sizes.size());
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&free_last, &total), cudaSuccess);
  EXPECT_EQ(free_last, free_first);
  EXPECT_GE((*ctx)->stats().graph_launches, 500u);
  for (size_t i = 0; i < sizes.size(); ++i) {
    Tensor want = testing::run_graph(g, {{"x", inputs[i]}})[0];
    Tensor got = Tensor::allocate(DataType::kFloat32, want.shape()).value();
    ASSERT_EQ(cudaMemcpy(got.raw(), dy[i], got.bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_LT(testing::rel_l2(got, want), 1e-5) << sizes[i].first << "x" << sizes[i].second;
    cudaFree(dx[i]);
    cudaFree(dy[i]);
  }
  cudaStreamDestroy(stream);
}

// Parameters given as graph inputs (Trilu's k, Clip's bounds, CumSum's axis) are host inputs:
// bound to host memory, read at each enqueue, and a change of value resolves (and captures)
// again, cached like a new shape.
TEST(CudaContext, HostInputsAreReadAtEachEnqueue) {
  SLIMRT_SKIP_WITHOUT_GPU();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("n"), Dim(6)});
  Value* k = g.add_input("k", DataType::kInt64, Shape{});
  Value* lo = g.add_input("lo", DataType::kFloat32, Shape{});
  Value* hi = g.add_input("hi", DataType::kFloat32, Shape{});
  Value* axis = g.add_input("axis", DataType::kInt32, Shape{});
  Value* t = g.add_node("Trilu", "triu", {x, k}, 1)->output(0);
  Value* c = g.add_node("Clip", "clip", {t, lo, hi}, 1)->output(0);
  Node* cs = g.add_node("CumSum", "cumsum", {c, axis}, 1, {"y"});
  g.add_output(cs->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  EngineOptions opts;
  opts.profiles.push_back({{{"x", {1, 6}, {5, 6}, {16, 6}}}});
  std::shared_ptr<Engine> engine = load_engine(g, opts, "host");
  ASSERT_TRUE(engine);
  auto ctx = ExecutionContext::create(engine);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  for (const char* name : {"k", "lo", "hi", "axis"}) EXPECT_TRUE((*ctx)->is_host_input(name)) << name;
  EXPECT_FALSE((*ctx)->is_host_input("x"));

  auto rng = make_rng();
  const int64_t n = 7;
  Tensor hx = random_tensor(DataType::kFloat32, {n, 6}, rng);
  auto feeds = [&](int64_t kv, float lov, float hiv, int32_t axv) {
    return std::vector<NamedTensor>{{"x", hx},
                                    {"k", Tensor::from_vector<int64_t>(DataType::kInt64, {}, {kv})},
                                    {"lo", Tensor::from_vector<float>(DataType::kFloat32, {}, {lov})},
                                    {"hi", Tensor::from_vector<float>(DataType::kFloat32, {}, {hiv})},
                                    {"axis", Tensor::from_vector<int32_t>(DataType::kInt32, {}, {axv})}};
  };
  // The convenience path takes host tensors as they are.
  {
    std::vector<NamedTensor> out;
    Status s = (*ctx)->run(feeds(1, -0.25f, 0.5f, 0), &out, /*poison=*/true);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_LT(testing::rel_l2(out[0].tensor, testing::run_graph(g, feeds(1, -0.25f, 0.5f, 0))[0]), 1e-6);
  }

  // The enqueue path: host values change in place, with no call to the context in between.
  void* dx = nullptr;
  void* dy = nullptr;
  ASSERT_EQ(cudaMalloc(&dx, hx.bytes()), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dy, hx.bytes()), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dx, hx.raw(), hx.bytes(), cudaMemcpyHostToDevice), cudaSuccess);
  int64_t kv = 0;
  float lov = 0, hiv = 0;
  int32_t axv = 0;
  ASSERT_TRUE((*ctx)->set_input_shape("x", {n, 6}).ok());
  ASSERT_TRUE((*ctx)->set_tensor_address("x", dx).ok());
  ASSERT_TRUE((*ctx)->set_tensor_address("y", dy).ok());
  ASSERT_TRUE((*ctx)->set_tensor_address("k", &kv).ok());
  ASSERT_TRUE((*ctx)->set_tensor_address("lo", &lov).ok());
  ASSERT_TRUE((*ctx)->set_tensor_address("hi", &hiv).ok());
  ASSERT_TRUE((*ctx)->set_tensor_address("axis", &axv).ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  const uint64_t resolutions_before = (*ctx)->stats().shape_resolutions;
  struct Params {
    int64_t k;
    float lo, hi;
    int32_t axis;
  };
  const std::vector<Params> sets = {{0, -0.5f, 0.5f, 1}, {-2, -1.0f, 0.25f, 0}, {3, -0.1f, 0.9f, -1}, {0, -0.5f, 0.5f, 1}};
  for (const Params& p : sets) {
    kv = p.k;
    lov = p.lo;
    hiv = p.hi;
    axv = p.axis;
    const Tensor want = testing::run_graph(g, feeds(p.k, p.lo, p.hi, p.axis))[0];
    for (int rep = 0; rep < 3; ++rep) {  // eager, capture, replay
      ASSERT_TRUE(cuda::poison_device(dy, hx.bytes(), stream).ok());
      Status s = (*ctx)->enqueue(stream);
      ASSERT_TRUE(s.ok()) << s.to_string();
      Tensor got = Tensor::allocate(DataType::kFloat32, {n, 6}).value();
      ASSERT_EQ(cudaMemcpyAsync(got.raw(), dy, got.bytes(), cudaMemcpyDeviceToHost, stream), cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
      EXPECT_LT(testing::rel_l2(got, want), 1e-6) << "k=" << p.k << " axis=" << p.axis << " rep " << rep;
    }
  }
  // Three distinct value sets; the fourth repeats the first and is found in the cache.
  EXPECT_EQ((*ctx)->stats().shape_resolutions - resolutions_before, 3u);
  EXPECT_GE((*ctx)->stats().graph_launches, 8u);

  // A host input without an address is an error that names it.
  auto fresh = ExecutionContext::create(engine);
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE((*fresh)->set_input_shape("x", {n, 6}).ok());
  ASSERT_TRUE((*fresh)->set_tensor_address("x", dx).ok());
  Status missing = (*fresh)->enqueue(stream);
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("'k' is a host input"), std::string::npos) << missing.message();
  cudaStreamDestroy(stream);
  cudaFree(dx);
  cudaFree(dy);
}

// ---- graphs survive new addresses (ContextOptions::update_graph_addresses) --------------------

// Enqueues with `ios[k]` bound, the output poisoned first, and returns the output's error against
// `want` (NaN when an element was not written).
double run_and_check(ExecutionContext& ctx, const Io& io, const Tensor& want, cudaStream_t stream) {
  const size_t bytes = static_cast<size_t>(io.batch * kOut) * sizeof(float);
  EXPECT_EQ(cudaMemsetAsync(io.y, 0xFF, bytes, stream), cudaSuccess);
  EXPECT_TRUE(bind(ctx, io).ok());
  Status s = ctx.enqueue(stream);
  EXPECT_TRUE(s.ok()) << s.to_string();
  Tensor got = Tensor::allocate(DataType::kFloat32, {io.batch, 8, 4}).value();
  EXPECT_EQ(cudaMemcpyAsync(got.raw(), io.y, got.bytes(), cudaMemcpyDeviceToHost, stream), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  return testing::rel_l2(got, want);
}

double median_us(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Issue 15: enqueue with the input and output in pinned, mapped or pageable host memory allocates
// nothing on the host after warm-up, rotating between two buffer sets (each enqueue copies in,
// computes through the captured graph and copies out), and every output is right.
TEST(CudaContext, HostBindingsAllocateNothing) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  auto rng = make_rng();
  constexpr int64_t kBatch = 24;
  const std::string out_name = t.engine->graph().outputs()[0]->name();
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  for (BufferLocation where : {BufferLocation::kPinned, BufferLocation::kMapped, BufferLocation::kPageable}) {
    SCOPED_TRACE(std::string(buffer_location_name(where)));
    ContextOptions co;
    co.staging_bytes = 8 << 10;  // the 6 KiB input and 3 KiB output take several slots
    auto ctx = ExecutionContext::create(t.engine, co);
    ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
    const uint64_t x_bytes = kBatch * kIn * sizeof(float), y_bytes = kBatch * kOut * sizeof(float);
    std::vector<HostBuffer> pinned;
    std::vector<std::vector<float>> pageable;
    std::vector<void*> xs, ys;
    std::vector<Tensor> want;
    for (int k = 0; k < 2; ++k) {
      Tensor x = random_tensor(DataType::kFloat32, {kBatch, kIn}, rng);
      want.push_back(reference(t.graph, x));
      if (where == BufferLocation::kPageable) {
        pageable.emplace_back(x.data<float>(), x.data<float>() + kBatch * kIn);
        pageable.emplace_back(static_cast<size_t>(kBatch * kOut), 0.0f);
        xs.push_back(pageable[pageable.size() - 2].data());
        ys.push_back(pageable.back().data());
      } else {
        pinned.push_back(HostBuffer::allocate(x_bytes, where == BufferLocation::kMapped).value());
        pinned.push_back(HostBuffer::allocate(y_bytes, where == BufferLocation::kMapped).value());
        std::memcpy(pinned[pinned.size() - 2].data(), x.raw(), x_bytes);
        xs.push_back(pinned[pinned.size() - 2].data());
        ys.push_back(pinned.back().data());
      }
    }
    ASSERT_TRUE((*ctx)->set_input_shape("x", {kBatch, kIn}).ok());
    auto run = [&](int k) {
      Status s = (*ctx)->set_tensor_address("x", xs[static_cast<size_t>(k)], where, x_bytes);
      if (s.ok()) s = (*ctx)->set_tensor_address(out_name, ys[static_cast<size_t>(k)], where, y_bytes);
      if (s.ok()) s = (*ctx)->enqueue(stream);
      return s;
    };
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(run(i % 2).ok());  // warm-up: eager, capture
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    g_allocations = 0;
    g_counting = true;
    Status s;
    for (int i = 0; i < 50 && s.ok(); ++i) s = run(i % 2);
    g_counting = false;
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(g_allocations.load(), 0u) << "host allocations during 50 enqueues";
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    for (int k = 0; k < 2; ++k) {
      Tensor got = Tensor::allocate(DataType::kFloat32, {kBatch, 8, 4}).value();
      std::memcpy(got.raw(), ys[static_cast<size_t>(k)], y_bytes);
      EXPECT_LT(testing::rel_l2(got, want[static_cast<size_t>(k)]), 1e-5) << "set " << k;
    }
    EXPECT_EQ((*ctx)->stats().graph_captures, 1u);
  }
  cudaStreamDestroy(stream);
}

// Issue 14 item 6: a caller rotating among 8 input/output buffer sets (or a framework handing a
// fresh tensor each call) re-points one captured graph: one capture for the shape set over 1,000
// enqueues, every output checked against the CPU reference.
TEST(CudaContext, RotatingBufferSetsReuseOneGraph) {
  SLIMRT_SKIP_WITHOUT_GPU();
  TestEngine t = load_mlp(true);
  ASSERT_TRUE(t.engine);
  auto ctx = ExecutionContext::create(t.engine);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  auto rng = make_rng();
  constexpr int kSets = 8, kEnqueues = 1000;
  std::vector<std::unique_ptr<Io>> ios;
  std::vector<Tensor> want;
  for (int k = 0; k < kSets; ++k) {
    ios.push_back(std::make_unique<Io>(24, rng));
    want.push_back(reference(t.graph, ios.back()->host_x));
  }
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  std::uniform_int_distribution<int> pick(0, kSets - 1);
  int wrong = 0, moves = 0, prev = -1;
  double worst = 0;
  for (int i = 0; i < kEnqueues; ++i) {
    const int k = pick(rng);
    moves += (prev >= 0 && k != prev);
    prev = k;
    const double e = run_and_check(**ctx, *ios[static_cast<size_t>(k)], want[static_cast<size_t>(k)], stream);
    if (!(e < 1e-5)) ++wrong;
    worst = std::max(worst, e);
  }
  const ContextStats& st = (*ctx)->stats();
  std::printf("rotation over %d buffer sets, %d enqueues: %llu capture(s), %llu graph updates (%d address changes), "
              "%llu graph launches, %llu eager; worst rel_l2 %.3g\n",
              kSets, kEnqueues, static_cast<unsigned long long>(st.graph_captures),
              static_cast<unsigned long long>(st.graph_updates), moves,
              static_cast<unsigned long long>(st.graph_launches), static_cast<unsigned long long>(st.eager_enqueues), worst);
  EXPECT_EQ(wrong, 0) << "worst rel_l2 " << worst;
  EXPECT_EQ(st.graph_captures, 1u);
  EXPECT_EQ(st.eager_enqueues, 1u);
  EXPECT_GE(st.graph_updates, static_cast<uint64_t>(moves) - 1);

  // Rotating after warm-up allocates nothing on the host. Every set has the same shape, so only
  // the addresses are bound here (bind() builds a dims vector, which this count would include).
  const std::string& out_name = (*ctx)->engine().graph().outputs()[0]->name();
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 64; ++i) {
    const Io& io = *ios[static_cast<size_t>(i % kSets)];
    Status s = (*ctx)->set_tensor_address("x", io.x);
    if (s.ok()) s = (*ctx)->set_tensor_address(out_name, io.y);
    if (s.ok()) s = (*ctx)->enqueue(stream);
    if (!s.ok()) {
      g_counting = false;
      FAIL() << s.to_string();
    }
  }
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0u) << "host allocations while rotating buffers";

  // A less aligned output address than the captured one cannot reuse that graph (kernels may
  // have chosen vector loads): it is captured for it, and stays right.
  void* shifted = nullptr;
  const size_t out_bytes = static_cast<size_t>(24 * kOut) * sizeof(float);
  ASSERT_EQ(cudaMalloc(&shifted, out_bytes + 256), cudaSuccess);
  const uint64_t captures = st.graph_captures;
  Io& io0 = *ios[0];
  void* saved_y = io0.y;
  io0.y = static_cast<char*>(shifted) + 4;
  for (int rep = 0; rep < 3; ++rep) EXPECT_LT(run_and_check(**ctx, io0, want[0], stream), 1e-5) << "rep " << rep;
  EXPECT_EQ(st.graph_captures, captures + 1);
  io0.y = saved_y;
  EXPECT_LT(run_and_check(**ctx, io0, want[0], stream), 1e-5);
  cudaFree(shifted);

  // Host time of an enqueue that re-points the graph, against one that relaunches it as is and
  // one that captures anew (update_graph_addresses off, fewer graphs than sets).
  std::vector<double> same, moved;
  for (int i = 0; i < 200; ++i) {
    const Io& io = *ios[static_cast<size_t>((i / 2) % kSets)];  // even i: another set; odd i: the same again
    ASSERT_TRUE(bind(**ctx, io).ok());
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE((*ctx)->enqueue(stream).ok());
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    (i % 2 == 0 ? moved : same).push_back(us);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  }
  ContextOptions off;
  off.update_graph_addresses = false;
  off.max_cuda_graphs = 2;
  auto recapture = ExecutionContext::create(t.engine, off);
  ASSERT_TRUE(recapture.ok());
  std::vector<double> captured;
  for (int i = 0; i < 2 * kSets + 40; ++i) {
    ASSERT_TRUE(bind(**recapture, *ios[static_cast<size_t>(i % kSets)]).ok());
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE((*recapture)->enqueue(stream).ok());
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (i >= 2 * kSets) captured.push_back(us);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  }
  std::printf("enqueue host time, median: same buffers %.1f us; new buffers, graph re-pointed %.1f us; new buffers, "
              "captured again %.1f us\n",
              median_us(same), median_us(moved), median_us(captured));
  cudaStreamDestroy(stream);
}

// x[2, 3, 20, 20] -> Conv 3x3 (16) + bias -> Relu -> Conv 3x3 stride 2 (8) -> GlobalAveragePool
// -> Flatten -> Gemm (10): cuDNN or slimrt's convolutions and cuBLASLt in one graph.
Graph make_convnet(std::mt19937_64& rng) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{2, 3, 20, 20});
  Value* w1 = g.add_initializer("w1", random_tensor(DataType::kFloat32, {16, 3, 3, 3}, rng, -0.3, 0.3));
  Value* b1 = g.add_initializer("b1", random_tensor(DataType::kFloat32, {16}, rng));
  Value* w2 = g.add_initializer("w2", random_tensor(DataType::kFloat32, {8, 16, 3, 3}, rng, -0.2, 0.2));
  Value* wf = g.add_initializer("wf", random_tensor(DataType::kFloat32, {10, 8}, rng, -0.5, 0.5));
  Value* bf = g.add_initializer("bf", random_tensor(DataType::kFloat32, {10}, rng));
  Node* c1 = g.add_node("Conv", "conv1", {x, w1, b1}, 1);
  c1->set_attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  Value* h = g.add_node("Relu", "relu1", {c1->output(0)}, 1)->output(0);
  Node* c2 = g.add_node("Conv", "conv2", {h, w2}, 1);
  c2->set_attr("strides", std::vector<int64_t>{2, 2});
  h = g.add_node("GlobalAveragePool", "gap", {c2->output(0)}, 1)->output(0);
  h = g.add_node("Flatten", "flatten", {h}, 1)->output(0);
  Node* fc = g.add_node("Gemm", "fc", {h, wf, bf}, 1);
  fc->set_attr("transB", int64_t{1});
  g.add_output(fc->output(0));
  SLIMRT_CHECK(infer_shapes(g).ok());
  return g;
}

// The arena moves too: two user-supplied arenas alternate with 8 input/output sets on a
// convolution network; one capture, every output right.
TEST(CudaContext, RotatingArenasAndBuffersOnConvolutions) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = make_rng(11);
  const Graph g = make_convnet(rng);
  std::shared_ptr<Engine> engine = load_engine(g, EngineOptions{}, "convnet");
  ASSERT_TRUE(engine);
  ContextOptions opts;
  opts.allocate_device_memory = false;
  auto ctx = ExecutionContext::create(engine, opts);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  const uint64_t arena_bytes = (*ctx)->device_memory_size();
  void* arenas[2] = {nullptr, nullptr};
  for (void*& a : arenas) ASSERT_EQ(cudaMalloc(&a, arena_bytes), cudaSuccess);
  constexpr int kSets = 8;
  std::vector<Tensor> xs, want;
  std::vector<void*> dx(kSets), dy(kSets);
  for (int k = 0; k < kSets; ++k) {
    xs.push_back(random_tensor(DataType::kFloat32, {2, 3, 20, 20}, rng));
    want.push_back(testing::run_graph(g, {{"x", xs.back()}})[0]);
    ASSERT_EQ(cudaMalloc(&dx[k], xs.back().bytes()), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy[k], want.back().bytes()), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dx[k], xs.back().raw(), xs.back().bytes(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  const std::string out = engine->graph().outputs()[0]->name();
  std::uniform_int_distribution<int> pick(0, kSets - 1);
  int wrong = 0;
  double worst = 0;
  for (int i = 0; i < 400; ++i) {
    const int k = pick(rng);
    ASSERT_TRUE((*ctx)->set_device_memory(arenas[i % 2], arena_bytes).ok());
    ASSERT_EQ(cudaMemsetAsync(arenas[i % 2], 0xFF, arena_bytes, stream), cudaSuccess);  // stale data shows
    ASSERT_EQ(cudaMemsetAsync(dy[k], 0xFF, want[k].bytes(), stream), cudaSuccess);
    ASSERT_TRUE((*ctx)->set_tensor_address("x", dx[k]).ok());
    ASSERT_TRUE((*ctx)->set_tensor_address(out, dy[k]).ok());
    Status s = (*ctx)->enqueue(stream);
    ASSERT_TRUE(s.ok()) << s.to_string();
    Tensor got = Tensor::allocate(DataType::kFloat32, want[k].shape()).value();
    ASSERT_EQ(cudaMemcpyAsync(got.raw(), dy[k], got.bytes(), cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    const double e = testing::rel_l2(got, want[k]);
    if (!(e < 1e-4)) ++wrong;
    worst = std::max(worst, e);
  }
  const ContextStats& st = (*ctx)->stats();
  std::printf("convnet, 2 arenas x 8 buffer sets, 400 enqueues: %llu capture(s), %llu graph updates; worst rel_l2 %.3g\n",
              static_cast<unsigned long long>(st.graph_captures), static_cast<unsigned long long>(st.graph_updates),
              worst);
  EXPECT_EQ(wrong, 0) << "worst rel_l2 " << worst;
  EXPECT_EQ(st.graph_captures, 1u);
  EXPECT_GE(st.graph_updates, 390u);
  cudaStreamDestroy(stream);
  for (int k = 0; k < kSets; ++k) {
    cudaFree(dx[k]);
    cudaFree(dy[k]);
  }
  for (void* a : arenas) cudaFree(a);
}

}  // namespace
}  // namespace slimrt
#endif  // SLIMRT_HAVE_CUDA
