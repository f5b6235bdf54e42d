// I/O formats (slimrt/builder/io_formats.h): parsing, the refusals, and engines built with
// --input-format / --normalize / --output-format that the CPU backend runs. Every engine is built
// from models/tinynet.onnx, loaded, and run on a fresh random input in the bound format (outputs
// poisoned); the reference is the unconverted ONNX model run on the same data converted in the
// test, in double, to the model's float32 NCHW.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "ir/input_convert.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/io_formats.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/runtime.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::count_op;
using testing::make_rng;
using testing::rel_l2;

const std::string& temp_dir() { return testing::process_temp_dir(SLIMRT_BINARY_DIR, "io_formats"); }
std::string tinynet() { return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx"; }

const std::vector<float> kMean = {0.485f, 0.456f, 0.406f};
const std::vector<float> kStd = {0.229f, 0.224f, 0.225f};

// ---- parsing ----------------------------------------------------------------------------------

TEST(IoFormatArgs, ParsesFormatsAndNormalization) {
  auto r = parse_io_format_args({"image:uint8:nhwc", "in:put:0:FP16"}, {"probs:fp16"},
                                {"image:mean=0.485,0.456,0.406:std=0.229,0.224,0.225:scale=1/255"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 3u);
  const IoFormatRequest& image = (*r)[0];
  EXPECT_EQ(image.name, "image");
  EXPECT_EQ(image.dtype, DataType::kUInt8);
  EXPECT_TRUE(image.channels_last);
  EXPECT_EQ(image.mean, kMean);
  EXPECT_EQ(image.stddev, kStd);
  ASSERT_TRUE(image.scale.has_value());
  EXPECT_FLOAT_EQ(*image.scale, 1.0f / 255.0f);
  EXPECT_EQ((*r)[1].name, "in:put:0");  // a name with ':' keeps them: options are the trailing fields
  EXPECT_EQ((*r)[1].dtype, DataType::kFloat16);
  EXPECT_FALSE((*r)[1].channels_last);
  EXPECT_EQ((*r)[2].direction, IoDirection::kOutput);
  EXPECT_EQ((*r)[2].dtype, DataType::kFloat16);
  // --normalize alone makes a request with the model's dtype and layout.
  auto alone = parse_io_format_args({}, {}, {"x:mean=0.5:std=0.25"});
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ((*alone)[0].dtype, DataType::kUndefined);
  EXPECT_FALSE((*alone)[0].scale.has_value());
}

TEST(IoFormatArgs, RefusesBadArguments) {
  struct Case {
    std::vector<std::string> in, out, norm;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"image:int8"}, {}, {}, "expected NAME:FORMAT"},
      {{"uint8"}, {}, {}, "expected NAME:FORMAT"},
      {{":uint8"}, {}, {}, "the tensor name is empty"},
      {{"image:uint8:fp16"}, {}, {}, "two dtypes"},
      {{"image:nhwc:nchw"}, {}, {}, "two layouts"},
      {{"image:uint8", "image:fp16"}, {}, {}, "input 'image' is given a format twice"},
      {{}, {"y:fp16", "y:fp32"}, {}, "output 'y' is given a format twice"},
      {{}, {}, {"image:mean=0.5"}, "give both mean= and std="},
      {{}, {}, {"image:mean=0.5:std=abc"}, "std= holds 'abc'"},
      {{}, {}, {"image:mean=0.5:std=1/0"}, "std= holds '1/0'"},
      {{}, {}, {"image:mean=1:std=1:scale=1,2"}, "scale= takes one number"},
      {{}, {}, {"image:mean=1:std=1", "image:mean=2:std=1"}, "input 'image' is normalized twice"},
  };
  for (const Case& c : cases) {
    auto r = parse_io_format_args(c.in, c.out, c.norm);
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message();
  }
}

// ---- refusals on a graph ------------------------------------------------------------------------

