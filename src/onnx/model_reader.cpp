// Reading model files: whole-file reads, protobuf parsing with a raised size limit, IR version
// and opset checks, and read-only memory maps of external data files.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include "onnx/onnx_internal.h"

namespace slimrt::onnx_import {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Opens and stats a regular file; kNotFound / kIoError messages name `what`, the path and the OS
// reason. A directory or special file is bad input (kInvalidArgument). O_NONBLOCK: opening a
// FIFO must not wait for a writer; it is refused right after.
Result<int> open_regular_file(const std::string& path, const std::string& what, uint64_t* size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR)
      return not_found(what + " '" + path + "' does not exist (" + errno_text(err) + ")");
    return io_error("cannot open " + what + " '" + path + "': " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error("cannot stat " + what + " '" + path + "': " + errno_text(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return invalid_argument(what + " '" + path + "' is a directory, not a file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument(what + " '" + path + "' is not a regular file (a device, FIFO or socket)");
  }
  // Regular files ignore O_NONBLOCK, but reads should not see it.
  (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

}  // namespace

Result<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path, const std::string& what) {
  uint64_t size = 0;
  SLIMRT_ASSIGN_OR_RETURN(int fd, open_regular_file(path, what, &size));
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = size;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return io_error("cannot memory-map " + what + " '" + path + "' (" + std::to_string(size) +
                      " bytes): " + errno_text(err));
    }
    f->data_ = static_cast<const uint8_t*>(p);
    // Weights and models are read front to back, once: read ahead aggressively.
    ::madvise(p, size, MADV_SEQUENTIAL);
    // Releasable (release_mapped_pages), and big constants built from it go to scratch files
    // beside it (allocate_releasable).
    remember_mapping(p, size, std::filesystem::path(path).parent_path().string());
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  return f;
}

MappedFile::~MappedFile() {
  if (!data_) return;
  forget_mapping(data_);
  ::munmap(const_cast<uint8_t*>(data_), size_);
}

Result<std::shared_ptr<MappedFile>> ExternalDataResolver::map(const std::string& location,
                                                              const std::string& tensor_name) {
  namespace fs = std::filesystem;
  if (location.empty())
    return invalid_argument(tensor_name + ": external data has an empty 'location'");
  const fs::path rel(location);
  if (rel.is_absolute()) {
    return invalid_argument(tensor_name + ": external data location '" + location +
                            "' is an absolute path; ONNX allows only paths relative to the model's "
                            "directory");
  }
  const fs::path norm = rel.lexically_normal();
  if (norm.empty() || *norm.begin() == "..") {
    return invalid_argument(tensor_name + ": external data location '" + location +
                            "' escapes the model's directory; ONNX allows only paths inside it");
  }
  const std::string full = (fs::path(base_dir_.empty() ? "." : base_dir_) / norm).string();
  auto known = real_of_.find(full);
  if (known != real_of_.end()) return files_.at(known->second);
  // The text is inside; the file it leads to, once links are resolved, must be too.
  char* resolved = ::realpath(full.c_str(), nullptr);
  if (resolved == nullptr) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return not_found(tensor_name + ": external data file '" + location + "' not found (looked for '" + full +
                       "': " + errno_text(err) + ")");
    }
    return io_error(tensor_name + ": cannot resolve external data file '" + full + "': " + errno_text(err));
  }
  const std::string real(resolved);
  std::free(resolved);
  SLIMRT_ASSIGN_OR_RETURN(std::vector<std::string> roots, allowed_roots());
  const bool inside = std::any_of(roots.begin(), roots.end(), [&](const std::string& root) {
    return root == "/" || (real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
                           real[root.size()] == '/');
  });
  if (!inside) {
    return invalid_argument(tensor_name + ": external data location '" + location + "' leads to '" + real +
                            "' (through a symbolic link), outside the model's directory '" + roots.front() +
                            "'; slimrt reads external data only from inside it");
  }
  auto it = files_.find(real);
  if (it == files_.end()) {
    Result<std::shared_ptr<MappedFile>> r = MappedFile::open(real, "external data file");
    if (!r.ok()) return r.status().with_context(tensor_name + " (location '" + location + "')");
    it = files_.emplace(real, r.value()).first;
  }
  real_of_[full] = real;
  return it->second;
}

