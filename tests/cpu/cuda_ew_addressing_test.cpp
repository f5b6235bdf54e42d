// The CUDA element-wise kernels' addressing (strided and vectorized), evaluated on the host and
// compared with numpy broadcasting computed the slow way: runs without a GPU, in CI.
#ifdef SLIMRT_HAVE_CUDA

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cuda/kernels/elementwise_addressing.h"

namespace slimrt::cuda::ew {
namespace {

// Offset in `in` (row-major, right-aligned against `out`) of output element i.
int64_t numpy_offset(const std::vector<int64_t>& out, const std::vector<int64_t>& in, int64_t i) {
  const size_t lead = out.size() - in.size();
  int64_t offset = 0, stride = 1;
  for (size_t k = out.size(); k-- > 0;) {
    const int64_t coord = i % out[k];
    i /= out[k];
    if (k < lead) continue;
    const int64_t d = in[k - lead];
    if (d != 1) offset += coord * stride;
    stride *= d;
  }
  return offset;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// Checks both kernels' addressing for out = a (op) b; returns whether the vectorized one applied.
bool check(const std::vector<int64_t>& out, const std::vector<int64_t>& a, const std::vector<int64_t>& b, int v) {
  const BinaryAddressing r = binary_addressing(out, a, b, v);
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  const std::string what = shape_str(a) + " with " + shape_str(b) + " -> " + shape_str(out) + ", width " +
                           std::to_string(v);
  EXPECT_EQ(static_cast<int64_t>(r.a.size()), n) << what;
  EXPECT_EQ(static_cast<int64_t>(r.b.size()), n) << what;
  if (static_cast<int64_t>(r.a.size()) != n || static_cast<int64_t>(r.b.size()) != n) return false;
  int wrong = 0;
  for (int64_t i = 0; i < n && wrong < 3; ++i) {
    const int64_t ea = numpy_offset(out, a, i), eb = numpy_offset(out, b, i);
    if (r.a[i] != ea || r.b[i] != eb) {
      ADD_FAILURE() << what << ": strided kernel reads (" << r.a[i] << ", " << r.b[i] << ") for output " << i
                    << ", numpy (" << ea << ", " << eb << ")";
      ++wrong;
    }
    if (r.vectorized && (r.vec_a[i] != ea || r.vec_b[i] != eb)) {
      ADD_FAILURE() << what << ": vectorized kernel reads (" << r.vec_a[i] << ", " << r.vec_b[i] << ") for output "
                    << i << ", numpy (" << ea << ", " << eb << ")";
      ++wrong;
    }
  }
  return r.vectorized;
}

TEST(CudaEwAddressing, TheBroadcastsModelsUse) {
  // Same shapes, scalars, a bias row, per-channel constants, leading and middle broadcasts, and
  // the shapes of the GPU suite's element-wise tests.
  struct Case {
    std::vector<int64_t> out, a, b;
  };
  const std::vector<Case> cases = {
      {{2, 3, 33, 64}, {2, 3, 33, 64}, {2, 3, 33, 64}},
      {{2, 3, 33, 64}, {2, 3, 33, 64}, {64}},
      {{2, 3, 33, 65}, {2, 3, 33, 65}, {65}},
      {{2, 8, 4, 16}, {2, 8, 4, 16}, {8, 1, 1}},
      {{2, 3, 7}, {7}, {2, 3, 7}},
      {{2, 3, 7}, {}, {2, 3, 7}},
      {{2, 3, 7}, {2, 3, 7}, {1}},
      {{4, 5}, {4, 1}, {1, 5}},
      {{3, 4, 5}, {3, 1, 5}, {1, 4, 1}},
      {{2, 1, 6}, {2, 1, 6}, {6}},
      {{8, 64, 56, 56}, {8, 64, 56, 56}, {1, 64, 1, 1}},
      {{1}, {1}, {1}},
      {{5, 1, 3}, {5, 1, 3}, {1, 1, 3}},
  };
  for (const Case& c : cases) {
    for (int v : {4, 8}) check(c.out, c.a, c.b, v);
  }
}

TEST(CudaEwAddressing, RandomBroadcasts) {
  std::mt19937 rng(20261207);
  int vectorized = 0;
  for (int t = 0; t < 300; ++t) {
    const int rank = 1 + static_cast<int>(rng() % 5);
    std::vector<int64_t> out(static_cast<size_t>(rank));
    for (int64_t& d : out) d = 1 + static_cast<int64_t>(rng() % 6);
    auto operand = [&]() {
      const size_t r = rng() % (out.size() + 1);
      std::vector<int64_t> s(out.end() - static_cast<std::ptrdiff_t>(r), out.end());
      for (int64_t& d : s) {
        if (rng() % 3 == 0) d = 1;
      }
      return s;
    };
    std::vector<int64_t> a = operand(), b = operand();
    if (rng() % 2) a = out;  // usually one side is the full output
    vectorized += check(out, a, b, rng() % 2 ? 4 : 8) ? 1 : 0;
  }
  // Both kernels are exercised.
  EXPECT_GT(vectorized, 20);
  EXPECT_LT(vectorized, 300);
}

}  // namespace
}  // namespace slimrt::cuda::ew

#endif  // SLIMRT_HAVE_CUDA
