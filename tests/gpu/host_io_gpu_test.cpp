// Host bindings (include/slimrt/context.h, "Host memory"): every buffer location for an input
// and an output (device, pinned, mapped, pageable) on engines with every input format, against
// the CPU reference with outputs poisoned; pageable staging through a ring smaller than the
// tensors, over enqueues that rebind; and the errors that name the tensor.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/engine_writer.h"
#include "slimrt/context.h"
#include "slimrt/host_memory.h"
#include "slimrt/pipeline.h"
#include "slimrt/runtime.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

constexpr BufferLocation kLocations[] = {BufferLocation::kDevice, BufferLocation::kPinned, BufferLocation::kMapped,
                                         BufferLocation::kPageable};

// One buffer of `bytes` at `where`, with host-side fill and read-back.
class Buffer {
 public:
  Buffer(BufferLocation where, uint64_t bytes) : where_(where), bytes_(bytes) {
    switch (where) {
      case BufferLocation::kDevice:
        EXPECT_EQ(cudaMalloc(&device_, bytes), cudaSuccess);
        ptr_ = device_;
        break;
      case BufferLocation::kPinned:
      case BufferLocation::kMapped: {
        auto b = HostBuffer::allocate(bytes, where == BufferLocation::kMapped);
        EXPECT_TRUE(b.ok()) << b.status().to_string();
        if (b.ok()) host_ = std::move(*b);
        ptr_ = host_.data();
        break;
      }
      default:
        pageable_.resize(bytes);
        ptr_ = pageable_.data();
        break;
    }
  }
  ~Buffer() {
    if (device_) cudaFree(device_);
  }
  void* get() const { return ptr_; }
  uint64_t bytes() const { return bytes_; }
  BufferLocation where() const { return where_; }
  void fill(const void* src) {
    if (where_ == BufferLocation::kDevice) EXPECT_EQ(cudaMemcpy(ptr_, src, bytes_, cudaMemcpyHostToDevice), cudaSuccess);
    else std::memcpy(ptr_, src, bytes_);
  }
  void poison() {
    if (where_ == BufferLocation::kDevice) EXPECT_EQ(cudaMemset(ptr_, 0xFF, bytes_), cudaSuccess);
    else std::memset(ptr_, 0xFF, bytes_);
  }
  Tensor read(DataType dt, const std::vector<int64_t>& dims) const {
    Tensor t = Tensor::allocate(dt, dims).value();
    if (where_ == BufferLocation::kDevice) EXPECT_EQ(cudaMemcpy(t.raw(), ptr_, t.bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    else std::memcpy(t.raw(), ptr_, t.bytes());
    return t;
  }

 private:
  BufferLocation where_;
  uint64_t bytes_;
  void* device_ = nullptr;
  void* ptr_ = nullptr;
  HostBuffer host_;
  std::vector<uint8_t> pageable_;
};

std::string temp_path(const std::string& tag) {
  return (std::filesystem::temp_directory_path() / ("slimrt_host_io_" + tag + "_" + std::to_string(getpid()) + ".engine"))
      .string();
}

// y = Relu(x), x [n] fp32 with n in [1, max], written as an engine and loaded on the GPU.
std::shared_ptr<Engine> relu_engine(int64_t opt, int64_t max, const std::string& tag) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("n")});
  g.add_output(g.add_node("Relu", "relu", {x}, 1, {"y"})->output(0));
  EXPECT_TRUE(infer_shapes(g).ok());
  EngineOptions eo;
  eo.profiles.push_back({{{"x", {1}, {opt}, {max}}}});
  const std::string path = temp_path(tag);
  EXPECT_TRUE(write_engine(g, eo, path).ok());
  auto rt = Runtime::create({});
  auto engine = rt.ok() ? (*rt)->load_file(path) : Result<std::shared_ptr<Engine>>(rt.status());
  std::filesystem::remove(path);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? *engine : nullptr;
}