Result<std::vector<std::string>> ExternalDataResolver::allowed_roots() {
  if (roots_) return *roots_;
  std::vector<std::string> roots;
  const std::string base = base_dir_.empty() ? "." : base_dir_;
  char* real = ::realpath(base.c_str(), nullptr);
  if (real == nullptr)
    return io_error("cannot resolve the model's directory '" + base + "': " + errno_text(errno));
  roots.emplace_back(real);
  std::free(real);
  struct stat st {};
  if (!model_path_.empty() && ::lstat(model_path_.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    if (char* model_real = ::realpath(model_path_.c_str(), nullptr)) {
      roots.push_back(std::filesystem::path(model_real).parent_path().string());
      std::free(model_real);
    }
  }
  roots_ = roots;
  return roots;
}

std::vector<std::string> ExternalDataResolver::mapped_paths() const {
  std::vector<std::string> out;
  for (const auto& [real, file] : files_) out.push_back(real);
  return out;
}

Result<std::string> read_file(const std::string& path, const std::string& what) {
  uint64_t size = 0;
  SLIMRT_ASSIGN_OR_RETURN(int fd, open_regular_file(path, what, &size));
  std::string out;
  try {
    out.resize(size);
  } catch (const std::bad_alloc&) {
    ::close(fd);
    return out_of_memory("cannot allocate " + std::to_string(size) + " bytes to read " + what + " '" + path + "'");
  }
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, out.data() + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return io_error("cannot read " + what + " '" + path + "': " + errno_text(err));
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  if (done != size) {
    return io_error(what + " '" + path + "' shrank while being read (" + std::to_string(done) + " of " +
                    std::to_string(size) + " bytes)");
  }
  return out;
}

Status parse_model(const void* data, size_t size, const std::string& label, onnx::ModelProto* model) {
  if (size == 0) return invalid_argument(label + " is empty (0 bytes); it is not an ONNX model");
  // Protobuf messages cannot exceed 2 GiB; larger models keep their weights as external data.
  if (size > static_cast<size_t>(INT_MAX)) {
    return unsupported(label + " is " + std::to_string(size) +
                       " bytes; a serialized ONNX protobuf cannot exceed 2 GiB (store the weights as "
                       "external data)");
  }
  google::protobuf::io::ArrayInputStream array(data, static_cast<int>(size));
  google::protobuf::io::CodedInputStream coded(&array);
  coded.SetTotalBytesLimit(static_cast<int>(size));
  coded.SetRecursionLimit(1024);
  if (!model->ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    return invalid_argument(label + " is not a valid ONNX model (protobuf parse failed: the " +
                            std::to_string(size) + " bytes are truncated or not an ONNX protobuf)");
  }
  // Arbitrary bytes sometimes parse as a protobuf made of unknown fields.
  if (model->ir_version() == 0 && !model->has_graph()) {
    return invalid_argument(label + " is not a valid ONNX model (no ir_version and no graph)");
  }
  if (!model->has_graph()) return invalid_argument(label + " is not a valid ONNX model (it has no graph)");
  return Status::OK();
}

Result<int64_t> check_model_versions(const onnx::ModelProto& model, const std::string& label) {
  const int64_t ir = model.ir_version();
  if (ir < kMinIrVersion || ir > kMaxIrVersion) {
    return unsupported(label + " has ONNX IR version " + std::to_string(ir) + "; slimrt supports IR versions " +
                       std::to_string(kMinIrVersion) + " to " + std::to_string(kMaxIrVersion));
  }
  std::optional<int64_t> opset;
  for (const auto& imp : model.opset_import()) {
    if (imp.domain().empty() || imp.domain() == "ai.onnx") {
      if (opset && *opset != imp.version()) {
        return invalid_argument(label + " imports the default ONNX domain twice (opsets " + std::to_string(*opset) +
                                " and " + std::to_string(imp.version()) + ")");
      }
      opset = imp.version();
    }
  }
  // A model whose nodes all live in other domains may omit the default domain; the importer
  // reports those nodes' domains instead.
  if (!opset) return int64_t{0};
  if (*opset < kMinOpset || *opset > kMaxOpset) {
    return unsupported(label + " uses opset " + std::to_string(*opset) +
                       " of the default ONNX domain; slimrt supports opsets " + std::to_string(kMinOpset) + " to " +
                       std::to_string(kMaxOpset));
  }
  return *opset;
}

}  // namespace slimrt::onnx_import
