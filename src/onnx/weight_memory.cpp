// Releasable host memory of a build: the registry of mappings and the scratch files
// (weight_memory.h).
#include "onnx/weight_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

namespace slimrt::onnx_import {

namespace {

struct Mapping {
  uintptr_t end = 0;
  std::string directory;
  bool scratch = false;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<uintptr_t, Mapping>& registry() {
  static std::map<uintptr_t, Mapping> m;
  return m;
}

void remember(const void* begin, uint64_t bytes, std::string directory, bool scratch) {
  const auto b = reinterpret_cast<uintptr_t>(begin);
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[b] = Mapping{b + bytes, std::move(directory), scratch};
}

// The mapping holding [begin, end), or nullptr. The registry's lock must be held.
const Mapping* find_locked(uintptr_t begin, uintptr_t end, uintptr_t* start) {
  const auto& live = registry();
  auto it = live.upper_bound(begin);
  if (it == live.begin()) return nullptr;
  --it;
  if (begin < it->first || end > it->second.end) return nullptr;
  *start = it->first;
  return &it->second;
}

// An unlinked file of `bytes` allocated bytes (reads as zeros) in `dir`, or -1. Allocated up
// front so that writing through the mapping cannot fail later for want of space (which would be
// SIGBUS, not an error).
int make_scratch_file(const std::string& dir, uint64_t bytes) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    // Filesystems without O_TMPFILE: a named file, unlinked at once.
    std::string name = (std::filesystem::path(dir) / ".slimrt-scratch-XXXXXX").string();
    fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) return -1;
    ::unlink(name.c_str());
  }
  int r = -1;
  do {
    r = ::fallocate(fd, 0, 0, static_cast<off_t>(bytes));
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The directories to try for scratch files: those of the mapped model files first (the disk
// the user gave the model on), then $TMPDIR and /tmp. Empty when no model file is mapped.
std::vector<std::string> scratch_directories() {
  std::vector<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    for (const auto& [begin, m] : registry()) {
      if (m.scratch) continue;
      const std::string d = m.directory.empty() ? "." : m.directory;
      if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
    }
  }
  if (dirs.empty()) return dirs;
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') dirs.emplace_back(tmp);
  dirs.emplace_back("/tmp");
  return dirs;
}

}  // namespace

void remember_mapping(const void* begin, uint64_t bytes, const std::string& directory) {
  remember(begin, bytes, directory, false);
}

void forget_mapping(const void* begin) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().erase(reinterpret_cast<uintptr_t>(begin));
}

bool release_mapped_pages(const void* data, uint64_t bytes) {
  if (bytes == 0) return false;
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t end = begin + bytes;
  uintptr_t start = 0;
  uintptr_t mapping_end = 0;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    const Mapping* m = find_locked(begin, end, &start);
    if (m == nullptr) return false;
    mapping_end = m->end;
  }
  // Mappings start page-aligned; their last page may be partly past the end.
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t from = begin / page * page;
  const uintptr_t to = std::min((end + page - 1) / page * page, (mapping_end + page - 1) / page * page);
  if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
  return true;
}

Result<Tensor> allocate_releasable(DataType dtype, std::vector<int64_t> shape) {
  uint64_t bytes = dtype_size(dtype);
  for (int64_t d : shape) {
    // Negative dims and overflow: Tensor::allocate gives the error.
    if (d < 0 || (d > 0 && bytes > UINT64_MAX / static_cast<uint64_t>(d))) return Tensor::allocate(dtype, std::move(shape));
    bytes *= static_cast<uint64_t>(d);
  }
  if (bytes < kReleasableMinBytes || bytes > static_cast<uint64_t>(SIZE_MAX)) return Tensor::allocate(dtype, std::move(shape));
  for (const std::string& dir : scratch_directories()) {
    const int fd = make_scratch_file(dir, bytes);
    if (fd < 0) continue;
    void* p = ::mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);  // the mapping keeps the file; it goes with the mapping
    if (p == MAP_FAILED) continue;
    remember(p, bytes, std::string(), true);
    return Tensor::adopt(p, dtype, std::move(shape), MemoryKind::kHost, [bytes](void* q) {
      forget_mapping(q);
      ::munmap(q, static_cast<size_t>(bytes));
    });
  }
  return Tensor::allocate(dtype, std::move(shape));
}

bool is_scratch_mapped(const void* data) {
  const auto b = reinterpret_cast<uintptr_t>(data);
  uintptr_t start = 0;
  std::lock_guard<std::mutex> lock(registry_mutex());
  const Mapping* m = find_locked(b, b + 1, &start);
  return m != nullptr && m->scratch;
}

}  // namespace slimrt::onnx_import
