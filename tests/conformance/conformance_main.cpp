// slimrt_conformance: runs the ONNX backend test data (Debian package libonnx-testdata) on the
// slimrt CPU backend and reports pass / fail / unsupported / skipped per case.
//
//   slimrt_conformance                                  # every suite, summary on stdout
//   slimrt_conformance --filter 'test_conv' --verbose   # one family, a line per case
//   slimrt_conformance --json-out results.json
//   slimrt_conformance --backend cuda --jobs 8          # 8 cases at once
//
// docs/conformance.md describes the classification and the skip-list policy. Each case runs in
// a forked child so that a crash or a hang in one kernel is a failed case, not a lost run;
// --jobs N runs N such children at once (the CUDA runs spend most of their time starting CUDA).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <deque>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "case_runner.h"
#include "compare.h"

namespace fs = std::filesystem;
using namespace slimrt::conformance;

namespace {

constexpr const char* kDefaultSuites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

struct SkipEntry {
  std::string reason;
  bool used = false;
};

// Lines "test_name  # reason" or "suite/test_name  # reason"; blank lines and lines starting
// with '#' are comments. An entry without a reason is rejected: every skip must say why.
bool load_skip_list(const std::string& path, std::map<std::string, SkipEntry>* out, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot open skip list " + path;
    return false;
  }
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const size_t hash = line.find('#', first);
    std::string name = line.substr(first, hash == std::string::npos ? std::string::npos : hash - first);
    name.erase(name.find_last_not_of(" \t\r") + 1);
    std::string reason = hash == std::string::npos ? "" : line.substr(hash + 1);
    reason.erase(0, reason.find_first_not_of(" \t"));
    reason.erase(reason.find_last_not_of(" \t\r") + 1);
    if (reason.empty()) {
      *error = fmt::format("{}:{}: skip entry '{}' has no '# reason'", path, line_no, name);
      return false;
    }
    (*out)[name] = SkipEntry{reason, false};
  }
  return true;
}

const char* signal_label(int sig) {
  const char* s = strsignal(sig);
  return s ? s : "unknown signal";
}

// A case running in a forked child, which sends its result back as JSON through a pipe. When
// the pipe or the fork fails the case runs in this process and `result` holds it (pid -1).
struct RunningCase {
  pid_t pid = -1;
  int fd = -1;
  CaseResult result;
};

RunningCase start_case_isolated(const CaseSpec& spec, const RunCaseOptions& options, int timeout_s) {
  RunningCase rc;
  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  if (pipe(fds) != 0) {
    rc.result = run_case(spec, options);
    return rc;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    rc.result = run_case(spec, options);
    return rc;
  }
  if (pid == 0) {
    close(fds[0]);
    if (timeout_s > 0) alarm(static_cast<unsigned>(timeout_s));
    const std::string text = case_result_to_json(run_case(spec, options)).dump();
    size_t off = 0;
    while (off < text.size()) {
      const ssize_t n = write(fds[1], text.data() + off, text.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fds[1]);
    std::fflush(stdout);
    _exit(0);
  }
  close(fds[1]);
  rc.pid = pid;
  rc.fd = fds[0];
  return rc;
}

// Waits for the child and turns what it sent (or how it died) into the case's result.
CaseResult finish_case_isolated(const CaseSpec& spec, RunningCase& rc, int timeout_s) {
  if (rc.pid < 0) return std::move(rc.result);
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(rc.fd, buf, sizeof(buf));
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(rc.fd);
  int wstatus = 0;
  waitpid(rc.pid, &wstatus, 0);

  CaseResult r;
  r.suite = spec.suite;
  r.name = spec.name;
  r.status = CaseStatus::kFail;
  if (WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    r.ops = model_op_types((fs::path(spec.dir) / "model.onnx").string());
    r.stage = "crash";
    r.message = sig == SIGALRM ? fmt::format("crash: timed out after {} s", timeout_s)
                               : fmt::format("crash: killed by signal {} ({})", sig, signal_label(sig));
    return r;
  }
  try {
    return case_result_from_json(nlohmann::json::parse(text));
  } catch (const std::exception& e) {
    r.stage = "crash";
    r.message = fmt::format("crash: child exited with status {} and no result ({})",
                            WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, e.what());
    return r;
  }
}

struct Counts {
  int pass = 0, fail = 0, unsupported = 0, skipped = 0;
  void add(CaseStatus s) {
    switch (s) {
      case CaseStatus::kPass: ++pass; break;
      case CaseStatus::kFail: ++fail; break;
      case CaseStatus::kUnsupported: ++unsupported; break;
      case CaseStatus::kSkipped: ++skipped; break;
    }
  }
};

std::string one_line(std::string s, size_t max_len) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > max_len) s = s.substr(0, max_len - 3) + "...";
  return s;
}

