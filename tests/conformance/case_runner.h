// Runs one ONNX backend-test case (a directory holding model.onnx and test_data_set_*/) on the
// slimrt CPU backend and classifies it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace slimrt::conformance {

enum class CaseStatus { kPass, kFail, kUnsupported, kSkipped };
const char* case_status_name(CaseStatus s);
CaseStatus case_status_from_name(const std::string& s);

struct CaseSpec {
  std::string suite;  // "node", "pytorch-converted", ...
  std::string name;   // "test_abs"
  std::string dir;    // absolute path of the case directory
};

struct CaseResult {
  std::string suite;
  std::string name;
  CaseStatus status = CaseStatus::kFail;
  std::vector<std::string> ops;  // op types of the ONNX model as written ("ai.onnx.ml:Scaler")
  std::string stage;             // where it stopped: load, import, prepare, read, run, compare
  std::string message;
  double max_abs_err = 0.0;
  double max_rel_err = 0.0;
  int data_sets = 0;
  double seconds = 0.0;
};

nlohmann::json case_result_to_json(const CaseResult& r);
CaseResult case_result_from_json(const nlohmann::json& j);

// The op types used by the model's main graph, sorted and unique; non-default domains are
// prefixed. Empty when the file cannot be parsed.
std::vector<std::string> model_op_types(const std::string& model_path);

struct RunCaseOptions {
  std::string backend = "cpu";  // "cpu" or "cuda"
  // Build each case into an fp32 engine (passes on, one profile per data set's shapes), load it
  // with Runtime on `backend` and run it there (through an ExecutionContext on CUDA), instead of
  // running the imported graph through a Backend.
  bool engine = false;
  double rtol = 0.0;
  double atol = 0.0;
  bool verbose = false;
};

// Never throws; every failure becomes a kFail or kUnsupported result with a message.
CaseResult run_case(const CaseSpec& spec, const RunCaseOptions& options);

}  // namespace slimrt::conformance
