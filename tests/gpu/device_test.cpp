// GPU suite entry point. Every GPU test skips with the reason when no CUDA device is usable.
#include <gtest/gtest.h>

#include "slimrt/device.h"

TEST(GpuDevice, IsUsable) {
  slimrt::DeviceQuery q = slimrt::query_cuda_devices();
  if (q.count == 0) GTEST_SKIP() << "no GPU: " << q.description;
  EXPECT_GT(q.count, 0);
  EXPECT_FALSE(q.description.empty());
  std::printf("GPU: %s\n", q.description.c_str());
}