// image [batch,3,5,7] -> Conv -> y;  ids [batch,4] (int64) -> Cast -> idsf;  vec [batch,6] -> Relu -> v;
// also: `image` passes through as the output "passthru" when asked.
Graph small_graph(bool passthrough = false) {
  auto rng = make_rng(7);
  Graph g;
  Value* x = g.add_input("image", DataType::kFloat32, Shape{Dim::symbol("batch"), 3, 5, 7});
  Value* ids = g.add_input("ids", DataType::kInt64, Shape{Dim::symbol("batch"), 4});
  Value* vec = g.add_input("vec", DataType::kFloat32, Shape{Dim::symbol("batch"), 6});
  Value* w = g.add_initializer("w", testing::random_tensor(DataType::kFloat32, {4, 3, 3, 3}, rng));
  Node* conv = g.add_node("Conv", "conv", {x, w}, 1, {"y"});
  conv->set_attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.add_output(conv->output(0));
  Node* cast = g.add_node("Cast", "cast", {ids}, 1, {"idsf"});
  cast->set_attr("to", static_cast<int64_t>(DataType::kFloat32));
  g.add_output(cast->output(0));
  g.add_output(g.add_node("Relu", "relu", {vec}, 1, {"v"})->output(0));
  if (passthrough) g.add_output(x);
  EXPECT_TRUE(infer_shapes(g).ok());
  return g;
}

IoFormatRequest input_request(const std::string& name, DataType dt, bool nhwc = false) {
  IoFormatRequest r;
  r.name = name;
  r.dtype = dt;
  r.channels_last = nhwc;
  return r;
}

TEST(IoFormats, RefusalsNameTheTensor) {
  struct Case {
    IoFormatRequest request;
    bool passthrough;
    std::string says;
  };
  IoFormatRequest out_u8;
  out_u8.name = "y";
  out_u8.direction = IoDirection::kOutput;
  out_u8.dtype = DataType::kUInt8;
  IoFormatRequest out_missing = out_u8;
  out_missing.name = "nope";
  out_missing.dtype = DataType::kFloat16;
  IoFormatRequest norm4 = input_request("image", DataType::kUInt8);
  norm4.mean = {1, 2, 3, 4};
  norm4.stddev = {1, 1, 1, 1};
  IoFormatRequest zero_std = input_request("image", DataType::kUInt8);
  zero_std.mean = {0};
  zero_std.stddev = {0};
  IoFormatRequest norm_vec = input_request("vec", DataType::kFloat16);
  norm_vec.mean = {1, 2, 3, 4, 5};
  norm_vec.stddev = {1};
  const std::vector<Case> cases = {
      {input_request("ids", DataType::kUInt8), false,
       "input 'ids' (int64 [batch,4]): an input format applies to float inputs only"},
      {input_request("missing", DataType::kUInt8), false, "the model has no input of that name (inputs: image, ids, vec)"},
      {input_request("vec", DataType::kUInt8, true), false, "input 'vec' (float32 [batch,6]): nhwc needs rank >= 3"},
      {input_request("image", DataType::kUInt8), true, "input 'image' (float32 [batch,3,5,7]): it is also a graph output"},
      {norm4, false, "--normalize gives 4 values per list, but the input has 3 channels"},
      {zero_std, false, "--normalize std 0 is not a finite nonzero number"},
      {norm_vec, false, "input 'vec' (float32 [batch,6]): --normalize gives 5 values per list, but the input has 6"},
      {out_u8, false, "output 'y' (float32 [batch,4,5,7]): outputs are given as fp32, fp16 or bf16, not uint8"},
      {out_missing, false, "the model has no output of that name (outputs: y, idsf, v)"},
  };
  for (const Case& c : cases) {
    Graph g = small_graph(c.passthrough);
    IoFormatResult result;
    Status s = apply_io_formats(g, {c.request}, &result);
    ASSERT_FALSE(s.ok()) << c.says;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.message();
  }
  IoFormatRequest int_out;
  int_out.name = "idsf";
  int_out.direction = IoDirection::kOutput;
  int_out.dtype = DataType::kFloat16;
  Graph g = small_graph();
  ASSERT_TRUE(apply_io_formats(g, {int_out}, nullptr).ok());  // idsf is a float output: fine
}

// ---- the rewrite on a graph, run on the CPU ------------------------------------------------------

