// Engine file format: write -> parse -> rebuild -> run on the CPU backend, and the layout rules
// of include/slimrt/engine_format.h. Robustness (bad files) is in engine_robustness_test.cpp.
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "engine_test_util.h"
#include "slimrt/backend.h"
#include "slimrt/builder/engine_writer.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using engine_test::ByteReader;
using engine_test::build_test_graph;
using engine_test::test_options;
using engine_test::write_to_bytes;

std::vector<NamedTensor> run_cpu(const Graph& g, const std::vector<NamedTensor>& inputs) {
  auto be = create_backend("cpu");
  EXPECT_TRUE(be.ok());
  auto exe = (*be)->prepare(g);
  EXPECT_TRUE(exe.ok()) << exe.status().to_string();
  std::vector<NamedTensor> outs;
  RunOptions ro;
  ro.poison_outputs = true;
  Status s = (*exe)->run(inputs, &outs, ro);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return outs;
}

void expect_bitwise_equal(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.bytes()), 0);
}

TEST(EngineFormat, RoundTripRunsIdenticallyOnCpu) {
  Graph original = build_test_graph();
  ASSERT_TRUE(infer_shapes(original).ok());
  const std::vector<uint8_t> bytes = write_to_bytes(original, test_options());

  ByteReader reader(bytes);
  Result<EngineInfo> info = parse_engine(reader);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(reader.position(), info->header.weights_offset);
  Result<Graph> loaded = read_engine_graph(reader, *info);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();

  // Structure: same values (names, dtypes, symbolic shapes), nodes, inputs and outputs.
  const auto ov = original.values(), lv = loaded->values();
  ASSERT_EQ(ov.size(), lv.size());
  for (const Value* o : ov) {
    const Value* l = loaded->find_value(o->name());
    ASSERT_NE(l, nullptr) << o->name();
    EXPECT_EQ(l->dtype(), o->dtype()) << o->name();
    ASSERT_EQ(l->has_shape(), o->has_shape()) << o->name();
    if (o->has_shape()) {
      EXPECT_EQ(shape_to_string(l->shape()), shape_to_string(o->shape())) << o->name();
    }
    ASSERT_EQ(l->constant() != nullptr, o->constant() != nullptr) << o->name();
    if (o->constant()) expect_bitwise_equal(*l->constant(), *o->constant());
  }
  ASSERT_EQ(loaded->num_nodes(), original.num_nodes());
  const auto on = original.nodes(), ln = loaded->nodes();
  for (size_t i = 0; i < on.size(); ++i) {
    EXPECT_EQ(ln[i]->op_type(), on[i]->op_type());
    EXPECT_EQ(ln[i]->name(), on[i]->name());
    ASSERT_EQ(ln[i]->num_inputs(), on[i]->num_inputs());
    for (size_t j = 0; j < on[i]->num_inputs(); ++j) {
      ASSERT_EQ(ln[i]->input(j) == nullptr, on[i]->input(j) == nullptr);
      if (on[i]->input(j)) {
        EXPECT_EQ(ln[i]->input(j)->name(), on[i]->input(j)->name());
      }
    }
    EXPECT_EQ(ln[i]->attributes().size(), on[i]->attributes().size());
  }
  const Node* cos = loaded->find_value("k")->producer();
  ASSERT_NE(cos, nullptr);
  ASSERT_NE(cos->attr_tensor("value"), nullptr);
  EXPECT_EQ(cos->attr_tensor("value")->data<float>()[0], 0.5f);
  EXPECT_EQ(loaded->find_value("g")->producer()->attr_int("axis", 0), 1);
  EXPECT_EQ(loaded->find_value("x")->shape()[0].as_symbol(), std::optional<std::string>("batch"));
  ASSERT_EQ(loaded->inputs().size(), 1u);
  ASSERT_EQ(loaded->outputs().size(), 2u);
  EXPECT_EQ(loaded->outputs()[0]->name(), "out");

  // Same outputs, bit for bit, for two batch sizes (the input dim is symbolic).
  for (int64_t batch : {1, 3}) {
    auto rng = testing::make_rng(static_cast<uint64_t>(batch));
    const std::vector<NamedTensor> inputs = {{"x", testing::random_tensor(DataType::kFloat32, {batch, 4}, rng)}};
    const auto expected = run_cpu(original, inputs);
    const auto actual = run_cpu(*loaded, inputs);
    ASSERT_EQ(expected.size(), 2u);
    ASSERT_EQ(actual.size(), 2u);
    for (size_t i = 0; i < 2; ++i) expect_bitwise_equal(actual[i].tensor, expected[i].tensor);
  }
}

