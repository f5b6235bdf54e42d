// Runtime::load onto the GPU: the pinned ring, several reader threads, every reader kind; the
// device bytes are copied back and compared with the file byte for byte. Failures (corrupt
// chunk, cancellation, a device-memory limit) must leave device memory as it was.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/runtime_internal.h"
#include "slimrt/builder/engine_writer.h"
#include "slimrt/device.h"
#include "slimrt/engine_format.h"
#include "slimrt/runtime.h"
#include "support/test_util.h"

#ifdef SLIMRT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace slimrt {
namespace {

#define SKIP_WITHOUT_GPU()                                                  \
  do {                                                                      \
    DeviceQuery q = query_cuda_devices();                                   \
    if (q.count == 0) GTEST_SKIP() << "no GPU: " << q.description;          \
  } while (0)

// ~40 MiB of float weights in three tensors (sizes not multiples of the chunk), an int64 shape
// weight (mirrored on the host) and a fp16 one.
std::vector<uint8_t> make_engine(uint64_t chunk_size) {
  auto rng = testing::make_rng(3);
  Graph g;
  g.name = "gpu_load";
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(1000)});
  Value* w1 = g.add_initializer("W1", testing::random_tensor(DataType::kFloat32, {1000, 5001}, rng));
  Value* w2 = g.add_initializer("W2", testing::random_tensor(DataType::kFloat32, {5001, 997}, rng));
  Value* w3 = g.add_initializer("W3", testing::random_tensor(DataType::kFloat16, {997, 7}, rng));
  Value* shape = g.add_initializer("shape", Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {-1, 7}));
  Node* m1 = g.add_node("MatMul", "m1", {x, w1}, 1, {"h1"});
  Node* m2 = g.add_node("MatMul", "m2", {m1->output(0), w2}, 1, {"h2"});
  Node* c = g.add_node("Cast", "c", {m2->output(0)}, 1, {"h3"});
  c->set_attr("to", int64_t{10});
  Node* m3 = g.add_node("MatMul", "m3", {c->output(0), w3}, 1, {"h4"});
  Node* r = g.add_node("Reshape", "r", {m3->output(0), shape}, 1, {"y"});
  g.add_output(r->output(0));
  EngineOptions o;
  o.chunk_size = chunk_size;
  std::stringstream ss;
  Status s = write_engine(g, o, ss);
  EXPECT_TRUE(s.ok()) << s.to_string();
  const std::string str = ss.str();
  return std::vector<uint8_t>(str.begin(), str.end());
}

std::string write_temp(const std::vector<uint8_t>& bytes, const std::string& name) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("slimrt_gpu_" + std::to_string(::getpid()) + "_" + name)).string();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

size_t device_free() {
#ifdef SLIMRT_HAVE_CUDA
  size_t free_bytes = 0, total = 0;
  cudaDeviceSynchronize();
  cudaMemGetInfo(&free_bytes, &total);
  return free_bytes;
#else
  return 0;
#endif
}

void expect_region_equals_file(const Engine& e, const std::vector<uint8_t>& file) {
  ASSERT_EQ(e.weights_memory_kind(), MemoryKind::kDevice);
  const uint64_t n = e.weights_bytes();
  std::vector<uint8_t> back(n, 0xEE);
  ASSERT_TRUE(runtime_detail::cuda_copy_to_host(back.data(), e.weights_data(), n).ok());
  EXPECT_EQ(std::memcmp(back.data(), file.data() + e.info().header.weights_offset, n), 0);
  // Big float weights live on the device; the int64 shape is mirrored on the host.
  for (const Value* v : e.graph().values()) {
    if (!v->constant()) continue;
    if (v->name() == "shape") {
      EXPECT_EQ(v->constant()->memory_kind(), MemoryKind::kHost);
      EXPECT_EQ(v->constant()->data<int64_t>()[1], 7);
    }
    if (v->name() == "W1") {
      EXPECT_EQ(v->constant()->memory_kind(), MemoryKind::kDevice);
    }
  }
}

TEST(GpuEngineLoad, EveryReaderMatchesTheFileByteForByte) {
  SKIP_WITHOUT_GPU();
  auto rt = std::move(Runtime::create({.backend = "cuda"})).value();
  for (uint64_t chunk : {uint64_t{4096}, uint64_t{1} << 20}) {
    const std::vector<uint8_t> bytes = make_engine(chunk);
    const std::string path = write_temp(bytes, "every.engine");
    for (const std::string kind : {"file", "direct", "mmap", "span", "stream"}) {
      for (uint32_t threads : {1u, 4u}) {
        for (uint64_t staging : {chunk, uint64_t{3} << 20, kDefaultStagingBufferBytes}) {
          SCOPED_TRACE(kind + " chunk " + std::to_string(chunk) + " threads " + std::to_string(threads) +
                       " staging " + std::to_string(staging));
          std::unique_ptr<StreamReader> reader;
          if (kind == "file") reader = std::move(open_file_reader(path)).value();
          if (kind == "direct") reader = std::move(open_file_reader(path, {.direct_io = true})).value();
          if (kind == "mmap") reader = std::move(open_mmap_reader(path)).value();
          if (kind == "span") reader = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
          if (kind == "stream") {
            size_t pos = 0;
            reader = make_callback_reader([&bytes, pos](void* dst, uint64_t cap) mutable -> int64_t {
              const size_t n = std::min<size_t>(cap, std::min<size_t>(bytes.size() - pos, 1 << 20));
              std::memcpy(dst, bytes.data() + pos, n);
              pos += n;
              return static_cast<int64_t>(n);
            });
          }
          LoadOptions o;
          o.reader_threads = threads;
          o.staging_buffer_bytes = staging;
          o.staging_buffers = staging == chunk ? 3 : 2;
          Result<std::shared_ptr<Engine>> e = rt->load(*reader, o);
          ASSERT_TRUE(e.ok()) << e.status().to_string();
          expect_region_equals_file(**e, bytes);
        }
      }
    }
    std::remove(path.c_str());
  }
}

