// Helpers shared by the engine format tests: an in-memory StreamReader that can pretend to be a
// pipe, the test graph, and byte patching that keeps the checksums valid (to reach the checks
// behind them).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/checksum.h"
#include "slimrt/builder/engine_writer.h"
#include "slimrt/engine_format.h"
#include "slimrt/graph.h"
#include "slimrt/stream_reader.h"
#include "support/test_util.h"

namespace slimrt::engine_test {

// Reads from a byte vector. seekable=false + known_size=false behaves like a pipe: size()
// is unknown, seek() only skips forward. Every read fills all bytes or fails with kDataLoss.
class ByteReader : public StreamReader {
 public:
  explicit ByteReader(const std::vector<uint8_t>& bytes, bool seekable = true, bool known_size = true)
      : bytes_(bytes), seekable_(seekable), known_size_(known_size) {}

  std::string describe() const override { return seekable_ ? "memory" : "pipe"; }
  std::optional<uint64_t> size() const override {
    return known_size_ ? std::optional<uint64_t>(bytes_.size()) : std::nullopt;
  }
  bool seekable() const override { return seekable_; }
  uint64_t position() const override { return pos_; }
  Status seek(uint64_t offset) override {
    if (!seekable_ && offset < pos_) return unsupported("cannot seek back on a pipe");
    if (offset > bytes_.size()) {
      if (!seekable_) pos_ = bytes_.size();
      return seekable_ ? out_of_range("seek past the end") : data_loss("stream ended while skipping");
    }
    pos_ = offset;
    return Status::OK();
  }
  Status read(void* dst, uint64_t bytes, MemoryKind = MemoryKind::kHost, void* = nullptr) override {
    max_read_ = std::max(max_read_, bytes);
    if (bytes > bytes_.size() - pos_)
      return data_loss("read of " + std::to_string(bytes) + " bytes at offset " + std::to_string(pos_) + ": only " +
                       std::to_string(bytes_.size() - pos_) + " available");
    std::memcpy(dst, bytes_.data() + pos_, bytes);
    pos_ += bytes;
    return Status::OK();
  }
  Status read_at(uint64_t offset, void* dst, uint64_t bytes) const override {
    if (!seekable_) return unsupported("pipe");
    if (offset > bytes_.size() || bytes > bytes_.size() - offset) return data_loss("short read_at");
    std::memcpy(dst, bytes_.data() + offset, bytes);
    return Status::OK();
  }
  uint64_t max_read() const { return max_read_; }

 private:
  const std::vector<uint8_t>& bytes_;
  bool seekable_, known_size_;
  uint64_t pos_ = 0;
  uint64_t max_read_ = 0;
};

// x[batch,4] -> MatMul(W f32[4,600]) + Cast(fp16) + Cast(bf16) -> Gather(int64 idx, axis 1)
// -> Where(bool cond, ., scalar) + ConstantOfShape(tensor attribute) -> Clip(max only).
inline Graph build_test_graph() {
  auto rng = testing::make_rng(42);
  Graph g;
  g.name = "engine_test";
  g.source_opset = 21;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(4)});
  Value* w = g.add_initializer("W", testing::random_tensor(DataType::kFloat32, {4, 600}, rng));
  Value* b16 = g.add_initializer("b16", testing::random_tensor(DataType::kFloat16, {600}, rng));
  Value* bb = g.add_initializer("bb16", testing::random_tensor(DataType::kBFloat16, {600}, rng));
  Value* idx = g.add_initializer("idx", Tensor::from_vector<int64_t>(DataType::kInt64, {3}, {5, 599, 0}));
  Value* cond = g.add_initializer("cond", Tensor::from_vector<uint8_t>(DataType::kBool, {3}, {1, 0, 1}));
  Value* fill = g.add_initializer("fill", Tensor::from_vector<float>(DataType::kFloat32, {}, {-7.0f}));
  Value* cshape = g.add_initializer("cshape", Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {1, 3}));
  Value* lim = g.add_initializer("lim", Tensor::from_vector<float>(DataType::kFloat32, {}, {0.25f}));

  Node* mm = g.add_node("MatMul", "mm", {x, w}, 1, {"mm_out"});
  Node* c16 = g.add_node("Cast", "c16", {b16}, 1, {"c16_out"});
  c16->set_attr("to", int64_t{1});
  Node* cbf = g.add_node("Cast", "cbf", {bb}, 1, {"cbf_out"});
  cbf->set_attr("to", int64_t{1});
  Node* a1 = g.add_node("Add", "a1", {mm->output(0), c16->output(0)}, 1, {"a1_out"});
  Node* a2 = g.add_node("Add", "a2", {a1->output(0), cbf->output(0)}, 1, {"a2_out"});
  Node* ga = g.add_node("Gather", "gather", {a2->output(0), idx}, 1, {"g"});
  ga->set_attr("axis", int64_t{1});
  Node* wh = g.add_node("Where", "where", {cond, ga->output(0), fill}, 1, {"w"});
  Node* cos = g.add_node("ConstantOfShape", "cos", {cshape}, 1, {"k"});
  cos->set_attr("value", Tensor::from_vector<float>(DataType::kFloat32, {1}, {0.5f}));
  Node* s = g.add_node("Add", "s", {wh->output(0), cos->output(0)}, 1, {"s"});
  Node* clip = g.add_node("Clip", "clip", {s->output(0), nullptr, lim}, 1, {"out"});
  clip->set_attr("note", std::string("kept"));
  clip->set_attr("ints", std::vector<int64_t>{1, -2, 3});
  clip->set_attr("floats", std::vector<float>{0.5f});
  clip->set_attr("strs", std::vector<std::string>{"a", ""});
  clip->set_attr("f", 1.5f);
  g.add_output(clip->output(0));
  g.add_output(ga->output(0));
  return g;
}

