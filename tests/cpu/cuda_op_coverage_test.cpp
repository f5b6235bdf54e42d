// Every op the CUDA backend registers has a GPU test against the CPU reference: some file of
// tests/gpu/ builds it. Runs in CI without a GPU (the kernel registry is a table filled at first
// use), so a kernel added without a test fails here rather than waiting for a GPU run to notice.
// A file "builds" an op when it names it as a quoted string ("Softmax") or as the first argument
// of a test macro (SLIMRT_UNARY_TEST(Tanh, ...), which stringizes it).
#include <gtest/gtest.h>

#ifdef SLIMRT_HAVE_CUDA  // the CUDA kernel registry needs the CUDA runtime headers
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "cuda/kernel.h"

namespace slimrt {
namespace {

// Ops tested on the GPU somewhere other than tests/gpu/, with where. Keep it short: a GPU test
// in tests/gpu/ beside the family's others is the rule.
const std::map<std::string, std::string>& covered_elsewhere() {
  static const std::map<std::string, std::string> ops = {};
  return ops;
}

std::string gpu_test_sources() {
  std::string all;
  const std::filesystem::path dir = std::filesystem::path(SLIMRT_SOURCE_DIR) / "tests" / "gpu";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".cpp") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
    all += '\n';
  }
  return all;
}

TEST(CudaOpCoverage, EveryCudaKernelHasAGpuTest) {
  const std::string text = gpu_test_sources();
  ASSERT_FALSE(text.empty()) << "no tests/gpu/*.cpp under " << SLIMRT_SOURCE_DIR;
  std::set<std::string> macro_args;  // SLIMRT_<X>_TEST(Op, ...)
  const std::regex macro(R"(\bSLIMRT_[A-Z_]*TEST\(\s*([A-Za-z0-9]+)\s*,)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), macro); it != std::sregex_iterator(); ++it)
    macro_args.insert((*it)[1].str());

  const std::vector<std::string> ops = cuda::KernelRegistry::get().op_types();
  std::vector<std::string> untested;
  for (const std::string& op : ops) {
    const bool tested = text.find('"' + op + '"') != std::string::npos || macro_args.count(op) != 0;
    if (!tested && !covered_elsewhere().count(op)) untested.push_back(op);
  }
  std::string names;
  for (const std::string& op : untested) names += (names.empty() ? "" : ", ") + op;
  EXPECT_TRUE(untested.empty()) << "the CUDA backend registers ops that no tests/gpu/*.cpp builds: " << names
                                << " (add a GPU test against the CPU reference, or list the op with a reason in "
                                   "covered_elsewhere())";
  for (const auto& [op, why] : covered_elsewhere()) {
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end())
        << op << " is in covered_elsewhere() (" << why << ") but the CUDA backend no longer registers it";
  }
  EXPECT_GE(ops.size(), 100u);
}

}  // namespace
}  // namespace slimrt
#else
TEST(CudaOpCoverage, EveryCudaKernelHasAGpuTest) { GTEST_SKIP() << "built without CUDA"; }
#endif  // SLIMRT_HAVE_CUDA