// Runs `ctx` twice (eager, then captured) with `in` and `out` bound; returns the output.
Tensor run_bound(ExecutionContext& ctx, const IoTensor& x, const std::vector<int64_t>& x_dims, Buffer& in,
                 const IoTensor& y, const std::vector<int64_t>& y_dims, Buffer& out, cudaStream_t stream) {
  EXPECT_TRUE(ctx.set_input_shape(x.name, x_dims).ok());
  Status s = ctx.set_tensor_address(x.name, in.get(), in.where(), in.bytes());
  EXPECT_TRUE(s.ok()) << s.to_string();
  s = ctx.set_tensor_address(y.name, out.get(), out.where(), out.bytes());
  EXPECT_TRUE(s.ok()) << s.to_string();
  for (int rep = 0; rep < 3; ++rep) {
    out.poison();
    s = ctx.enqueue(stream);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  }
  return out.read(y.dtype, y_dims);
}

TEST(CudaHostIo, EveryLocationAndFormatMatchesCpu) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  auto cpu = Runtime::create({.backend = "cpu"});
  auto gpu = Runtime::create({});
  ASSERT_TRUE(cpu.ok() && gpu.ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kUInt8}) {
    for (bool nhwc : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + (nhwc ? " NHWC" : " NCHW"));
      BuildOptions o;
      o.precision = Precision::kFp16;
      o.io_formats = {testing::normalized_image("image", dt, nhwc)};
      const std::string dims = nhwc ? "x64x64x3" : "x3x64x64";
      o.profiles = parse_profile_args({"image:1" + dims}, {"image:4" + dims}, {"image:4" + dims}).value();
      const std::string path = temp_path("fmt");
      Status built = build_engine(testing::tinynet_onnx(), o, path);
      ASSERT_TRUE(built.ok()) << built.to_string();
      auto on_cpu = (*cpu)->load_file(path);
      auto on_gpu = (*gpu)->load_file(path);
      std::filesystem::remove(path);
      ASSERT_TRUE(on_cpu.ok() && on_gpu.ok());
      const std::vector<int64_t> x_dims = nhwc ? std::vector<int64_t>{4, 64, 64, 3} : std::vector<int64_t>{4, 3, 64, 64};
      Tensor x = dt == DataType::kUInt8 ? testing::random_tensor(dt, x_dims, rng, 0, 256)
                                        : testing::random_tensor(dt, x_dims, rng, -2, 2);
      std::vector<Tensor> want = testing::run_graph((*on_cpu)->graph(), {{"image", x}});
      ASSERT_EQ(want.size(), 1u);
      const IoTensor& xi = *(*on_gpu)->io_tensor("image");
      const IoTensor& yi = *(*on_gpu)->io_tensor("probs");
      const std::vector<int64_t> y_dims = {4, 10};
      Tensor device_result;
      for (BufferLocation in_at : kLocations) {
        for (BufferLocation out_at : kLocations) {
          SCOPED_TRACE(std::string("input ") + std::string(buffer_location_name(in_at)) + ", output " +
                       std::string(buffer_location_name(out_at)));
          ContextOptions co;
          co.staging_bytes = 16 << 10;  // 4 slots of 4 KiB: the input streams through the ring many times
          auto ctx = ExecutionContext::create(*on_gpu, co);
          ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
          Buffer xb(in_at, x.bytes()), yb(out_at, 4 * 10 * dtype_size(yi.dtype));
          xb.fill(x.raw());
          Tensor got = run_bound(**ctx, xi, x_dims, xb, yi, y_dims, yb, stream);
          // An fp16 engine (its fp32 output computed in half): the fp16 bound.
          EXPECT_LT(testing::rel_l2(got, want[0]), testing::cuda_tolerance(DataType::kFloat16));
          // Every location gives exactly the device-bound result.
          if (!device_result.defined()) device_result = got;
          else EXPECT_EQ(std::memcmp(got.raw(), device_result.raw(), got.bytes()), 0);
          const ContextStats& st = (*ctx)->stats();
          const bool copied_in = in_at == BufferLocation::kPinned || in_at == BufferLocation::kPageable;
          EXPECT_EQ(st.bytes_to_device, copied_in ? 3 * x.bytes() : 0u);
          EXPECT_EQ((*ctx)->tensor_location("image"), in_at);
        }
      }
    }
  }
  cudaStreamDestroy(stream);
}

