// Pieces shared by the stream readers (src/loader/stream_reader_*.cpp). Not a public header.
//
// The readers differ only in where bytes come from (pread, a mapping, a span, a callback); the
// error messages and the device-destination staging are the same for all of them, so they live
// here to keep every reader's messages identical in form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "slimrt/status.h"
#include "slimrt/stream_reader.h"

namespace slimrt::stream_reader_detail {

// errno's text, thread-safe (strerror is not).
std::string errno_text(int err);

// "<who>: cannot read <requested> bytes at offset <offset>: only <available> bytes available
// (size <size>)" as kDataLoss. `size` is left out for streams of unknown length.
Status short_read_error(const std::string& who, uint64_t offset, uint64_t requested, uint64_t available,
                        std::optional<uint64_t> size);

// "<who>: seek to offset <offset> is past the end (size <size>)" as kOutOfRange.
Status seek_past_end_error(const std::string& who, uint64_t offset, uint64_t size);

// True when [offset, offset + bytes) lies inside [0, size); written so that huge values cannot
// overflow.
inline bool range_inside(uint64_t offset, uint64_t bytes, uint64_t size) {
  return offset <= size && bytes <= size - offset;
}

// Opens `path` read-only (O_CLOEXEC plus `extra_flags`) and checks that it is a regular file.
// A missing file is kNotFound naming the path; anything else the OS refuses (permissions, a
// directory, a FIFO) is kIoError naming the path and errno's text. On failure `failed_errno`
// (when given) receives the errno of the failed call, or 0 for a file of the wrong kind.
struct OpenedFile {
  int fd = -1;
  uint64_t size = 0;
};
Result<OpenedFile> open_regular_file(const std::string& path, int extra_flags, int* failed_errno = nullptr);

// Page-cache residency, for StreamReader::resident_fraction.
//
// mincore over [addr, addr + bytes) of a file mapping (addr page-aligned or not; the pages
// touching the range count): the fraction of those pages in the page cache. The kernel reports
// the cache only for files the caller owns or may write (others show just the pages this process
// has mapped), hence the second way below. Ranges over 4096 pages are estimated from 64 evenly
// spread windows of 16 pages (a full scan of 13.5 GB costs 0.15-0.5 s). nullopt when mincore
// fails or bytes is 0.
std::optional<double> mapped_resident_fraction(const void* addr, uint64_t bytes);
// Non-blocking probe reads (preadv2 RWF_NOWAIT, one 4 KiB page each) of up to `samples` pages
// spread evenly over [offset, offset + bytes) of `fd`: the fraction that came back without
// waiting for the device. Works for any readable file; `fd` should be its own descriptor with
// POSIX_FADV_RANDOM, so that the probes neither start readahead nor disturb another reader's.
// nullopt when the kernel does not support RWF_NOWAIT or bytes is 0.
std::optional<double> probed_resident_fraction(int fd, uint64_t offset, uint64_t bytes, uint32_t samples = 16);
// Whether mincore on a mapping of this file shows its page cache to this process (the kernel's
// rule: the owner, a capable user, or a writer).
bool mincore_sees_page_cache(const std::string& path, uint32_t owner_uid);

// Fills `n` host bytes at `host` with the next piece of the read; pieces arrive in order and
// `done` is how many bytes of the read came before this piece.
using HostFill = std::function<Status(void* host, uint64_t done, uint64_t n)>;

// Device destinations. Built with SLIMRT_HAVE_CUDA, the bytes are staged through a small
// double-buffered pinned buffer (filled by `fill`, copied with cudaMemcpyAsync on `stream`,
// which is synchronized before returning). Without CUDA both are kUnsupported.
Status read_into_device(const std::string& who, void* dst, uint64_t bytes, void* stream, const HostFill& fill);
// The bytes are already in host memory (a mapping or a span): one copy, then a synchronize.
Status copy_host_to_device(const std::string& who, void* dst, const void* src, uint64_t bytes, void* stream);

// A reader over bytes already in memory. The span reader uses it as is; the mmap reader owns the
// mapping and hands its address here.
class MemoryReader : public StreamReader {
 public:
  MemoryReader(const std::byte* data, uint64_t size, std::string name)
      : data_(data), size_(size), name_(std::move(name)) {}

  std::string describe() const override { return name_; }
  std::optional<uint64_t> size() const override { return size_; }
  bool seekable() const override { return true; }
  uint64_t position() const override { return position_; }
  Status seek(uint64_t offset) override;
  Status read(void* dst, uint64_t bytes, MemoryKind dst_kind = MemoryKind::kHost, void* stream = nullptr) override;
  Status read_at(uint64_t offset, void* dst, uint64_t bytes) const override;
  const void* data_at(uint64_t offset, uint64_t bytes) const override;

 protected:
  // The mmap reader maps after construction of the base (the name needs the path only).
  void reset_bytes(const std::byte* data, uint64_t size) {
    data_ = data;
    size_ = size;
  }

 private:
  const std::byte* data_;
  uint64_t size_;
  std::string name_;
  uint64_t position_ = 0;
};

}  // namespace slimrt::stream_reader_detail