// The bound input converted to the model's float32 NCHW in double: what the engine must compute.
Tensor to_model(const Tensor& bound, bool nhwc, double scale, const std::vector<float>& mean,
                const std::vector<float>& stddev) {
  const std::vector<int64_t>& d = bound.shape();
  const int64_t n = d[0], c = nhwc ? d[3] : d[1], h = nhwc ? d[1] : d[2], w = nhwc ? d[2] : d[3];
  Tensor out = Tensor::allocate(DataType::kFloat32, {n, c, h, w}).value();
  for (int64_t in = 0; in < n; ++in) {
    for (int64_t ic = 0; ic < c; ++ic) {
      for (int64_t ih = 0; ih < h; ++ih) {
        for (int64_t iw = 0; iw < w; ++iw) {
          const int64_t src = nhwc ? ((in * h + ih) * w + iw) * c + ic : ((in * c + ic) * h + ih) * w + iw;
          const double m = mean.empty() ? 0.0 : mean[mean.size() == 1 ? 0 : static_cast<size_t>(ic)];
          const double s = stddev.empty() ? 1.0 : stddev[stddev.size() == 1 ? 0 : static_cast<size_t>(ic)];
          const double x = bound.get_as_double(src);
          out.data<float>()[((in * c + ic) * h + ih) * w + iw] = static_cast<float>((x * scale - m) / s);
        }
      }
    }
  }
  return out;
}

Tensor random_bound(DataType dt, const std::vector<int64_t>& shape, std::mt19937_64& rng) {
  if (dt == DataType::kUInt8) return testing::random_tensor(dt, shape, rng, 0, 256);
  return testing::random_tensor(dt, shape, rng, -2.0, 2.0);
}

struct Combo {
  DataType dtype;
  bool nhwc, normalize;
  std::string text() const {
    return std::string(dtype_name(dtype)) + (nhwc ? " nhwc" : " nchw") + (normalize ? " normalized" : "");
  }
};

std::vector<Combo> combos() {
  std::vector<Combo> out;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kUInt8}) {
    for (bool nhwc : {false, true}) {
      for (bool norm : {false, true}) out.push_back({dt, nhwc, norm});
    }
  }
  return out;
}