// x [n] fp32 -> y = 2x + 1 (fp32): tensors of 12 MB through a 1 MiB ring, both ways, rebinding
// new pageable buffers of two sizes between enqueues queued back to back.
TEST(CudaHostIo, PageableStagingLargerThanTheRing) {
  SLIMRT_SKIP_WITHOUT_GPU();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("n")});
  Value* two = g.add_initializer("two", Tensor::from_vector<float>(DataType::kFloat32, {1}, {2.0f}));
  Value* one = g.add_initializer("one", Tensor::from_vector<float>(DataType::kFloat32, {1}, {1.0f}));
  Value* t = g.add_node("Mul", "mul", {x, two}, 1)->output(0);
  g.add_output(g.add_node("Add", "add", {t, one}, 1, {"y"})->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  constexpr int64_t kMax = 3'000'000;
  EngineOptions eo;
  eo.profiles.push_back({{{"x", {1}, {kMax}, {kMax}}}});
  const std::string path = temp_path("big");
  ASSERT_TRUE(write_engine(g, eo, path).ok());
  auto rt = Runtime::create({});
  ASSERT_TRUE(rt.ok());
  auto engine = (*rt)->load_file(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ContextOptions co;
  co.staging_bytes = 1 << 20;
  auto ctx = ExecutionContext::create(*engine, co);
  ASSERT_TRUE(ctx.ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  auto rng = testing::make_rng();
  struct Job {
    std::vector<float> in, out;
  };
  std::vector<Job> jobs;
  for (int64_t n : {kMax, int64_t{1'234'567}, kMax, int64_t{7}}) {
    Job j;
    Tensor r = testing::random_tensor(DataType::kFloat32, {n}, rng);
    j.in.assign(r.data<float>(), r.data<float>() + n);
    j.out.assign(static_cast<size_t>(n), std::nanf(""));
    jobs.push_back(std::move(j));
  }
  // Queue every job before synchronizing: each enqueue's staging must not disturb the previous.
  for (Job& j : jobs) {
    const auto n = static_cast<int64_t>(j.in.size());
    ASSERT_TRUE((*ctx)->set_input_shape("x", {n}).ok());
    ASSERT_TRUE((*ctx)->set_tensor_address("x", j.in.data(), BufferLocation::kPageable, j.in.size() * 4).ok());
    ASSERT_TRUE((*ctx)->set_tensor_address("y", j.out.data(), BufferLocation::kAuto, j.out.size() * 4).ok());
    EXPECT_EQ((*ctx)->tensor_location("y"), BufferLocation::kPageable);
    Status s = (*ctx)->enqueue(stream);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  for (size_t k = 0; k < jobs.size(); ++k) {
    size_t wrong = 0;
    for (size_t i = 0; i < jobs[k].in.size(); ++i) wrong += jobs[k].out[i] != 2.0f * jobs[k].in[i] + 1.0f;
    EXPECT_EQ(wrong, 0u) << "job " << k << " of " << jobs[k].in.size() << " elements";
  }
  cudaStreamDestroy(stream);
}

TEST(CudaHostIo, ErrorsNameTheTensor) {
  SLIMRT_SKIP_WITHOUT_GPU();
  std::shared_ptr<Engine> engine = relu_engine(64, 1024, "err");
  ASSERT_TRUE(engine);
  auto ctx = ExecutionContext::create(engine);
  ASSERT_TRUE(ctx.ok());
  std::vector<float> pageable(1024);
  Buffer device(BufferLocation::kDevice, 4096), pinned(BufferLocation::kPinned, 4096);
  auto expect_error = [](const Status& s, const std::string& says) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
    EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
  };
  expect_error((*ctx)->set_tensor_address("x", pageable.data(), BufferLocation::kDevice),
               "input 'x': bound as device memory, but the address is pageable host memory");
  expect_error((*ctx)->set_tensor_address("y", pinned.get(), BufferLocation::kDevice),
               "output 'y': bound as device memory, but the address is pinned host memory");
  expect_error((*ctx)->set_tensor_address("x", pageable.data(), BufferLocation::kPinned),
               "input 'x': bound as pinned memory, but the address is pageable host memory");
  expect_error((*ctx)->set_tensor_address("y", device.get(), BufferLocation::kPageable),
               "output 'y': bound as pageable memory, but the address is device memory");
  expect_error((*ctx)->set_tensor_address("x", device.get(), BufferLocation::kMapped),
               "input 'x': bound as mapped memory, but the address is device memory");
  // A buffer smaller than the tensor at the current shape: refused at enqueue, naming it.
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  ASSERT_TRUE((*ctx)->set_input_shape("x", {1024}).ok());
  ASSERT_TRUE((*ctx)->set_tensor_address("x", pageable.data(), BufferLocation::kPageable, 1000 * 4).ok());
  ASSERT_TRUE((*ctx)->set_tensor_address("y", pinned.get(), BufferLocation::kPinned, 4096).ok());
  expect_error((*ctx)->enqueue(stream), "input 'x': 4096 bytes at the current shapes, but the buffer bound to it holds 4000");
  ASSERT_TRUE((*ctx)->set_tensor_address("x", pageable.data(), BufferLocation::kPageable, 4096).ok());
  EXPECT_TRUE((*ctx)->enqueue(stream).ok());
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  // The input-consumed and outputs-computed events are recorded in stream order.
  cudaEvent_t consumed = nullptr, computed = nullptr;
  ASSERT_EQ(cudaEventCreate(&consumed), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&computed), cudaSuccess);
  ASSERT_TRUE((*ctx)->set_input_consumed_event(consumed).ok());
  ASSERT_TRUE((*ctx)->set_outputs_computed_event(computed).ok());
  EXPECT_TRUE((*ctx)->enqueue(stream).ok());
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  float ms = -1;
  EXPECT_EQ(cudaEventElapsedTime(&ms, consumed, computed), cudaSuccess);
  EXPECT_GE(ms, 0.0f);
  cudaEventDestroy(consumed);
  cudaEventDestroy(computed);
  cudaStreamDestroy(stream);
}

// Issue 15: a pipeline of 3 requests in flight gives, over 1,000 requests with random data,
// random batch sizes and every buffer location in turn, exactly what one context gives running
// them one at a time with device buffers.
TEST(CudaPipeline, ThousandRequestsMatchSerial) {
  SLIMRT_SKIP_WITHOUT_GPU();
  BuildOptions o;
  o.io_formats = {testing::normalized_image("image", DataType::kUInt8, true)};
  o.profiles = parse_profile_args({"image:1x64x64x3"}, {"image:2x64x64x3"}, {"image:4x64x64x3"}).value();
  const std::string path = temp_path("pipe");
  Status built = build_engine(testing::tinynet_onnx(), o, path);
  ASSERT_TRUE(built.ok()) << built.to_string();
  auto rt = Runtime::create({});
  auto engine = (*rt)->load_file(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  constexpr int kRequests = 1000;
  auto rng = testing::make_rng();
  struct Job {
    int64_t batch = 1;
    std::unique_ptr<Buffer> x, y;
    Tensor want;
  };
  std::vector<Job> jobs(kRequests);
  // The serial reference: one context, device buffers, one request at a time.
  auto serial = ExecutionContext::create(*engine);
  ASSERT_TRUE(serial.ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  const IoTensor& xi = *(*engine)->io_tensor("image");
  const IoTensor& yi = *(*engine)->io_tensor("probs");
  std::uniform_int_distribution<int64_t> pick_batch(1, 4);
  for (int k = 0; k < kRequests; ++k) {
    Job& j = jobs[static_cast<size_t>(k)];
    j.batch = pick_batch(rng);
    Tensor x = testing::random_tensor(DataType::kUInt8, {j.batch, 64, 64, 3}, rng, 0, 256);
    Buffer dx(BufferLocation::kDevice, x.bytes()), dy(BufferLocation::kDevice, static_cast<uint64_t>(j.batch) * 10 * 4);
    dx.fill(x.raw());
    j.want = run_bound(**serial, xi, {j.batch, 64, 64, 3}, dx, yi, {j.batch, 10}, dy, stream);
    const BufferLocation where = kLocations[k % 4];
    j.x = std::make_unique<Buffer>(where, x.bytes());
    j.x->fill(x.raw());
    j.y = std::make_unique<Buffer>(kLocations[(k / 4) % 4], dy.bytes());
    j.y->poison();
  }
  PipelineOptions po;
  po.in_flight = 3;
  po.queue_capacity = 8;
  auto pipe = Pipeline::create(*engine, po);
  ASSERT_TRUE(pipe.ok()) << pipe.status().to_string();
  std::atomic<int> failed{0};
  std::vector<std::future<Status>> futures;
  for (int k = 0; k < kRequests; ++k) {
    Job& j = jobs[static_cast<size_t>(k)];
    Request r;
    r.inputs = {{j.x->get(), j.x->where(), j.x->bytes(), {j.batch, 64, 64, 3}}};
    r.outputs = {{j.y->get(), j.y->where(), j.y->bytes(), {}}};
    if (k % 10 == 0) {
      futures.push_back((*pipe)->submit_future(r));
    } else {
      r.user = &failed;
      r.done = [](void* user, const Status& s) {
        if (!s.ok()) static_cast<std::atomic<int>*>(user)->fetch_add(1);
      };
      ASSERT_TRUE((*pipe)->submit(r).ok());
    }
  }
  (*pipe)->wait_idle();
  for (auto& f : futures) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(failed.load(), 0);
  int differ = 0;
  for (const Job& j : jobs) {
    Tensor got = j.y->read(yi.dtype, {j.batch, 10});
    differ += std::memcmp(got.raw(), j.want.raw(), got.bytes()) != 0;
  }
  EXPECT_EQ(differ, 0) << "requests whose outputs differ from the serial run";
  const PipelineStats st = (*pipe)->stats();
  EXPECT_EQ(st.completed, static_cast<uint64_t>(kRequests));
  EXPECT_EQ((*pipe)->timings().size(), static_cast<size_t>(kRequests));
  cudaStreamDestroy(stream);
}

// A full queue refuses a request that asked not to wait, naming the queue; a request with the
// wrong tensor count or a bad shape fails alone, and the pipeline goes on.
TEST(CudaPipeline, BackPressureAndBadRequests) {
  SLIMRT_SKIP_WITHOUT_GPU();
  std::shared_ptr<Engine> engine = relu_engine(1 << 20, 1 << 22, "bp");
  ASSERT_TRUE(engine);
  PipelineOptions po;
  po.in_flight = 1;
  po.queue_capacity = 1;
  auto pipe = Pipeline::create(engine, po);
  ASSERT_TRUE(pipe.ok());
  std::vector<float> in(1 << 22, 1.0f), out(1 << 22);
  Request r;
  r.inputs = {{in.data(), BufferLocation::kPageable, in.size() * 4, {1 << 22}}};
  r.outputs = {{out.data(), BufferLocation::kPageable, out.size() * 4, {}}};
  Status refused;
  for (int k = 0; k < 64 && refused.ok(); ++k) refused = (*pipe)->submit(r, /*wait=*/false);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.to_string();
  EXPECT_NE(refused.message().find("the queue is full"), std::string::npos) << refused.message();
  (*pipe)->wait_idle();
  EXPECT_GE((*pipe)->stats().rejected, 1u);
  Request wrong = r;
  wrong.outputs.clear();
  Status s = (*pipe)->submit(wrong);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("the request has 1 inputs and 0 outputs; the engine has 1 and 1"), std::string::npos)
      << s.message();
  Request too_big = r;
  too_big.inputs[0].dims = {(1 << 22) + 1};
  std::future<Status> f = (*pipe)->submit_future(too_big);
  Status bad = f.get();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("input 'x'"), std::string::npos) << bad.message();
  Request small = r;
  small.inputs[0].capacity = 100;
  bad = (*pipe)->submit_future(small).get();
  EXPECT_NE(bad.message().find("input 'x': 16777216 bytes at the current shapes, but the buffer bound to it holds 100"),
            std::string::npos) << bad.message();
  EXPECT_TRUE((*pipe)->submit_future(r).get().ok());
  EXPECT_EQ(out[123], 1.0f);
}

}  // namespace
}  // namespace slimrt
