// slimrt-load: loads an engine with Runtime::load and reports time, host memory and a byte check.
//
//   slimrt-load model.engine --json
//   cat model.engine | slimrt-load - --reader pipe
//
// Linked against the runtime library only (no protobuf, no ONNX): it is what a deployed service
// does to load an engine. Host memory: VmRSS is read once the runtime (and its CUDA context)
// exists; the peak (VmHWM) is reset there through /proc/self/clear_refs when the kernel allows,
// and read again after the load, so rss_growth_kib is the load's own peak growth. The device
// check (after the measurement) copies the weights region back in 64 MiB pieces and compares
// every checksum chunk's XXH3 with the engine's metadata, which the parser verified against the
// file: "ok" means the loaded bytes equal the file's.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/checksum.h"
#include "runtime/runtime_internal.h"
#include "slimrt/logging.h"
#include "slimrt/runtime.h"
#include "slimrt/stream_reader.h"

namespace {

using namespace slimrt;

constexpr int kExitOk = 0, kExitFailure = 1, kExitBadInput = 2;

int64_t proc_status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size()));
  }
  return -1;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

int fail(const Status& s) {
  fmt::print(stderr, "slimrt-load: error: {}\n", s.to_string());
  return s.is_user_error() ? kExitBadInput : kExitFailure;
}

