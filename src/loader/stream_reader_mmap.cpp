// The mmap reader: a read-only private mapping of the whole file, read like a span.
//
// The mapping costs address space; pages come in as they are touched and stay in the process's
// resident set (file-backed, clean) until the kernel needs the memory. A loader that streams the
// file calls release() behind itself, which drops the pages it has consumed, so host memory stays
// bounded for any file size. data_at() hands
// out pointers into the mapping, which lets a loader copy to the device without a staging copy.
// A file truncated by someone else while mapped makes the next touch of a vanished page raise
// SIGBUS; that is inherent to mmap, and the pread reader is the choice where files may change.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "loader/stream_reader_internal.h"

namespace slimrt {
namespace stream_reader_detail {
namespace {

class MmapReader final : public MemoryReader {
 public:
  explicit MmapReader(const std::string& path) : MemoryReader(nullptr, 0, fmt::format("mapped file '{}'", path)) {}
  ~MmapReader() override {
    if (mapping_ != nullptr) ::munmap(mapping_, mapped_bytes_);
  }
  MmapReader(const MmapReader&) = delete;
  MmapReader& operator=(const MmapReader&) = delete;

  void release(uint64_t offset, uint64_t bytes) const override {
    if (mapping_ == nullptr || !range_inside(offset, bytes, mapped_bytes_)) return;
    // Whole pages only: a partial page may still hold bytes someone else reads.
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t begin = (offset + page - 1) / page * page;
    const uint64_t end = (offset + bytes) / page * page;
    if (end <= begin) return;
    // Private read-only file mapping: dropped pages are re-read from the file if touched again.
    (void)::madvise(static_cast<char*>(mapping_) + begin, static_cast<size_t>(end - begin), MADV_DONTNEED);
  }

  std::optional<double> resident_fraction(uint64_t offset, uint64_t bytes) const override {
    if (mapping_ == nullptr || !cache_visible_ || !range_inside(offset, bytes, mapped_bytes_)) return std::nullopt;
    return mapped_resident_fraction(static_cast<const std::byte*>(mapping_) + offset, bytes);
  }

  // `cache_visible`: whether mincore shows this process the file's page cache
  // (mincore_sees_page_cache); otherwise the reader does not guess.
  void adopt_mapping(void* mapping, uint64_t bytes, bool cache_visible) {
    mapping_ = mapping;
    mapped_bytes_ = bytes;
    cache_visible_ = cache_visible;
    reset_bytes(static_cast<const std::byte*>(mapping), bytes);
  }

 private:
  void* mapping_ = nullptr;
  uint64_t mapped_bytes_ = 0;
  bool cache_visible_ = false;
};

}  // namespace
}  // namespace stream_reader_detail

Result<std::unique_ptr<StreamReader>> open_mmap_reader(const std::string& path) {
  using namespace stream_reader_detail;
  SLIMRT_ASSIGN_OR_RETURN(OpenedFile file, open_regular_file(path, 0));
  auto reader = std::make_unique<MmapReader>(path);
  // mmap refuses a length of 0, and an empty file has nothing to map: an empty reader.
  if (file.size > 0) {
    if (file.size > static_cast<uint64_t>(SIZE_MAX)) {
      ::close(file.fd);
      return out_of_range(fmt::format("cannot map file '{}': {} bytes do not fit the address space", path, file.size));
    }
    void* mapping = ::mmap(nullptr, static_cast<size_t>(file.size), PROT_READ, MAP_PRIVATE, file.fd, 0);
    if (mapping == MAP_FAILED) {
      const int err = errno;
      ::close(file.fd);
      return io_error(fmt::format("cannot map file '{}' ({} bytes): {}", path, file.size, errno_text(err)));
    }
    // Loads read front to back: ask for aggressive readahead. Only a hint; failure is harmless.
    (void)::madvise(mapping, static_cast<size_t>(file.size), MADV_SEQUENTIAL);
    struct stat st {};
    const bool visible = ::fstat(file.fd, &st) == 0 && mincore_sees_page_cache(path, static_cast<uint32_t>(st.st_uid));
    reader->adopt_mapping(mapping, file.size, visible);
  }
  // The mapping keeps its own reference to the file.
  ::close(file.fd);
  return std::unique_ptr<StreamReader>(std::move(reader));
}

}  // namespace slimrt