void print_summary(const std::vector<CaseResult>& results, const std::vector<std::string>& suites,
                   int max_failures_listed) {
  std::map<std::string, Counts> by_suite;
  Counts total;
  for (const CaseResult& r : results) {
    by_suite[r.suite].add(r.status);
    total.add(r.status);
  }
  fmt::print("\n{:<20} {:>6} {:>6} {:>12} {:>8}\n", "suite", "pass", "fail", "unsupported", "skipped");
  for (const std::string& s : suites) {
    const Counts& c = by_suite[s];
    fmt::print("{:<20} {:>6} {:>6} {:>12} {:>8}\n", s, c.pass, c.fail, c.unsupported, c.skipped);
  }
  fmt::print("{:<20} {:>6} {:>6} {:>12} {:>8}\n", "total", total.pass, total.fail, total.unsupported,
             total.skipped);
  const int supported = total.pass + total.fail;
  if (supported > 0) {
    fmt::print("pass rate of supported cases: {:.2f}% ({}/{})\n", 100.0 * total.pass / supported, total.pass,
               supported);
  }

  // Which ops the failures involve, so they can be routed to the family that owns them.
  std::map<std::string, int> fail_ops;
  std::vector<const CaseResult*> failures;
  for (const CaseResult& r : results) {
    if (r.status != CaseStatus::kFail) continue;
    failures.push_back(&r);
    for (const std::string& op : r.ops) ++fail_ops[op];
  }
  if (!failures.empty()) {
    fmt::print("\nfailing cases ({}):\n", failures.size());
    int listed = 0;
    for (const CaseResult* r : failures) {
      if (listed++ == max_failures_listed) {
        fmt::print("  ... and {} more (--json-out has them all)\n", failures.size() - max_failures_listed);
        break;
      }
      fmt::print("  {:<44} {}\n", r->name, one_line(r->message, 150));
    }
    std::vector<std::pair<int, std::string>> ranked;
    for (const auto& [op, n] : fail_ops) ranked.emplace_back(-n, op);
    std::sort(ranked.begin(), ranked.end());
    std::string line;
    for (const auto& [neg, op] : ranked) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", op, -neg);
    fmt::print("ops in failing cases: {}\n", one_line(line, 600));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runs the ONNX backend conformance test data on the slimrt CPU backend"};
  std::string data_dir = SLIMRT_ONNX_TESTDATA_DEFAULT;
  std::string skip_list = SLIMRT_CONFORMANCE_SKIP_LIST_DEFAULT;
  std::vector<std::string> suites;
  std::string filter;
  std::string json_out;
  bool verbose = false;
  bool no_fork = false;
  int timeout_s = 300;
  int max_listed = 30;
  double rtol = kDefaultRtol;
  double atol = kDefaultAtol;
  app.add_option("--data", data_dir, "libonnx-testdata data directory")->capture_default_str();
  app.add_option("--suite", suites, "suite(s) to run (default: node pytorch-converted pytorch-operator simple)")
      ->delimiter(',');
  app.add_option("--filter", filter, "ECMAScript regex searched in case names");
  app.add_option("--skip-list", skip_list, "reviewed skip list")->capture_default_str();
  app.add_option("--json-out", json_out, "write every case's result as JSON");
  app.add_option("--timeout", timeout_s, "seconds per case before it counts as failed (0: none)")
      ->capture_default_str();
  app.add_option("--max-listed", max_listed, "failing cases listed in the summary")->capture_default_str();
  app.add_option("--rtol", rtol, "relative tolerance")->capture_default_str();
  app.add_option("--atol", atol, "absolute tolerance")->capture_default_str();
  app.add_flag("--verbose,-v", verbose, "print a line per case");
  std::string backend = "cpu";
  std::string baseline;
  app.add_option("--backend", backend, "backend to run the cases on: cpu or cuda")->capture_default_str();
  app.add_option("--baseline", baseline,
                 "a --json-out file of another run (the CPU backend's): fail if a case it passed does not pass here");
  app.add_flag("--no-fork", no_fork, "run cases in this process (for debuggers)");
  int jobs = 1;
  app.add_option("--jobs,-j", jobs, "cases run at once, each in its own child process (not with --no-fork)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  bool engine = false;
  app.add_flag("--engine", engine,
               "build each case into an fp32 engine (passes on), load it with Runtime on --backend and run it there");
  CLI11_PARSE(app, argc, argv);
  if (suites.empty()) suites.assign(std::begin(kDefaultSuites), std::end(kDefaultSuites));

  std::map<std::string, SkipEntry> skips;
  if (!skip_list.empty()) {
    std::string error;
    if (!load_skip_list(skip_list, &skips, &error)) {
      fmt::print(stderr, "slimrt_conformance: {}\n", error);
      return 2;
    }
  }
  std::regex filter_re;
  try {
    filter_re = std::regex(filter.empty() ? std::string(".") : filter);
  } catch (const std::regex_error& e) {
    fmt::print(stderr, "slimrt_conformance: bad --filter '{}': {}\n", filter, e.what());
    return 2;
  }

  std::vector<CaseSpec> cases;
  for (const std::string& suite : suites) {
    const fs::path suite_dir = fs::path(data_dir) / suite;
    if (!fs::is_directory(suite_dir)) {
      fmt::print(stderr, "slimrt_conformance: no suite directory {}\n", suite_dir.string());
      return 2;
    }
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(suite_dir)) {
      if (entry.is_directory()) names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (std::regex_search(name, filter_re)) cases.push_back({suite, name, (suite_dir / name).string()});
    }
  }

  RunCaseOptions options;
  options.rtol = rtol;
  options.atol = atol;
  options.verbose = verbose;
  options.backend = backend;
  options.engine = engine;
  // Up to `jobs` cases run at once, each in its own child; results keep the cases' order, and
  // --verbose prints each line once every case before it has finished.
  std::vector<CaseResult> results(cases.size());
  std::vector<bool> finished(cases.size(), false);
  size_t printed = 0;
  auto record = [&](size_t i, CaseResult r) {
    results[i] = std::move(r);
    finished[i] = true;
    for (; printed < cases.size() && finished[printed]; ++printed) {
      if (!verbose) continue;
      const CaseSpec& spec = cases[printed];
      const CaseResult& done = results[printed];
      fmt::print("{:<12} {}/{} ({:.2f} s){}{}\n", case_status_name(done.status), spec.suite, spec.name, done.seconds,
                 done.message.empty() ? "" : ": ", one_line(done.message, 200));
    }
  };
  std::deque<std::pair<size_t, RunningCase>> running;
  auto finish_oldest = [&]() {
    auto& [i, rc] = running.front();
    CaseResult r = finish_case_isolated(cases[i], rc, timeout_s);
    const size_t index = i;
    running.pop_front();
    record(index, std::move(r));
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const CaseSpec& spec = cases[i];
    auto skip = skips.find(spec.suite + "/" + spec.name);
    if (skip == skips.end()) skip = skips.find(spec.name);
    if (skip != skips.end()) {
      skip->second.used = true;
      CaseResult r;
      r.suite = spec.suite;
      r.name = spec.name;
      r.status = CaseStatus::kSkipped;
      r.stage = "skip-list";
      r.message = "skipped: " + skip->second.reason;
      r.ops = model_op_types((fs::path(spec.dir) / "model.onnx").string());
      record(i, std::move(r));
    } else if (no_fork) {
      record(i, run_case(spec, options));
    } else {
      while (running.size() >= static_cast<size_t>(jobs)) finish_oldest();
      running.emplace_back(i, start_case_isolated(spec, options, timeout_s));
    }
  }
  while (!running.empty()) finish_oldest();

  // A skip entry that matches nothing is stale (renamed case, or a mistyped name); report it so
  // the list stays honest. Only meaningful when nothing was filtered out.
  if (filter.empty() && suites.size() == std::size(kDefaultSuites)) {
    for (const auto& [name, entry] : skips) {
      if (!entry.used) fmt::print("warning: skip-list entry '{}' matches no case\n", name);
    }
  }

  print_summary(results, suites, max_listed);

  if (!json_out.empty()) {
    nlohmann::json j;
    j["data_dir"] = data_dir;
    j["rtol"] = rtol;
    j["atol"] = atol;
    j["cases"] = nlohmann::json::array();
    for (const CaseResult& r : results) j["cases"].push_back(case_result_to_json(r));
    std::ofstream out(json_out);
    out << j.dump(1) << "\n";
    if (!out) {
      fmt::print(stderr, "slimrt_conformance: cannot write {}\n", json_out);
      return 2;
    }
  }

  Counts total;
  for (const CaseResult& r : results) total.add(r.status);
  fmt::print("conformance ({}): {} passed, {} failed, {} unsupported, {} skipped\n", backend, total.pass, total.fail,
             total.unsupported, total.skipped);
  if (!baseline.empty()) {
    // Every case the baseline passed must pass here too.
    std::ifstream in(baseline);
    nlohmann::json b = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (b.is_discarded() || !b.contains("cases")) {
      fmt::print(stderr, "slimrt_conformance: cannot read --baseline {}\n", baseline);
      return 2;
    }
    std::map<std::string, const CaseResult*> here;
    for (const CaseResult& r : results) here[r.suite + "/" + r.name] = &r;
    int passed = 0, regressed = 0;
    for (const auto& c : b["cases"]) {
      CaseResult base = case_result_from_json(c);
      if (base.status != CaseStatus::kPass) continue;
      auto it = here.find(base.suite + "/" + base.name);
      if (it == here.end()) continue;  // filtered out of this run
      ++passed;
      if (it->second->status != CaseStatus::kPass) {
        ++regressed;
        fmt::print("not passing on {} (passes in the baseline): {}/{}: {} {}\n", backend, base.suite, base.name,
                   case_status_name(it->second->status), one_line(it->second->message, 300));
      }
    }
    fmt::print("baseline: {} of {} cases it passed also pass on {}\n", passed - regressed, passed, backend);
    return regressed == 0 ? 0 : 1;
  }
  return total.fail == 0 ? 0 : 1;
}
