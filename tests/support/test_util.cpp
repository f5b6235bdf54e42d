#include "support/test_util.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>

namespace slimrt::testing {

std::mt19937_64 make_rng(uint64_t salt) {
  uint64_t seed = 0x5117;
  if (const char* env = std::getenv("SLIMRT_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info())
    seed ^= std::hash<std::string>{}(std::string(info->test_suite_name()) + "." + info->name());
  return std::mt19937_64(seed ^ (salt * 0x9e3779b97f4a7c15ull));
}

Tensor random_tensor(DataType dtype, const std::vector<int64_t>& shape, std::mt19937_64& rng, double lo, double hi) {
  Tensor t = Tensor::allocate(dtype, shape).value();
  std::uniform_real_distribution<double> uf(lo, hi);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double x = uf(rng);
    const int64_t k = static_cast<int64_t>(std::floor(x));
    switch (dtype) {
      case DataType::kFloat32: t.data<float>()[i] = static_cast<float>(x); break;
      case DataType::kFloat64: t.data<double>()[i] = x; break;
      case DataType::kFloat16: t.data<uint16_t>()[i] = float_to_half(static_cast<float>(x)); break;
      case DataType::kBFloat16: t.data<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(x)); break;
      case DataType::kInt8: t.data<int8_t>()[i] = static_cast<int8_t>(k); break;
      case DataType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(k); break;
      case DataType::kInt32: t.data<int32_t>()[i] = static_cast<int32_t>(k); break;
      case DataType::kInt64: t.data<int64_t>()[i] = k; break;
      case DataType::kBool: t.data<uint8_t>()[i] = x > (lo + hi) / 2 ? 1 : 0; break;
      case DataType::kUndefined: break;
    }
  }
  return t;
}

double rel_l2(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.get_as_double(i), y = b.get_as_double(i);
    if (std::isnan(x) != std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
    if (std::isnan(x)) continue;
    if (std::isinf(x) || std::isinf(y)) {
      if (x != y) return std::numeric_limits<double>::infinity();
      continue;
    }
    num += (x - y) * (x - y);
    den += y * y;
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::fabs(a.get_as_double(i) - b.get_as_double(i));
    if (std::isnan(d)) return std::numeric_limits<double>::quiet_NaN();
    m = std::max(m, d);
  }
  return m;
}

SingleOpResult run_single_op(const std::string& op_type, const std::vector<Tensor>& inputs,
                             const std::vector<std::pair<std::string, Attribute>>& attrs, size_t num_outputs,
                             const std::vector<size_t>& constant_inputs) {
  SingleOpResult result;
  Graph g;
  std::vector<Value*> ins;
  std::vector<NamedTensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      ins.push_back(nullptr);
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    bool is_const = false;
    for (size_t c : constant_inputs) is_const |= (c == i);
    if (is_const) {
      ins.push_back(g.add_initializer(name, inputs[i]));
    } else {
      ins.push_back(g.add_input(name, inputs[i].dtype(), shape_from_static(inputs[i].shape())));
      feeds.push_back({name, inputs[i]});
    }
  }
  Node* n = g.add_node(op_type, "op", ins, num_outputs);
  for (const auto& [k, v] : attrs) n->set_attr(k, v);
  for (Value* out : n->outputs()) g.add_output(out);
  result.status = infer_shapes(g);
  if (!result.status.ok()) return result;
  auto backend = create_backend("cpu");
  auto exe = backend.value()->prepare(g);
  if (!exe.ok()) {
    result.status = exe.status();
    return result;
  }
  std::vector<NamedTensor> outs;
  RunOptions opts;
  opts.poison_outputs = true;
  result.status = exe.value()->run(feeds, &outs, opts);
  for (auto& o : outs) result.outputs.push_back(o.tensor);
  return result;
}

Result<std::vector<NamedTensor>> run_on_cpu(const Graph& g, const std::vector<NamedTensor>& feeds) {
  SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<Backend> be, create_backend("cpu"));
  SLIMRT_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, be->prepare(g));
  std::vector<NamedTensor> out;
  RunOptions ro;
  ro.poison_outputs = true;
  SLIMRT_RETURN_IF_ERROR(exe->run(feeds, &out, ro));
  return out;
}

std::vector<Tensor> run_graph(const Graph& g, const std::vector<NamedTensor>& feeds) {
  Result<std::vector<NamedTensor>> out = run_on_cpu(g, feeds);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  std::vector<Tensor> result;
  if (out.ok()) {
    for (NamedTensor& o : *out) result.push_back(o.tensor);
  }
  return result;
}

void expect_pass_keeps_outputs(Graph& g, const std::vector<std::vector<NamedTensor>>& inputs,
                               const std::function<Status(Graph&)>& pass, double tol,
                               const std::function<std::string()>& context) {
  std::vector<std::vector<Tensor>> before;
  for (const auto& in : inputs) before.push_back(run_graph(g, in));
  const Status s = pass(g);
  if (!s.ok()) {
    ADD_FAILURE() << "the pass failed: " << s.to_string();
    return;
  }
  for (size_t k = 0; k < inputs.size(); ++k) {
    const std::vector<Tensor> after = run_graph(g, inputs[k]);
    EXPECT_EQ(after.size(), before[k].size()) << "input set " << k;
    for (size_t i = 0; i < after.size() && i < before[k].size(); ++i) {
      EXPECT_EQ(after[i].shape(), before[k][i].shape()) << "output " << i << ", input set " << k;
      EXPECT_LT(rel_l2(after[i], before[k][i]), tol)
          << "output " << i << ", input set " << k << (context ? "\n" + context() : std::string());
    }
  }
}

std::vector<NamedTensor> random_inputs(const Graph& g, std::mt19937_64& rng,
                                       const std::map<std::string, int64_t>& dims, int64_t other_dims, double lo,
                                       double hi) {
  std::vector<NamedTensor> ins;
  for (const Value* in : g.inputs()) {
    std::vector<int64_t> shape;
    for (const Dim& d : in->shape()) {
      if (std::optional<int64_t> v = d.value()) {
        shape.push_back(*v);
      } else {
        const std::optional<std::string> sym = d.as_symbol();
        auto it = sym ? dims.find(*sym) : dims.end();
        shape.push_back(it != dims.end() ? it->second : other_dims);
      }
    }
    const bool ids = dtype_is_integer(in->dtype());
    ins.push_back({in->name(), random_tensor(in->dtype(), shape, rng, ids ? 0 : lo, ids ? 10 : hi)});
  }
  return ins;
}

size_t count_op(const Graph& g, const std::string& op) {
  size_t n = 0;
  for (const Node* node : g.nodes()) n += node->op_type() == op;
  return n;
}

const std::string& process_temp_dir(const std::string& binary_dir, const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::string> dirs;  // node-based: references stay valid
  std::lock_guard<std::mutex> lock(mu);
  auto [it, added] = dirs.try_emplace(name);
  if (added) {
    it->second = binary_dir + "/test_tmp/" + name + "_" + std::to_string(getpid());
    std::filesystem::create_directories(it->second);
  }
  return it->second;
}

}  // namespace slimrt::testing
