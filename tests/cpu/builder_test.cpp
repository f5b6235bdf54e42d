// build_engine: profiles, plans in the engine, and build -> load -> run equal to running the ONNX.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/npy.h"
#include "support/model_cache.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

const std::string& temp_dir() { return testing::process_temp_dir(SLIMRT_BINARY_DIR, "builder"); }

std::string tinynet() { return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx"; }

using testing::model_cache;


struct LoadedEngine {
  EngineInfo info;
  Graph graph;
};

Result<LoadedEngine> load(const std::string& path) {
  SLIMRT_ASSIGN_OR_RETURN(auto reader, open_file_reader(path));
  LoadedEngine e;
  SLIMRT_ASSIGN_OR_RETURN(e.info, parse_engine(*reader));
  SLIMRT_ASSIGN_OR_RETURN(e.graph, read_engine_graph(*reader, e.info));
  return e;
}

// Engine outputs must be bit-identical to the ONNX run (no passes run: same graph, same kernels).
void expect_same_outputs(const std::string& onnx, const std::string& engine, const std::vector<NamedTensor>& feeds,
                         bool bit_exact) {
  Result<Graph> g = import_onnx_file(onnx);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  Result<std::vector<NamedTensor>> want = testing::run_on_cpu(*g, feeds);
  ASSERT_TRUE(want.ok()) << want.status().to_string();
  Result<LoadedEngine> e = load(engine);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  Result<std::vector<NamedTensor>> got = testing::run_on_cpu(e->graph, feeds);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(want->size(), got->size());
  for (size_t i = 0; i < want->size(); ++i) {
    const Tensor& a = (*want)[i].tensor;
    const Tensor& b = (*got)[i].tensor;
    EXPECT_EQ((*want)[i].name, (*got)[i].name);
    ASSERT_EQ(a.shape(), b.shape());
    ASSERT_EQ(a.dtype(), b.dtype());
    if (bit_exact) {
      EXPECT_EQ(std::memcmp(a.data<uint8_t>(), b.data<uint8_t>(), a.bytes()), 0) << (*want)[i].name;
    } else {
      EXPECT_LE(testing::rel_l2(b, a), 1e-6) << (*want)[i].name;
    }
  }
}

TEST(BuilderProfiles, ParsesPositionalGroups) {
  auto p = parse_profile_args({"x:1x16", "y:2", "x:8x16"}, {"x:1x64", "y:3", "x:8x64"}, {"x:1x128", "y:4", "x:8x128"});
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  ASSERT_EQ(p->size(), 2u);
  ASSERT_EQ((*p)[0].inputs.size(), 2u);
  EXPECT_EQ((*p)[0].inputs[0].name, "x");
  EXPECT_EQ((*p)[0].inputs[0].max, (std::vector<int64_t>{1, 128}));
  EXPECT_EQ((*p)[0].inputs[1].opt, (std::vector<int64_t>{3}));
  ASSERT_EQ((*p)[1].inputs.size(), 1u);
  EXPECT_EQ((*p)[1].inputs[0].min, (std::vector<int64_t>{8, 16}));
}

TEST(BuilderProfiles, RejectsBadArguments) {
  auto bad_syntax = parse_profile_args({"x:1xfoo"}, {"x:1"}, {"x:1"});
  ASSERT_FALSE(bad_syntax.ok());
  EXPECT_EQ(bad_syntax.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_syntax.status().message().find("not a shape"), std::string::npos) << bad_syntax.status().to_string();
  auto no_name = parse_profile_args({"1x2"}, {"x:1x2"}, {"x:1x2"});
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("NAME:DIMS"), std::string::npos);
  auto missing = parse_profile_args({"x:1", "x:2"}, {}, {"x:2"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("2 --min, 0 --opt and 1 --max"), std::string::npos)
      << missing.status().to_string();
  // A list not given is left for resolve_profiles to choose.
  auto partial = parse_profile_args({"x:1"}, {}, {"x:2"});
  ASSERT_TRUE(partial.ok()) << partial.status().to_string();
  EXPECT_EQ((*partial)[0].inputs[0].opt, (std::vector<int64_t>{kProfileDimUnset}));
  auto order = parse_profile_args({"x:4x2"}, {"x:2x2"}, {"x:8x2"});
  ASSERT_FALSE(order.ok());
  EXPECT_NE(order.status().message().find("min <= opt <= max, got 4 / 2 / 8"), std::string::npos)
      << order.status().to_string();
  auto rank = parse_profile_args({"x:1"}, {"x:1x2"}, {"x:1x2"});
  ASSERT_FALSE(rank.ok());
  EXPECT_NE(rank.status().message().find("different ranks"), std::string::npos);
}

Graph two_input_graph() {
  Graph g;
  Value* a = g.add_input("a", DataType::kFloat32, Shape{Dim::symbol("n"), Dim(4)});
  Value* b = g.add_input("b", DataType::kFloat32, Shape{Dim::symbol("n"), Dim(4)});
  Node* add = g.add_node("Add", "add", {a, b}, 1, {"y"});
  g.add_output(add->output(0));
  EXPECT_TRUE(infer_shapes(g).ok());
  return g;
}

TEST(BuilderProfiles, ResolveBindsSymbolsAndFindsConflicts) {
  Graph g = two_input_graph();
  std::vector<OptimizationProfile> none;
  ProfileChoices choices;
  auto no_profile = resolve_profiles(g, &none, &choices);  // the default profile: n = 1
  ASSERT_TRUE(no_profile.ok()) << no_profile.status().to_string();
  EXPECT_EQ((*no_profile)[0].at("n"), 1);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].inputs[1].max, (std::vector<int64_t>{1, 4}));
  ASSERT_EQ(choices.notes.size(), 2u);
  EXPECT_NE(choices.notes[0].find("input 'a' [n,4] is not in the profile"), std::string::npos) << choices.notes[0];

  auto ok_profiles = parse_profile_args({"a:1x4", "b:1x4"}, {"a:2x4", "b:2x4"}, {"a:8x4", "b:8x4"});
  ASSERT_TRUE(ok_profiles.ok());
  auto bindings = resolve_profiles(g, &*ok_profiles);
  ASSERT_TRUE(bindings.ok()) << bindings.status().to_string();
  EXPECT_EQ((*bindings)[0].at("n"), 8);

  auto conflict = parse_profile_args({"a:1x4", "b:1x4"}, {"a:2x4", "b:2x4"}, {"a:8x4", "b:6x4"});
  ASSERT_TRUE(conflict.ok());
  auto c = resolve_profiles(g, &*conflict);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("symbol 'n' is bound to 8 and to 6"), std::string::npos) << c.status().to_string();

  auto partial = parse_profile_args({"a:1x4"}, {"a:2x4"}, {"a:8x4"});
  ASSERT_TRUE(partial.ok());
  auto pr = resolve_profiles(g, &*partial);  // b follows a's n
  ASSERT_TRUE(pr.ok()) << pr.status().to_string();
  EXPECT_EQ((*partial)[0].inputs[1].min, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ((*partial)[0].inputs[1].opt, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ((*partial)[0].inputs[1].max, (std::vector<int64_t>{8, 4}));

  auto stat = parse_profile_args({"a:1x5", "b:1x4"}, {"a:1x5", "b:1x4"}, {"a:1x5", "b:1x4"});
  ASSERT_TRUE(stat.ok());
  auto sr = resolve_profiles(g, &*stat);
  ASSERT_FALSE(sr.ok());
  EXPECT_NE(sr.status().message().find("does not match its static shape"), std::string::npos) << sr.status().to_string();

  auto unknown = parse_profile_args({"zz:1"}, {"zz:1"}, {"zz:1"});
  ASSERT_TRUE(unknown.ok());
  auto ur = resolve_profiles(g, &*unknown);
  ASSERT_FALSE(ur.ok());
  EXPECT_NE(ur.status().message().find("'zz', which is not a graph input"), std::string::npos);
}

TEST(BuilderProfiles, FitAndDescribe) {
  OptimizationProfile p{{{"x", {1, 3}, {4, 3}, {8, 3}}}};
  EXPECT_TRUE(shapes_fit_profile(p, {{"x", {1, 3}}}));
  EXPECT_TRUE(shapes_fit_profile(p, {{"x", {8, 3}}}));
  EXPECT_FALSE(shapes_fit_profile(p, {{"x", {9, 3}}}));
  EXPECT_FALSE(shapes_fit_profile(p, {{"x", {4, 2}}}));
  EXPECT_FALSE(shapes_fit_profile(p, {{"x", {4}}}));
  EXPECT_EQ(profile_ranges_to_string(p), "x: [1x3 .. 8x3]");
}

TEST(Builder, TinynetBuildLoadRunMatchesOnnx) {
  BuildOptions o;
  auto profiles = parse_profile_args({"image:1x3x64x64", "image:9x3x64x64"}, {"image:4x3x64x64", "image:12x3x64x64"},
                                     {"image:8x3x64x64", "image:16x3x64x64"});
  ASSERT_TRUE(profiles.ok());
  o.profiles = *profiles;
  std::vector<std::string> stages;
  o.progress = [&](std::string_view s, double) { stages.emplace_back(s); };
  const std::string path = temp_dir() + "/tinynet.engine";
  BuildReport r;
  Status s = build_engine(tinynet(), o, path, &r);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(stages.front(), "import");
  EXPECT_EQ(stages.back(), "done");
  EXPECT_TRUE(r.passes_run);
  EXPECT_EQ(r.nodes_imported, 17);
  // The 4 BatchNormalizations fold into their Convs, whose ReLUs and residual Add fuse in.
  EXPECT_EQ(r.layers, 8);
  EXPECT_EQ(r.op_counts.at("FusedConv"), 4);
  EXPECT_EQ(r.op_counts.count("BatchNormalization"), 0u);
  EXPECT_GT(r.weight_bytes, 0u);
  EXPECT_EQ(r.weights_region_bytes % 4096, 0u);
  EXPECT_EQ(r.engine_bytes, fs::file_size(path));
  ASSERT_EQ(r.memory.size(), 2u);
  EXPECT_EQ(r.memory[0].symbols.at("batch"), 8);
  EXPECT_EQ(r.memory[1].symbols.at("batch"), 16);
  for (const ProfileMemoryReport& m : r.memory) {
    EXPECT_GE(m.planned_bytes, m.lower_bound_bytes);
    EXPECT_LE(m.planned_bytes, m.sum_bytes);
  }
  EXPECT_GT(r.memory[1].planned_bytes, r.memory[0].planned_bytes);

  Result<LoadedEngine> e = load(path);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  ASSERT_EQ(e->info.options.profiles.size(), 2u);
  ASSERT_EQ(e->info.options.memory_plans.size(), 2u);
  EXPECT_EQ(e->info.options.memory_plans[0].arena_bytes, static_cast<uint64_t>(r.memory[0].planned_bytes));
  EXPECT_EQ(e->info.options.profiles[1].inputs[0].opt, (std::vector<int64_t>{12, 3, 64, 64}));
  // Plan buffers name values by Graph::values() index: they must be activations of the right size.
  for (const EnginePlannedBuffer& b : e->info.options.memory_plans[0].buffers) {
    ASSERT_LT(b.value, e->info.values.size());
    EXPECT_EQ(e->info.values[b.value].weight, -1);
    EXPECT_LE(b.offset + b.size, e->info.options.memory_plans[0].arena_bytes);
  }

  std::mt19937_64 rng(7);
  for (int64_t batch : {1, 3, 16}) {
    SCOPED_TRACE(batch);
    expect_same_outputs(tinynet(), path, {{"image", testing::random_tensor(DataType::kFloat32, {batch, 3, 64, 64}, rng)}},
                        /*bit_exact=*/!r.passes_run);
  }
}

TEST(Builder, WithoutPassesTheEngineIsBitIdentical) {
  BuildOptions o;
  o.run_passes = false;
  auto profiles = parse_profile_args({"image:1x3x64x64"}, {"image:2x3x64x64"}, {"image:5x3x64x64"});
  ASSERT_TRUE(profiles.ok());
  o.profiles = *profiles;
  const std::string path = temp_dir() + "/tinynet_nopass.engine";
  BuildReport r;
  ASSERT_TRUE(build_engine(tinynet(), o, path, &r).ok());
  EXPECT_FALSE(r.passes_run);
  EXPECT_EQ(r.layers, 17);
  std::mt19937_64 rng(11);
  expect_same_outputs(tinynet(), path, {{"image", testing::random_tensor(DataType::kFloat32, {5, 3, 64, 64}, rng)}},
                      /*bit_exact=*/true);
}

TEST(Builder, ErrorsAreReported) {
  const std::string path = temp_dir() + "/err.engine";
  BuildOptions o;
  o.profiles = {{{{"image", {2, 3, 64, 64}, {1, 3, 64, 64}, {4, 3, 64, 64}}}}};
  Status order = build_engine(tinynet(), o, path);
  EXPECT_EQ(order.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(order.message().find("need min <= opt <= max, got 2 / 1 / 4"), std::string::npos) << order.to_string();
  o.profiles.clear();
  o.target = "volta";
  EXPECT_EQ(build_engine(tinynet(), o, path).code(), StatusCode::kInvalidArgument);
  o.target = "any";
  Status missing = build_engine("/nonexistent/model.onnx", o, path);
  EXPECT_FALSE(missing.ok());
  EXPECT_TRUE(missing.is_user_error()) << missing.to_string();
}

TEST(Builder, TargetAndTf32AreRecorded) {
  BuildOptions o;
  o.target = "sm_90";
  o.tf32 = true;
  auto profiles = parse_profile_args({"image:2x3x64x64"}, {"image:2x3x64x64"}, {"image:2x3x64x64"});
  ASSERT_TRUE(profiles.ok());
  o.profiles = *profiles;
  const std::string path = temp_dir() + "/sm90.engine";
  ASSERT_TRUE(build_engine(tinynet(), o, path).ok());
  auto reader = open_file_reader(path);
  ASSERT_TRUE(reader.ok());
  auto h = parse_engine_header(**reader);
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  EXPECT_EQ(h->target, "sm_90");
  EXPECT_TRUE(h->tf32);
  auto other = parse_engine(**reader, {.expected_target = "sm_80"});
  EXPECT_EQ(other.status().code(), StatusCode::kUnsupported);
}

// The exported models of the foundation issue, with their recorded inputs; skipped when absent.
class BuilderModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BuilderModelTest, EngineMatchesOnnx) {
  const std::string dir = model_cache() + "/" + GetParam();
  const std::string onnx = dir + "/model.onnx";
  if (model_cache().empty() || !fs::exists(onnx)) GTEST_SKIP() << "no " << onnx << " (set SLIMRT_MODEL_CACHE)";
  Result<Graph> g = import_onnx_file(onnx);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  std::vector<NamedTensor> feeds;
  std::vector<std::string> mins, opts, maxs;
  for (const Value* in : g->inputs()) {
    Result<Tensor> t = read_npy(dir + "/input_" + in->name() + ".npy");
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    std::vector<int64_t> shape = t->shape();
    auto text = [](const std::vector<int64_t>& d) {
      std::string s;
      for (int64_t x : d) s += (s.empty() ? "" : "x") + std::to_string(x);
      return s;
    };
    std::vector<int64_t> big = shape;
    for (size_t d = 0; d < big.size(); ++d) {
      if (!in->shape()[d].is_static()) big[d] *= 2;  // every symbolic dim may double
    }
    mins.push_back(in->name() + ":" + text(shape));
    opts.push_back(in->name() + ":" + text(shape));
    maxs.push_back(in->name() + ":" + text(big));
    feeds.push_back({in->name(), std::move(t).value()});
  }
  BuildOptions o;
  auto profiles = parse_profile_args(mins, opts, maxs);
  ASSERT_TRUE(profiles.ok()) << profiles.status().to_string();
  o.profiles = *profiles;
  const std::string path = temp_dir() + "/" + GetParam() + ".engine";
  BuildReport r;
  Status s = build_engine(onnx, o, path, &r);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(r.memory.size(), 1u);
  EXPECT_LE(static_cast<double>(r.memory[0].planned_bytes), 1.10 * static_cast<double>(r.memory[0].lower_bound_bytes));
  expect_same_outputs(onnx, path, feeds, /*bit_exact=*/!r.passes_run);
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Models, BuilderModelTest, ::testing::Values("resnet18", "bert_tiny", "llama_tiny"));

}  // namespace
}  // namespace slimrt