// The test graph plus 1 MiB of float weights (x2 [batch,64] -> MatMul W1 [64,2048] -> MatMul W2
// [2048,64] -> y2): many 4 KiB chunks beside the int64, bool, fp16, bf16 weights and the tensor
// attribute.
inline Graph build_weighted_test_graph(uint64_t seed) {
  auto rng = testing::make_rng(seed);
  Graph g = build_test_graph();
  Value* x2 = g.add_input("x2", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(64)});
  Value* w1 = g.add_initializer("W1", testing::random_tensor(DataType::kFloat32, {64, 2048}, rng));
  Value* w2 = g.add_initializer("W2", testing::random_tensor(DataType::kFloat32, {2048, 64}, rng));
  Node* m1 = g.add_node("MatMul", "m1", {x2, w1}, 1, {"m1_out"});
  Node* m2 = g.add_node("MatMul", "m2", {m1->output(0), w2}, 1, {"y2"});
  g.add_output(m2->output(0));
  return g;
}

inline EngineOptions test_options() {
  EngineOptions o;
  o.precision = Precision::kFp16;
  o.tf32 = true;
  o.target = "sm_90";
  o.chunk_size = 4096;
  o.profiles = {OptimizationProfile{{InputProfile{"x", {1, 4}, {2, 4}, {8, 4}}}},
                OptimizationProfile{{InputProfile{"x", {4, 4}, {16, 4}, {64, 4}}}}};
  o.memory_plans = {EngineMemoryPlan{8192, {EnginePlannedBuffer{12, 256, 1024}}}, EngineMemoryPlan{0, {}}};
  return o;
}

inline std::vector<uint8_t> write_to_bytes(const Graph& g, const EngineOptions& o) {
  std::stringstream ss;
  Status s = write_engine(g, o, ss);
  EXPECT_TRUE(s.ok()) << s.to_string();
  const std::string str = ss.str();
  return std::vector<uint8_t>(str.begin(), str.end());
}

inline uint64_t get_u64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
inline void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }
inline void put_u16(std::vector<uint8_t>& b, size_t at, uint16_t v) { std::memcpy(b.data() + at, &v, 2); }

// Recomputes the header's own hash (bytes [0,120) -> 120).
inline void rehash_header(std::vector<uint8_t>& b) { put_u64(b, 120, engine::xxh3_64(b.data(), 120)); }
// Recomputes the metadata hash from the header's offset/size, then the header hash.
inline void rehash_metadata(std::vector<uint8_t>& b) {
  const uint64_t off = get_u64(b, 32), size = get_u64(b, 40);
  put_u64(b, 80, engine::xxh3_64(b.data() + off, size));
  rehash_header(b);
}

// TMPDIR/slimrt_PREFIX_PID_NAME: a file name of this test process (ctest runs tests in parallel).
inline std::string temp_path(const std::string& prefix, const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("slimrt_" + prefix + "_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace slimrt::engine_test