TEST(GpuEngineLoad, FailuresLeaveDeviceMemoryAsItWas) {
  SKIP_WITHOUT_GPU();
  auto rt = std::move(Runtime::create({.backend = "cuda"})).value();
  std::vector<uint8_t> bytes = make_engine(1 << 20);
  {  // warm up: the first load creates lazily allocated driver state
    auto r = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
    ASSERT_TRUE(rt->load(*r).ok());
  }
  const size_t before = device_free();
  const EngineInfo info = std::move(parse_engine(*make_span_reader(
                                        {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()})))
                              .value();
  std::vector<uint8_t> corrupt = bytes;
  corrupt[info.header.weights_offset + (uint64_t{17} << 20) + 5] ^= 1;
  {
    auto r = make_span_reader({reinterpret_cast<const std::byte*>(corrupt.data()), corrupt.size()});
    LoadOptions o;
    o.reader_threads = 4;
    Result<std::shared_ptr<Engine>> e = rt->load(*r, o);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(e.status().message().find("weights chunk 17 of"), std::string::npos) << e.status().message();
  }
  EXPECT_EQ(device_free(), before);
  {
    auto r = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
    LoadOptions o;
    o.staging_buffer_bytes = 4 << 20;
    o.progress = [](const LoadProgress& p) { return p.bytes_done < (uint64_t{10} << 20); };
    Result<std::shared_ptr<Engine>> e = rt->load(*r, o);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kCancelled);
  }
  EXPECT_EQ(device_free(), before);
  {
    auto r = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
    LoadOptions o;
    o.max_device_bytes = 1 << 20;
    Result<std::shared_ptr<Engine>> e = rt->load(*r, o);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kOutOfMemory);
    EXPECT_NE(e.status().message().find(std::to_string(info.header.weights_size) + " bytes"), std::string::npos)
        << e.status().message();
  }
  EXPECT_EQ(device_free(), before);
  {  // a successful load and its release give the memory back too
    auto r = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
    Result<std::shared_ptr<Engine>> e = rt->load(*r);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    EXPECT_LT(device_free(), before);
  }
  EXPECT_EQ(device_free(), before);
}

TEST(GpuEngineLoad, SmallEnginesPinOnlyWhatTheyNeed) {
  SKIP_WITHOUT_GPU();
  auto rt = std::move(Runtime::create({.backend = "cuda"})).value();
  auto rng = testing::make_rng(5);
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(3), Dim(100)});
  Value* w = g.add_initializer("W", testing::random_tensor(DataType::kFloat32, {100, 250}, rng));
  Node* m = g.add_node("MatMul", "m", {x, w}, 1, {"y"});
  g.add_output(m->output(0));
  std::stringstream ss;
  ASSERT_TRUE(write_engine(g, EngineOptions{}, ss).ok());
  const std::string str = ss.str();
  const std::vector<uint8_t> bytes(str.begin(), str.end());
  auto r = make_span_reader({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
  Result<std::shared_ptr<Engine>> e = rt->load(*r);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  // 100 KB of weights: one slot of one 4 MiB chunk, not the default 2 x 64 MiB ring.
  EXPECT_EQ((*e)->load_stats().staging_bytes, kEngineDefaultChunkSize);
  expect_region_equals_file(**e, bytes);
}

TEST(GpuEngineLoad, TargetMismatchIsRefused) {
  SKIP_WITHOUT_GPU();
  auto rt = std::move(Runtime::create({.backend = "cuda"})).value();
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(2)});
  Node* n = g.add_node("Relu", "r", {x}, 1, {"y"});
  g.add_output(n->output(0));
  EngineOptions o;
  o.target = rt->target() == "sm_80" ? "sm_90" : "sm_80";
  std::stringstream ss;
  ASSERT_TRUE(write_engine(g, o, ss).ok());
  const std::string s = ss.str();
  auto r = make_span_reader({reinterpret_cast<const std::byte*>(s.data()), s.size()});
  Result<std::shared_ptr<Engine>> e = rt->load(*r);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(e.status().message().find(rt->target()), std::string::npos) << e.status().message();
}

}  // namespace
}  // namespace slimrt
