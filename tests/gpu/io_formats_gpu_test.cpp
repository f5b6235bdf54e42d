// InputConvert (ir/input_convert.h) on CUDA against the CPU reference: each kernel form (same
// order, channels last -> first, any permutation) for every input and output dtype; and engines
// built from tinynet with every input format, whose graphs run on both backends.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "slimrt/builder/builder.h"
#include "slimrt/runtime.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::OpCheck;
using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;

Tensor bound_input(DataType t, const std::vector<int64_t>& shape, std::mt19937_64& rng) {
  return t == DataType::kUInt8 ? testing::random_tensor(t, shape, rng, 0, 256) : testing::random_tensor(t, shape, rng, -3, 3);
}

void check_convert(DataType from, DataType to, const std::vector<int64_t>& shape, const Ints& perm, int64_t axis,
                   const Floats& scale, const Floats& bias, const Ints& pad_end = {}) {
  auto rng = testing::make_rng();
  OpCheck op("InputConvert");
  op.inputs = {bound_input(from, shape, rng)};
  op.attrs = {{"to", static_cast<int64_t>(to)}, {"scale", scale}, {"bias", bias}};
  if (!perm.empty()) op.attrs.push_back({"perm", perm});
  if (axis >= 0) op.attrs.push_back({"axis", axis});
  if (!pad_end.empty()) op.attrs.push_back({"pad_end", pad_end});
  SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + std::string(dtype_name(to)));
  testing::expect_cuda_matches_cpu(op);
}

TEST(CudaInputConvert, EveryFormAndDtype) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const Floats s3 = {0.017f, 0.0175f, 0.0174f}, b3 = {-2.1f, -2.0f, -1.8f};
  for (DataType from : {DataType::kUInt8, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat32}) {
    for (DataType to : {DataType::kFloat16, DataType::kBFloat16, DataType::kFloat32}) {
      // Same order: NCHW, per-channel on axis 1; NHWC kept, per-channel on the last axis; one scale.
      check_convert(from, to, {2, 3, 17, 29}, {}, 1, s3, b3);
      check_convert(from, to, {2, 17, 29, 3}, {}, 3, s3, b3);
      check_convert(from, to, {3, 5, 7, 11}, {}, -1, {0.5f}, {0.25f});
      // Channels last -> first (NHWC -> NCHW, and a rank-5 NDHWC), per channel and with one scale.
      check_convert(from, to, {2, 17, 29, 3}, {0, 3, 1, 2}, 1, s3, b3);
      check_convert(from, to, {2, 4, 6, 9, 3}, {0, 4, 1, 2, 3}, 1, s3, b3);
      check_convert(from, to, {2, 9, 13, 5}, {0, 3, 1, 2}, -1, {2.0f}, {-1.0f});
      // Any other permutation.
      check_convert(from, to, {3, 2, 17, 5}, {2, 0, 3, 1}, 2, {1, 2, 3, 4, 5}, {0, 0, 1, 1, 2});
      // Channel padding written in the same pass (a channels-last stem's 3 -> 8), and padding
      // after a permutation.
      check_convert(from, to, {2, 17, 29, 3}, {}, 3, s3, b3, {0, 0, 0, 5});
      check_convert(from, to, {2, 17, 29, 3}, {0, 3, 1, 2}, 1, s3, b3, {0, 5, 1, 2});
    }
  }
}

// ---- engines ------------------------------------------------------------------------------------

std::string temp_engine() {
  return (std::filesystem::temp_directory_path() / ("slimrt_io_formats_" + std::to_string(getpid()) + ".engine")).string();
}

TEST(CudaIoFormats, TinynetEnginesInEveryFormatMatchCpu) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  Result<std::unique_ptr<Runtime>> rt = Runtime::create({.backend = "cpu"});
  ASSERT_TRUE(rt.ok());
  for (Precision precision : {Precision::kFp32, Precision::kFp16}) {
    for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kUInt8}) {
      for (bool nhwc : {false, true}) {
        const std::string what = std::string(precision_name(precision)) + " engine, " + std::string(dtype_name(dt)) +
                                 (nhwc ? " NHWC" : " NCHW") + " normalized input";
        SCOPED_TRACE(what);
        BuildOptions o;
        o.precision = precision;
        IoFormatRequest in = testing::normalized_image("image", dt, nhwc);
        IoFormatRequest out;
        out.name = "probs";
        out.direction = IoDirection::kOutput;
        out.dtype = DataType::kFloat16;
        o.io_formats = {in, out};
        const std::string dims = nhwc ? "x64x64x3" : "x3x64x64";
        auto profiles = parse_profile_args({"image:1" + dims}, {"image:3" + dims}, {"image:3" + dims});
        ASSERT_TRUE(profiles.ok());
        o.profiles = *profiles;
        const std::string path = temp_engine();
        Status built = build_engine(testing::tinynet_onnx(), o, path);
        ASSERT_TRUE(built.ok()) << built.to_string();
        Result<std::shared_ptr<Engine>> e = (*rt)->load_file(path);
        ASSERT_TRUE(e.ok()) << e.status().to_string();
        const std::vector<int64_t> shape = nhwc ? std::vector<int64_t>{3, 64, 64, 3} : std::vector<int64_t>{3, 3, 64, 64};
        std::filesystem::remove(path);
        testing::expect_graph_cuda_matches_cpu((*e)->graph(), {{"image", bound_input(dt, shape, rng)}});
      }
    }
  }
}

}  // namespace
}  // namespace slimrt
