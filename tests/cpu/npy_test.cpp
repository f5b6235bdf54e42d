#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "slimrt/npy.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::path(SLIMRT_BINARY_DIR) / "test_tmp" / "npy";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(Npy, RoundTripsEveryNumpyDtype) {
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64, DataType::kInt8, DataType::kUInt8,
                     DataType::kInt32, DataType::kInt64, DataType::kBool}) {
    Tensor x = testing::random_tensor(t, {3, 1, 5}, rng, -50, 50);
    const std::string p = temp_path(std::string(dtype_name(t)) + ".npy");
    ASSERT_TRUE(write_npy(p, x).ok());
    auto y = read_npy(p);
    ASSERT_TRUE(y.ok()) << y.status().to_string();
    EXPECT_EQ(y->dtype(), t);
    EXPECT_EQ(y->shape(), x.shape());
    EXPECT_EQ(std::memcmp(x.raw(), y->raw(), x.bytes()), 0) << dtype_name(t);
  }
}

TEST(Npy, ScalarAndEmpty) {
  Tensor s = Tensor::from_vector<float>(DataType::kFloat32, {}, {2.5f});
  ASSERT_TRUE(write_npy(temp_path("scalar.npy"), s).ok());
  auto r = read_npy(temp_path("scalar.npy"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rank(), 0u);
  EXPECT_EQ(r->data<float>()[0], 2.5f);
  Tensor e = Tensor::allocate(DataType::kInt64, {0, 4}).value();
  ASSERT_TRUE(write_npy(temp_path("empty.npy"), e).ok());
  auto re = read_npy(temp_path("empty.npy"));
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(re->shape(), (std::vector<int64_t>{0, 4}));
}

TEST(Npy, NumpyReadsOursAndWeReadNumpys) {
  const std::string py = SLIMRT_PYTHON;
  if (!std::filesystem::exists(py)) GTEST_SKIP() << "no python at " << py;
  auto rng = testing::make_rng();
  Tensor x = testing::random_tensor(DataType::kFloat32, {2, 3}, rng);
  ASSERT_TRUE(write_npy(temp_path("ours.npy"), x).ok());
  const std::string cmd = py + " -c \"import numpy as np; a=np.load('" + temp_path("ours.npy") +
                          "'); np.save('" + temp_path("theirs.npy") + "', (a*2).astype(np.float64))\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto y = read_npy(temp_path("theirs.npy"));
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  ASSERT_EQ(y->dtype(), DataType::kFloat64);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(y->data<double>()[i], 2.0 * x.data<float>()[i]);
}

TEST(Npy, BadFilesGiveClearErrors) {
  EXPECT_EQ(read_npy(temp_path("does_not_exist.npy")).status().code(), StatusCode::kNotFound);
  {
    std::ofstream(temp_path("garbage.npy")) << "hello world, not numpy";
  }
  auto g = read_npy(temp_path("garbage.npy"));
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(g.status().message().find("bad magic"), std::string::npos);
  Tensor x = Tensor::allocate(DataType::kFloat32, {100}).value();
  ASSERT_TRUE(write_npy(temp_path("trunc.npy"), x).ok());
  std::filesystem::resize_file(temp_path("trunc.npy"), 200);
  auto t = read_npy(temp_path("trunc.npy"));
  EXPECT_EQ(t.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(t.status().message().find("needs 400 bytes"), std::string::npos) << t.status().message();
}

}  // namespace
}  // namespace slimrt