TEST(EngineFormat, LayoutAndInfoFields) {
  Graph g = build_test_graph();
  EngineOptions opts = test_options();
  const std::vector<uint8_t> bytes = write_to_bytes(g, opts);
  ByteReader reader(bytes);
  Result<EngineInfo> info = parse_engine(reader);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  const EngineHeader& h = info->header;

  EXPECT_EQ(std::memcmp(bytes.data(), "SLIMRTEN", 8), 0);
  EXPECT_EQ(h.format_major, kEngineFormatMajor);
  EXPECT_EQ(h.header_size, kEngineHeaderSize);
  EXPECT_EQ(h.metadata_offset, kEngineHeaderSize);
  EXPECT_EQ(h.weights_offset % 4096, 0u);
  EXPECT_GE(h.weights_offset, h.metadata_offset + h.metadata_size);
  EXPECT_LT(h.weights_offset - (h.metadata_offset + h.metadata_size), 4096u);
  EXPECT_EQ(h.weights_size % 4096, 0u);
  EXPECT_EQ(h.file_size, bytes.size());
  EXPECT_EQ(h.chunk_size, 4096u);
  EXPECT_EQ(h.num_chunks, (h.weights_size + 4095) / 4096);
  EXPECT_GE(h.num_chunks, 3u);  // W alone is 9600 bytes
  EXPECT_EQ(info->chunk_hashes.size(), h.num_chunks);
  EXPECT_EQ(h.target, "sm_90");
  EXPECT_EQ(h.precision, Precision::kFp16);
  EXPECT_TRUE(h.tf32);
  EXPECT_EQ(info->options.target, "sm_90");
  EXPECT_EQ(info->slimrt_version, "0.1.0");
  EXPECT_EQ(info->graph_name, "engine_test");

  // Weights: one per initializer + the ConstantOfShape attribute, 256-aligned, in order.
  ASSERT_EQ(info->weights.size(), 9u);
  uint64_t prev_end = 0;
  for (const EngineWeight& w : info->weights) {
    EXPECT_EQ(w.offset % 256, 0u) << w.name;
    EXPECT_GE(w.offset, prev_end) << w.name;
    EXPECT_EQ(w.size, static_cast<uint64_t>(numel_of(w.shape)) * dtype_size(w.dtype)) << w.name;
    prev_end = w.offset + w.size;
  }
  EXPECT_LE(prev_end, h.weights_size);
  EXPECT_EQ(info->weights.back().name, "cos.value");
  // The bytes in the region are the tensor's bytes.
  const EngineWeight& wb = info->weights[1];
  EXPECT_EQ(wb.name, "b16");
  EXPECT_EQ(wb.dtype, DataType::kFloat16);
  const Tensor* b16 = g.find_value("b16")->constant();
  EXPECT_EQ(std::memcmp(bytes.data() + h.weights_offset + wb.offset, b16->raw(), b16->bytes()), 0);

  // Profiles and memory plans round trip.
  ASSERT_EQ(info->options.profiles.size(), 2u);
  const InputProfile& p = info->options.profiles[1].inputs.at(0);
  EXPECT_EQ(p.name, "x");
  EXPECT_EQ(p.min, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(p.opt, (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(p.max, (std::vector<int64_t>{64, 4}));
  ASSERT_EQ(info->options.memory_plans.size(), 2u);
  EXPECT_EQ(info->options.memory_plans[0].arena_bytes, 8192u);
  ASSERT_EQ(info->options.memory_plans[0].buffers.size(), 1u);
  EXPECT_EQ(info->options.memory_plans[0].buffers[0].offset, 256u);
  EXPECT_EQ(info->options.memory_plans[0].buffers[0].size, 1024u);

  // Graph structure in the info, by value index.
  ASSERT_EQ(info->inputs.size(), 1u);
  EXPECT_EQ(info->values[static_cast<size_t>(info->inputs[0])].name, "x");
  bool saw_absent_input = false;
  for (const EngineNode& n : info->nodes) {
    if (n.op_type == "Clip") saw_absent_input = n.inputs.size() == 3 && n.inputs[1] == -1;
  }
  EXPECT_TRUE(saw_absent_input);

  // verify_engine agrees, and writing is deterministic.
  ByteReader again(bytes);
  EXPECT_TRUE(verify_engine(again).ok());
  EXPECT_EQ(write_to_bytes(g, opts), bytes);
}

TEST(EngineFormat, WritesToPathAndReadsBack) {
  Graph g = build_test_graph();
  const std::string path = ::testing::TempDir() + "/slimrt_engine_format_test.engine";
  ASSERT_TRUE(write_engine(g, test_options(), path).ok());
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, write_to_bytes(g, test_options()));
  std::ifstream partial(path + ".partial");
  EXPECT_FALSE(partial.good()) << "the temporary file should be renamed away";
  std::remove(path.c_str());

  Status s = write_engine(g, test_options(), "/nonexistent-dir/x.engine");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);  // a missing directory is bad input (core/output_file.h)
  EXPECT_NE(s.message().find("/nonexistent-dir/x.engine"), std::string::npos) << s.message();
}

TEST(EngineFormat, GraphWithoutWeightsAndStreamingReader) {
  Graph g;
  g.name = "tiny";
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("n")});
  Node* r = g.add_node("Relu", "relu", {x}, 1, {"y"});
  g.add_output(r->output(0));
  EngineOptions opts;
  const std::vector<uint8_t> bytes = write_to_bytes(g, opts);
  EXPECT_EQ(bytes.size() % 4096, 0u);

  // A pipe-like reader: no size, no seeking back.
  ByteReader stream(bytes, /*seekable=*/false, /*known_size=*/false);
  Result<EngineInfo> info = parse_engine(stream);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->header.weights_size, 0u);
  EXPECT_EQ(info->header.num_chunks, 0u);
  Result<Graph> loaded = read_engine_graph(stream, *info);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  Tensor in = Tensor::from_vector<float>(DataType::kFloat32, {3}, {-1.0f, 2.0f, -0.0f});
  const auto out = run_cpu(*loaded, {{"x", in}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tensor.data<float>()[1], 2.0f);
  EXPECT_EQ(out[0].tensor.data<float>()[0], 0.0f);
}

