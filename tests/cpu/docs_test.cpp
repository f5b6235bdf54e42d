// Keeps docs/ops.md and the op registry in step: every registered op is documented, and the page
// lists no op that slimrt does not support.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "slimrt/graph.h"

namespace slimrt {
namespace {

TEST(Docs, OpsPageMatchesRegistry) {
  std::ifstream in(std::string(SLIMRT_SOURCE_DIR) + "/docs/ops.md");
  ASSERT_TRUE(in) << "docs/ops.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::set<std::string> documented;
  const std::regex row(R"(\n\| `([A-Za-z0-9]+)` \|)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), row); it != std::sregex_iterator(); ++it)
    documented.insert((*it)[1].str());
  const std::vector<std::string> ops = supported_ops();
  const std::set<std::string> registered(ops.begin(), ops.end());
  for (const std::string& op : registered) EXPECT_TRUE(documented.count(op)) << op << " is not in docs/ops.md";
  for (const std::string& op : documented) EXPECT_TRUE(registered.count(op)) << op << " is documented but not registered";
  EXPECT_GE(registered.size(), 100u);
}

}  // namespace
}  // namespace slimrt