// Compares the loaded region chunk by chunk with the metadata's hashes. Returns the first bad
// chunk's description, or "" when every chunk matches.
Result<std::string> check_region(const Engine& engine) {
  const EngineInfo& info = engine.info();
  const uint64_t chunk = info.header.chunk_size, total = info.header.weights_size;
  if (total == 0) return std::string();
  const uint64_t piece = std::max<uint64_t>(chunk, (uint64_t{64} << 20) / chunk * chunk);
  std::vector<uint8_t> host(engine.weights_memory_kind() == MemoryKind::kDevice ? piece : 0);
  const auto* base = static_cast<const uint8_t*>(engine.weights_data());
  for (uint64_t begin = 0; begin < total; begin += piece) {
    const uint64_t n = std::min(piece, total - begin);
    const uint8_t* data = base + begin;
    if (!host.empty()) {
      SLIMRT_RETURN_IF_ERROR(runtime_detail::cuda_copy_to_host(host.data(), base + begin, n));
      data = host.data();
    }
    for (uint64_t off = 0; off < n; off += chunk) {
      const uint64_t c = (begin + off) / chunk;
      const uint64_t len = std::min(chunk, n - off);
      if (engine::xxh3_64(data + off, len) != info.chunk_hashes[c])
        return fmt::format("chunk {} (region offset {}) differs from the file", c, begin + off);
    }
  }
  return std::string();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"slimrt-load: load an engine onto the GPU (or the host) and report time and memory.\n"
               "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad engine."};
  std::string path, reader_kind = "file", backend, read_mode = "auto";
  uint32_t threads = 0, buffers = kDefaultStagingBuffers;
  uint64_t staging_mib = kDefaultStagingBufferBytes >> 20;
  bool no_verify = false, no_device_check = false, json = false, verbose = false;
  app.add_option("engine", path, "engine file ('-' with --reader pipe: standard input)")->required();
  app.add_option("--reader", reader_kind,
                 "file (pread, as Runtime::load_file), auto (pread, or O_DIRECT when the file is mostly not in "
                 "the page cache), direct (O_DIRECT), mmap, or pipe (non-seekable)")
      ->check(CLI::IsMember({"auto", "file", "direct", "mmap", "pipe"}));
  app.add_option("--threads", threads, "reader threads (0: automatic)");
  app.add_option("--read-mode", read_mode,
                 "auto (each staging slot read in parallel when it is in the page cache, else by one sequential "
                 "read), parallel, or streamed")
      ->check(CLI::IsMember({"auto", "parallel", "streamed"}));
  app.add_option("--staging-mib", staging_mib, "size of each pinned staging buffer, MiB")->check(CLI::Range(1, 4096));
  app.add_option("--staging-buffers", buffers, "number of pinned staging buffers")->check(CLI::Range(2, 64));
  app.add_option("--backend", backend, "cuda or cpu (default: cuda when a GPU is usable)");
  app.add_flag("--no-verify", no_verify, "skip the per-chunk checksums during the load");
  app.add_flag("--no-device-check", no_device_check, "skip copying the weights back to compare with the file");
  app.add_flag("--json", json, "print one JSON object");
  app.add_flag("-v,--verbose", verbose, "print the loader's log: its read decisions, slot by slot, and a summary");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitBadInput;
  }
  set_log_sink([](LogSeverity severity, std::string_view message) {
    fmt::print(stderr, "slimrt-load: {}: {}\n", log_severity_name(severity), message);
  });
  set_log_level(verbose ? LogSeverity::kVerbose : LogSeverity::kWarning);
  if (backend.empty()) backend = Runtime::default_backend();

  Result<std::unique_ptr<Runtime>> rt = Runtime::create({.backend = backend});
  if (!rt.ok()) return fail(rt.status());

  Result<std::unique_ptr<StreamReader>> reader = not_found("no reader");
  if (reader_kind == "pipe" && path == "-") {
    reader = make_fd_stream_reader(STDIN_FILENO, "standard input");
  } else if (reader_kind == "pipe") {
    // A named file read as a stream: exercises the non-seekable path without a shell pipe.
    Result<std::unique_ptr<StreamReader>> file = open_file_reader(path);
    if (!file.ok()) return fail(file.status());
    std::shared_ptr<StreamReader> inner = std::move(file).value();
    reader = make_callback_reader(
        [inner](void* dst, uint64_t capacity) -> int64_t {
          const uint64_t n = std::min<uint64_t>(capacity, *inner->size() - inner->position());
          if (n == 0) return 0;
          return inner->read(dst, n).ok() ? static_cast<int64_t>(n) : -1;
        },
        "stream over '" + path + "'");
  } else if (reader_kind == "file") {
    reader = std::unique_ptr<StreamReader>();  // Runtime::load_file opens the file itself
  } else if (reader_kind == "mmap") {
    reader = open_mmap_reader(path);
  } else {
    FileReaderOptions fo;
    fo.direct_io = reader_kind == "direct";
    fo.direct_io_when_uncached = reader_kind == "auto";  // "auto" or "direct" here
    reader = open_file_reader(path, fo);
  }
  if (!reader.ok()) return fail(reader.status());

  LoadOptions opts;
  opts.staging_buffer_bytes = staging_mib << 20;
  opts.staging_buffers = buffers;
  opts.reader_threads = threads;
  opts.read_mode = read_mode == "parallel" ? ReadMode::kParallel
                   : read_mode == "streamed" ? ReadMode::kStreamed
                                             : ReadMode::kAuto;
  opts.verify_checksums = !no_verify;
  const int64_t rss_before = proc_status_kib("VmRSS");
  const bool peak_reset = reset_peak_rss();
  const int64_t hwm_before = proc_status_kib("VmHWM");
  // "file" is what a service calls: Runtime::load_file.
  Result<std::shared_ptr<Engine>> engine =
      reader_kind == "file" ? (*rt)->load_file(path, opts) : (*rt)->load(**reader, opts);
  const int64_t hwm_after = proc_status_kib("VmHWM");
  if (!engine.ok()) return fail(engine.status());
  const LoadStats& st = (*engine)->load_stats();
  // Without a reset, the peak may predate the load; the growth is then measured from it.
  const int64_t growth = hwm_after - (peak_reset ? rss_before : std::max(rss_before, hwm_before));

  std::string check = "skipped";
  double check_seconds = 0;
  if (!no_device_check) {
    const double t0 = runtime_detail::now_seconds();
    Result<std::string> bad = check_region(**engine);
    if (!bad.ok()) return fail(bad.status());
    check = bad->empty() ? "ok" : "mismatch: " + *bad;
    check_seconds = runtime_detail::now_seconds() - t0;
  }
  const uint64_t file_bytes = (*engine)->info().header.file_size;
  const double gbps = st.total_seconds > 0 ? static_cast<double>(file_bytes) / st.total_seconds / 1e9 : 0;
  if (json) {
    nlohmann::json j = {{"engine", path},
                        {"reader", st.source},
                        {"backend", backend},
                        {"weights_bytes", st.weights_bytes},
                        {"file_bytes", file_bytes},
                        {"load_seconds", st.total_seconds},
                        {"parse_seconds", st.parse_seconds},
                        {"weights_seconds", st.weights_seconds},
                        {"gbps", gbps},
                        {"rss_before_kib", rss_before},
                        {"vmhwm_after_kib", hwm_after},
                        {"rss_growth_kib", growth},
                        {"peak_reset", peak_reset},
                        {"device_check", check},
                        {"device_check_seconds", check_seconds},
                        {"threads", st.reader_threads},
                        {"read_mode", read_mode},
                        {"slots_parallel", st.slots_parallel},
                        {"slots_streamed", st.slots_streamed},
                        {"resident_fraction", st.resident_fraction ? nlohmann::json(*st.resident_fraction)
                                                                   : nlohmann::json(nullptr)},
                        {"staging_bytes", st.staging_bytes},
                        {"checksums_verified", st.checksums_verified}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("loaded {} ({} bytes of weights) on {} in {:.3f} s ({:.2f} GB/s) through {}\n", path, st.weights_bytes,
               backend, st.total_seconds, gbps, st.source);
    fmt::print("  reader threads {}, staging {} MiB, checksums {}\n", st.reader_threads, st.staging_bytes >> 20,
               st.checksums_verified ? "verified" : "not verified");
    if (st.slots_parallel + st.slots_streamed > 0) {
      fmt::print("  staging slots read in parallel {}, streamed {}{}\n", st.slots_parallel, st.slots_streamed,
                 st.resident_fraction ? fmt::format(" ({:.0f}% in the page cache at the start)", *st.resident_fraction * 100)
                                      : std::string());
    }
    fmt::print("  host memory: peak growth {:.1f} MiB during the load (VmRSS before {:.1f} MiB)\n", growth / 1024.0,
               rss_before / 1024.0);
    fmt::print("  byte check against the file: {}\n", check);
  }
  return check.rfind("mismatch", 0) == 0 ? kExitFailure : kExitOk;
}