TEST(EngineFormat, StreamingReaderLoadsWeightsFrontToBack) {
  Graph g = build_test_graph();
  const std::vector<uint8_t> bytes = write_to_bytes(g, test_options());
  ByteReader stream(bytes, /*seekable=*/false, /*known_size=*/false);
  Result<EngineInfo> info = parse_engine(stream);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  Result<Graph> loaded = read_engine_graph(stream, *info);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  expect_bitwise_equal(*loaded->find_value("W")->constant(), *g.find_value("W")->constant());
  EXPECT_LE(stream.max_read(), 4096u) << "reads are bounded by the chunk size";
}

TEST(EngineFormat, WorksWithTheLoaderReaders) {
  Graph g = build_test_graph();
  const std::vector<uint8_t> bytes = write_to_bytes(g, test_options());
  auto span = make_span_reader(std::as_bytes(std::span<const uint8_t>(bytes)), "engine bytes");
  Result<EngineInfo> info = verify_engine(*span);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  Result<Graph> loaded = read_engine_graph(*span, *info);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  expect_bitwise_equal(*loaded->find_value("idx")->constant(), *g.find_value("idx")->constant());
}

TEST(EngineFormat, ChunkSizesThatDoNotDivideTheRegion) {
  Graph g = build_test_graph();
  for (uint64_t chunk : {uint64_t{8192}, uint64_t{12288}, kEngineDefaultChunkSize}) {
    SCOPED_TRACE("chunk size " + std::to_string(chunk));
    EngineOptions o = test_options();
    o.chunk_size = chunk;
    std::vector<uint8_t> bytes = write_to_bytes(g, o);
    ByteReader reader(bytes);
    Result<EngineInfo> info = parse_engine(reader);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    const EngineHeader& h = info->header;
    EXPECT_EQ(h.num_chunks, (h.weights_size + chunk - 1) / chunk);
    Result<Graph> loaded = read_engine_graph(reader, *info);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    expect_bitwise_equal(*loaded->find_value("W")->constant(), *g.find_value("W")->constant());
    expect_bitwise_equal(*loaded->find_value("cond")->constant(), *g.find_value("cond")->constant());

    // The last (shorter) chunk is covered too.
    bytes.back() ^= 0x40;
    ByteReader damaged(bytes);
    Result<EngineInfo> again = verify_engine(damaged);
    EXPECT_EQ(again.status().code(), StatusCode::kDataLoss);
    const uint64_t last = h.num_chunks - 1;
    const uint64_t last_size = h.weights_size - last * chunk;
    EXPECT_NE(again.status().message().find("weights chunk " + std::to_string(last) + " of " +
                                            std::to_string(h.num_chunks) + " (file offset " +
                                            std::to_string(h.weights_offset + last * chunk) + ", " +
                                            std::to_string(last_size) + " bytes)"),
              std::string::npos)
        << again.status().message();
  }
}

TEST(EngineFormat, WriterRejectsBadOptions) {
  Graph g = build_test_graph();
  std::stringstream ss;
  EngineOptions o = test_options();
  o.chunk_size = 1000;
  Status s = write_engine(g, o, ss);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("chunk size 1000"), std::string::npos) << s.message();
  o = test_options();
  o.target = "a_target_name_that_is_too_long";
  EXPECT_EQ(write_engine(g, o, ss).code(), StatusCode::kInvalidArgument);
  o = test_options();
  o.profiles[0].inputs[0].name = "nope";
  s = write_engine(g, o, ss);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'nope'"), std::string::npos) << s.message();
  o = test_options();
  o.memory_plans.pop_back();
  EXPECT_EQ(write_engine(g, o, ss).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace slimrt
