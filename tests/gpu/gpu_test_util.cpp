#include "gpu/gpu_test_util.h"

#include <algorithm>

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

namespace slimrt::testing {

double cuda_tolerance(DataType t) {
  switch (t) {
    case DataType::kFloat32:
    case DataType::kFloat64: return 1e-5;
    case DataType::kFloat16: return 5e-3;
    case DataType::kBFloat16: return 2e-2;
    default: return 0.0;
  }
}

namespace {

std::string shape_str(const Tensor& t) {
  if (!t.defined()) return "(none)";
  std::ostringstream os;
  os << dtype_name(t.dtype()) << "[";
  for (size_t i = 0; i < t.rank(); ++i) os << (i ? "," : "") << t.dim(i);
  os << "]";
  return os.str();
}

double compare_outputs(const std::string& what, const std::vector<NamedTensor>& ref, const std::vector<NamedTensor>& got,
                       const std::vector<size_t>& which, double tolerance) {
  double worst = 0;
  if (ref.size() != got.size()) {
    ADD_FAILURE() << what << ": CPU gave " << ref.size() << " outputs, CUDA " << got.size();
    return std::numeric_limits<double>::infinity();
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!which.empty() && std::find(which.begin(), which.end(), i) == which.end()) continue;
    const Tensor& r = ref[i].tensor;
    const Tensor& g = got[i].tensor;
    if (g.memory_kind() == MemoryKind::kDevice) {
      ADD_FAILURE() << what << ": output " << i << " came back in device memory";
      continue;
    }
    if (r.dtype() != g.dtype() || r.shape() != g.shape()) {
      ADD_FAILURE() << what << ": output " << i << " is " << shape_str(g) << ", the CPU reference " << shape_str(r);
      worst = std::numeric_limits<double>::infinity();
      continue;
    }
    const double tol = tolerance >= 0 ? tolerance : cuda_tolerance(r.dtype());
    double err = 0;
    if (tol == 0) {
      err = max_abs_diff(g, r);
      EXPECT_EQ(err, 0.0) << what << ": output " << i << " (" << shape_str(r) << ") differs; max |diff| " << err;
    } else {
      err = rel_l2(g, r);
      EXPECT_LT(err, tol) << what << ": output " << i << " (" << shape_str(r) << ") rel L2 " << err
                          << " (max |diff| " << max_abs_diff(g, r) << ")";
    }
    if (!(err <= worst)) worst = err;  // NaN propagates
  }
  return worst;
}

Result<std::vector<NamedTensor>> run_on(const std::string& backend, const Graph& g, const std::vector<NamedTensor>& feeds) {
  SLIMRT_ASSIGN_OR_RETURN(auto be, create_backend(backend));
  SLIMRT_ASSIGN_OR_RETURN(auto exe, be->prepare(g));
  std::vector<NamedTensor> outs;
  RunOptions opts;
  opts.poison_outputs = true;
  SLIMRT_RETURN_IF_ERROR(exe->run(feeds, &outs, opts));
  return outs;
}

}  // namespace

double expect_graph_cuda_matches_cpu(const Graph& g, const std::vector<NamedTensor>& feeds, double tolerance) {
  std::ostringstream what;
  what << "graph (" << g.num_nodes() << " nodes; inputs";
  for (const auto& f : feeds) what << " " << f.name << ":" << shape_str(f.tensor);
  what << ")";
  auto ref = run_on("cpu", g, feeds);
  if (!ref.ok()) {
    ADD_FAILURE() << what.str() << ": CPU reference failed: " << ref.status().to_string();
    return std::numeric_limits<double>::infinity();
  }
  auto got = run_on("cuda", g, feeds);
  if (!got.ok()) {
    ADD_FAILURE() << what.str() << ": CUDA run failed: " << got.status().to_string();
    return std::numeric_limits<double>::infinity();
  }
  return compare_outputs(what.str(), *ref, *got, {}, tolerance);
}

double expect_cuda_matches_cpu(const OpCheck& c) {
  Graph g;
  std::vector<Value*> ins;
  std::vector<NamedTensor> feeds;
  std::ostringstream what;
  what << c.op_type << "(";
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    what << (i ? ", " : "") << shape_str(c.inputs[i]);
    if (!c.inputs[i].defined()) {
      ins.push_back(nullptr);
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    const bool is_const = std::find(c.constant_inputs.begin(), c.constant_inputs.end(), i) != c.constant_inputs.end();
    if (is_const) {
      what << " const";
      ins.push_back(g.add_initializer(name, c.inputs[i]));
    } else {
      ins.push_back(g.add_input(name, c.inputs[i].dtype(), shape_from_static(c.inputs[i].shape())));
      feeds.push_back({name, c.inputs[i]});
    }
  }
  what << ")";
  Node* n = g.add_node(c.op_type, "op", ins, c.num_outputs);
  for (const auto& [k, v] : c.attrs) {
    n->set_attr(k, v);
    what << " " << k;
  }
  for (Value* out : n->outputs()) g.add_output(out);
  Status s = infer_shapes(g);
  if (!s.ok()) {
    ADD_FAILURE() << what.str() << ": shape inference failed: " << s.to_string();
    return std::numeric_limits<double>::infinity();
  }
  auto ref = run_on("cpu", g, feeds);
  if (!ref.ok()) {
    ADD_FAILURE() << what.str() << ": CPU reference failed: " << ref.status().to_string();
    return std::numeric_limits<double>::infinity();
  }
  auto got = run_on("cuda", g, feeds);
  if (!got.ok()) {
    ADD_FAILURE() << what.str() << ": CUDA run failed: " << got.status().to_string();
    return std::numeric_limits<double>::infinity();
  }
  return compare_outputs(what.str(), *ref, *got, c.compare_outputs, c.tolerance);
}

std::string tinynet_onnx() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && std::filesystem::exists(exe.parent_path() / "tinynet.onnx")) return exe.parent_path() / "tinynet.onnx";
  return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx";
}

IoFormatRequest normalized_image(const std::string& name, DataType dtype, bool nhwc) {
  IoFormatRequest r;
  r.name = name;
  r.dtype = dtype;
  r.channels_last = nhwc;
  r.mean = {0.485f, 0.456f, 0.406f};
  r.stddev = {0.229f, 0.224f, 0.225f};
  return r;
}

}  // namespace slimrt::testing
