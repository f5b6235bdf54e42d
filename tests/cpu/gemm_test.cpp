// Tests of the shared GEMM against a naive double loop.
#include "cpu/gemm.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

namespace slimrt::cpu {
namespace {

template <typename T>
std::vector<T> random_vec(size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(u(rng));
  return v;
}

// C = alpha * op(A) op(B) + beta * C, straight from the definition.
template <typename T>
std::vector<double> reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const std::vector<T>& a,
                              int64_t lda, const std::vector<T>& b, int64_t ldb, double beta, const std::vector<T>& c,
                              int64_t ldc) {
  std::vector<double> out(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double x = ta ? a[static_cast<size_t>(p * lda + i)] : a[static_cast<size_t>(i * lda + p)];
        const double y = tb ? b[static_cast<size_t>(j * ldb + p)] : b[static_cast<size_t>(p * ldb + j)];
        s += x * y;
      }
      double v = alpha * s;
      if (beta != 0) v += beta * static_cast<double>(c[static_cast<size_t>(i * ldc + j)]);
      out[static_cast<size_t>(i * n + j)] = v;
    }
  }
  return out;
}

template <typename T>
void check_case(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, double beta, int64_t pad,
                std::mt19937_64& rng) {
  // Stored shapes: A is m x k (k x m when transposed), B is k x n (n x k); each row padded.
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  auto a = random_vec<T>(static_cast<size_t>(a_rows * lda), rng);
  auto b = random_vec<T>(static_cast<size_t>(b_rows * ldb), rng);
  std::vector<T> c = random_vec<T>(static_cast<size_t>(m * ldc), rng);
  if (beta == 0) {
    for (T& x : c) x = std::numeric_limits<T>::quiet_NaN();  // write-only: poison must vanish
  }
  const std::vector<T> c0 = c;
  const auto want = reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc);
  gemm(ta, tb, m, n, k, static_cast<T>(alpha), a.data(), lda, b.data(), ldb, static_cast<T>(beta), c.data(), ldc);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const double got = c[static_cast<size_t>(i * ldc + j)];
      if (j >= n) {  // padding past n is never touched
        const double orig = c0[static_cast<size_t>(i * ldc + j)];
        ASSERT_TRUE((std::isnan(got) && std::isnan(orig)) || got == orig) << "padding written at " << i << "," << j;
        continue;
      }
      const double w = want[static_cast<size_t>(i * n + j)];
      // float results are rounded once from the double sum: within half an ulp plus slack.
      ASSERT_NEAR(got, w, tol * std::max(1.0, std::fabs(w)) + (std::is_same_v<T, float> ? 6e-8 * std::fabs(w) : 0))
          << "ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n << " k=" << k << " at " << i << "," << j;
    }
  }
}

TEST(GemmTest, OddSizesAllTransposesFloat) {
  std::mt19937_64 rng(11);
  const int64_t sizes[] = {1, 7, 33, 129};
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (int64_t m : sizes) {
        for (int64_t n : sizes) {
          for (int64_t k : sizes) check_case<float>(ta, tb, m, n, k, 1.0, 0.0, 0, rng);
        }
      }
    }
  }
}

TEST(GemmTest, OddSizesAllTransposesDouble) {
  std::mt19937_64 rng(12);
  const int64_t sizes[] = {1, 7, 33, 129};
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (int64_t m : sizes) {
        for (int64_t n : sizes) {
          for (int64_t k : sizes) check_case<double>(ta, tb, m, n, k, 1.0, 0.0, 0, rng);
        }
      }
    }
  }
}

TEST(GemmTest, AlphaBetaAndLeadingDims) {
  std::mt19937_64 rng(13);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      check_case<float>(ta, tb, 70, 300, 290, 0.5, 0.25, 3, rng);   // crosses the k and n blocks
      check_case<float>(ta, tb, 130, 5, 600, -2.0, 1.0, 1, rng);
      check_case<double>(ta, tb, 67, 258, 257, 1.5, -1.0, 2, rng);
      check_case<float>(ta, tb, 1, 513, 65, 1.0, 0.0, 0, rng);     // a single row
      check_case<float>(ta, tb, 65, 1, 300, 1.0, 0.5, 0, rng);     // a single column
    }
  }
}

TEST(GemmTest, ZeroSizes) {
  std::vector<float> c(6, std::numeric_limits<float>::quiet_NaN());
  // k == 0: C = beta * C, which is 0 for beta == 0 even over NaN poison.
  gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, c.data(), 3);
  for (float x : c) EXPECT_EQ(x, 0.0f);
  std::vector<float> d = {1, 2, 3, 4, 5, 6};
  gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 2.0f, d.data(), 3);
  EXPECT_EQ(d[5], 12.0f);
  gemm(false, false, 0, 3, 5, 1.0f, nullptr, 5, nullptr, 3, 0.0f, nullptr, 3);  // nothing to do
}

TEST(GemmTest, DoubleAccumulationBeatsFloat) {
  // A sum whose float accumulation loses the small terms entirely.
  const int64_t k = 4097;
  std::vector<float> a(static_cast<size_t>(k), 1.0f), b(static_cast<size_t>(k), 1e-8f);
  b[0] = 1.0f;
  std::vector<float> bt = b;
  float c = 0;
  // 1 + 4096e-8 = 1.00004096; float accumulation would give exactly 1.
  gemm(false, false, 1, 1, k, 1.0f, a.data(), k, b.data(), 1, 0.0f, &c, 1);
  EXPECT_FLOAT_EQ(c, 1.00004096f);
  std::vector<float> a8(8 * static_cast<size_t>(k), 1.0f), c8(8 * 8, 0.f), b8(static_cast<size_t>(k) * 8);
  for (int64_t p = 0; p < k; ++p) {
    for (int j = 0; j < 8; ++j) b8[static_cast<size_t>(p * 8 + j)] = p == 0 ? 1.0f : 1e-8f;
  }
  gemm(false, false, 8, 8, k, 1.0f, a8.data(), k, b8.data(), 8, 0.0f, c8.data(), 8);
  for (float x : c8) EXPECT_FLOAT_EQ(x, 1.00004096f);
}

TEST(GemmTest, ThroughputPrint) {
  std::mt19937_64 rng(14);
  struct Case {
    int64_t m, n, k;
    bool tb;
  };
  for (const Case& s : {Case{256, 784, 1152, false}, Case{197, 768, 768, true}}) {
    auto a = random_vec<float>(static_cast<size_t>(s.m * s.k), rng);
    auto b = random_vec<float>(static_cast<size_t>(s.k * s.n), rng);
    std::vector<float> c(static_cast<size_t>(s.m * s.n));
    const auto t0 = std::chrono::steady_clock::now();
    int reps = 0;
    double secs = 0;
    do {
      gemm(false, s.tb, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.tb ? s.k : s.n, 0.0f, c.data(), s.n);
      ++reps;
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (secs < 0.2);
    std::printf("[ gemm     ] %ldx%ldx%ld transB=%d: %.2f GMAC/s\n", static_cast<long>(s.m), static_cast<long>(s.n),
                static_cast<long>(s.k), s.tb ? 1 : 0, static_cast<double>(s.m * s.n * s.k) * reps / secs / 1e9);
  }
}

}  // namespace
}  // namespace slimrt::cpu