TEST(IoFormats, EveryDtypeLayoutAndNormalizationMatchesTheModel) {
  auto rng = make_rng();
  for (const Combo& c : combos()) {
    SCOPED_TRACE(c.text());
    Graph model = small_graph();
    Graph g = small_graph();
    IoFormatRequest r = input_request("image", c.dtype, c.nhwc);
    if (c.normalize) {
      r.mean = kMean;
      r.stddev = kStd;
    }
    IoFormatResult result;
    ASSERT_TRUE(apply_io_formats(g, {r}, &result).ok());
    ASSERT_TRUE(infer_shapes(g).ok());
    ASSERT_TRUE(finish_io_formats(g, &result).ok());
    const Value* in = g.inputs()[0];
    EXPECT_EQ(in->name(), "image");
    EXPECT_EQ(in->dtype(), c.dtype);
    EXPECT_EQ(shape_to_string(in->shape()), c.nhwc ? "[batch,5,7,3]" : "[batch,3,5,7]");
    const bool converts = c.dtype != DataType::kFloat32 || c.nhwc || c.normalize;
    EXPECT_EQ(count_op(g, "InputConvert"), converts ? 1u : 0u);
    if (converts) {
      ASSERT_TRUE(result.formats.count("image"));
      EXPECT_EQ(result.formats.at("image").channels_last, c.nhwc);
      EXPECT_EQ(result.formats.at("image").model_dtype, DataType::kFloat32);
    }
    const std::vector<int64_t> bound_shape = c.nhwc ? std::vector<int64_t>{2, 5, 7, 3} : std::vector<int64_t>{2, 3, 5, 7};
    Tensor bound = random_bound(c.dtype, bound_shape, rng);
    const double scale = c.normalize && c.dtype == DataType::kUInt8 ? 1.0 / 255.0 : 1.0;
    Tensor converted = to_model(bound, c.nhwc, scale, c.normalize ? kMean : std::vector<float>{},
                                c.normalize ? kStd : std::vector<float>{});
    Tensor ids = testing::random_tensor(DataType::kInt64, {2, 4}, rng, 0, 10);
    Tensor vec = testing::random_tensor(DataType::kFloat32, {2, 6}, rng);
    std::vector<Tensor> want = testing::run_graph(model, {{"image", converted}, {"ids", ids}, {"vec", vec}});
    std::vector<Tensor> got = testing::run_graph(g, {{"image", bound}, {"ids", ids}, {"vec", vec}});
    ASSERT_EQ(want.size(), 3u);
    ASSERT_EQ(got.size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_LE(rel_l2(got[i], want[i]), 1e-6) << g.outputs()[i]->name();
  }
}

// ---- engines built from ONNX, run on the CPU backend ---------------------------------------------

struct Built {
  BuildReport report;
  std::shared_ptr<Engine> engine;
};

Result<Built> build_and_load(const std::string& name, Precision precision, const std::vector<IoFormatRequest>& formats,
                             bool channels_last = true) {
  BuildOptions o;
  o.precision = precision;
  o.channels_last = channels_last;
  o.io_formats = formats;
  const bool nhwc = !formats.empty() && formats[0].channels_last;
  const std::string dims = nhwc ? "x64x64x3" : "x3x64x64";
  SLIMRT_ASSIGN_OR_RETURN(o.profiles, parse_profile_args({"image:1" + dims}, {"image:2" + dims},
                                                         {"image:2" + dims}));
  Built b;
  const std::string path = temp_dir() + "/" + name + ".engine";
  SLIMRT_RETURN_IF_ERROR(build_engine(tinynet(), o, path, &b.report));
  SLIMRT_ASSIGN_OR_RETURN(auto rt, Runtime::create({.backend = "cpu"}));
  SLIMRT_ASSIGN_OR_RETURN(b.engine, rt->load_file(path));
  return b;
}

TEST(IoFormatEngines, TinynetInEveryFormatMatchesTheOnnxModel) {
  Result<Graph> model = import_onnx_file(tinynet());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto rng = make_rng();
  for (Precision precision : {Precision::kFp32, Precision::kFp16}) {
    for (const Combo& c : combos()) {
      SCOPED_TRACE(std::string(precision_name(precision)) + " engine, input " + c.text());
      IoFormatRequest r = input_request("image", c.dtype, c.nhwc);
      if (c.normalize) {
        r.mean = kMean;
        r.stddev = kStd;
      }
      IoFormatRequest out;
      out.name = "probs";
      out.direction = IoDirection::kOutput;
      out.dtype = DataType::kFloat16;
      Result<Built> b = build_and_load("tinynet_" + std::to_string(static_cast<int>(c.dtype)) + (c.nhwc ? "_nhwc" : "") +
                                           (c.normalize ? "_norm" : "") + "_" + std::string(precision_name(precision)),
                                       precision, {r, out});
      ASSERT_TRUE(b.ok()) << b.status().to_string();
      const IoTensor* image = b->engine->io_tensor("image");
      const IoTensor* probs = b->engine->io_tensor("probs");
      ASSERT_TRUE(image && probs);
      EXPECT_EQ(image->dtype, c.dtype);
      EXPECT_EQ(image->dims, c.nhwc ? (std::vector<int64_t>{-1, 64, 64, 3}) : (std::vector<int64_t>{-1, 3, 64, 64}));
      EXPECT_EQ(probs->dtype, DataType::kFloat16);
      ASSERT_TRUE(probs->format.has_value());
      EXPECT_EQ(probs->format->model_dtype, DataType::kFloat32);
      const bool converts = c.dtype != DataType::kFloat32 || c.nhwc || c.normalize;
      ASSERT_EQ(image->format.has_value(), converts);
      if (converts) {
        EXPECT_EQ(image->format->channels_last, c.nhwc);
        EXPECT_EQ(image->format->mean, c.normalize ? kMean : std::vector<float>{});
      }
      // The report names what reads the input and writes the output.
      ASSERT_EQ(b->report.io_lines.size(), 2u);
      EXPECT_NE(b->report.io_lines[1].find("output 'probs' (float16)"), std::string::npos) << b->report.io_lines[1];

      const std::vector<int64_t> shape = c.nhwc ? std::vector<int64_t>{2, 64, 64, 3} : std::vector<int64_t>{2, 3, 64, 64};
      Tensor bound = random_bound(c.dtype, shape, rng);
      const double scale = c.normalize && c.dtype == DataType::kUInt8 ? 1.0 / 255.0 : 1.0;
      Tensor converted = to_model(bound, c.nhwc, scale, c.normalize ? kMean : std::vector<float>{},
                                  c.normalize ? kStd : std::vector<float>{});
      std::vector<Tensor> want = testing::run_graph(*model, {{"image", converted}});
      std::vector<Tensor> got = testing::run_graph(b->engine->graph(), {{"image", bound}});
      ASSERT_EQ(got.size(), 1u);
      ASSERT_EQ(want.size(), 1u);
      EXPECT_EQ(got[0].dtype(), DataType::kFloat16);
      EXPECT_LE(rel_l2(got[0], want[0]), precision == Precision::kFp16 ? 2e-2 : 2e-3);
    }
  }
}

TEST(IoFormatEngines, ConversionsMergeIntoOnePassOrNone) {
  // fp16 input of an fp16 engine whose stem runs NCHW: the first convolution reads the bound
  // buffer; no conversion is left.
  Result<Built> f16 = build_and_load("merge_fp16", Precision::kFp16, {input_request("image", DataType::kFloat16)},
                                     /*channels_last=*/false);
  ASSERT_TRUE(f16.ok()) << f16.status().to_string();
  ASSERT_EQ(f16->engine->graph().inputs()[0]->consumers().size(), 1u);
  EXPECT_EQ(count_op(f16->engine->graph(), "InputConvert"), 0u);
  EXPECT_EQ(f16->engine->graph().inputs()[0]->consumers()[0]->op_type(), "FusedConv");
  EXPECT_NE(f16->report.io_lines[0].find("read directly by node 'stem.conv' (FusedConv)"), std::string::npos)
      << f16->report.io_lines[0];
  // uint8 NHWC into an fp16 engine whose stem runs channels-last: the Cast, the NCHW -> NHWC
  // Transpose and the stem's channel padding (3 -> 8) merge into the one InputConvert, which then
  // keeps the bound layout (identity perm), normalizes along the last axis and writes the zero
  // channels, and the stem convolution reads it.
  IoFormatRequest u8 = input_request("image", DataType::kUInt8, true);
  u8.mean = kMean;
  u8.stddev = kStd;
  Result<Built> b = build_and_load("merge_u8", Precision::kFp16, {u8});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  const Graph& g = b->engine->graph();
  ASSERT_EQ(count_op(g, "InputConvert"), 1u);
  const Node* ic = g.inputs()[0]->consumers()[0];
  ASSERT_EQ(ic->op_type(), "InputConvert");
  Result<InputConvertParams> p = read_input_convert(*ic, 4);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->identity_perm());
  EXPECT_EQ(p->axis, 3);
  EXPECT_EQ(p->to, DataType::kFloat16);
  EXPECT_EQ(p->pad_end, (std::vector<int64_t>{0, 0, 0, 5}));
  ASSERT_EQ(ic->output(0)->consumers().size(), 1u);
  EXPECT_EQ(ic->output(0)->consumers()[0]->op_type(), "FusedConv");
  EXPECT_EQ(shape_to_string(ic->output(0)->shape()), "[batch,64,64,8]");
  EXPECT_NE(b->report.io_lines[0].find("one pass"), std::string::npos) << b->report.io_lines[0];
  // An fp32 engine keeps the layout change in the InputConvert (NHWC -> NCHW, channels on axis 1).
  Result<Built> f32 = build_and_load("merge_u8_fp32", Precision::kFp32, {u8});
  ASSERT_TRUE(f32.ok()) << f32.status().to_string();
  const Node* ic32 = f32->engine->graph().inputs()[0]->consumers()[0];
  Result<InputConvertParams> p32 = read_input_convert(*ic32, 4);
  ASSERT_TRUE(p32.ok());
  EXPECT_EQ(p32->perm, (std::vector<int64_t>{0, 3, 1, 2}));
  EXPECT_EQ(p32->axis, 1);
  EXPECT_EQ(p32->to, DataType::kFloat32);
}

TEST(IoFormatEngines, ProfileShapesInTheModelLayoutGetAHint) {
  IoFormatRequest u8 = input_request("image", DataType::kUInt8, true);
  BuildOptions o;
  o.io_formats = {u8};
  auto profiles = parse_profile_args({"image:1x3x64x64"}, {"image:1x3x64x64"}, {"image:2x3x64x64"});
  ASSERT_TRUE(profiles.ok());
  o.profiles = *profiles;
  Status s = build_engine(tinynet(), o, temp_dir() + "/hint.engine");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("input 'image' is bound channels-last (--input-format): give its shapes as N x H x W x C"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(std::filesystem::exists(temp_dir() + "/hint.engine"));
}

}  // namespace
}  // namespace slimrt
