// slimrt/stream_reader.h: where engine bytes come from.
//
//   Result<std::unique_ptr<StreamReader>> r = open_file_reader("model.engine", {.direct_io = true});
//   SLIMRT_RETURN_IF_ERROR((*r)->seek(4096));
//   SLIMRT_RETURN_IF_ERROR((*r)->read(host_buffer, 1 << 20));
//
// Modeled on TensorRT's IStreamReaderV2: a reader has seek() and read(dst, bytes, stream), and
// `dst` may be host or device memory (a device destination is staged through pinned memory by the
// reader or the loader; readers built without CUDA refuse it). Seekable readers (file, mmap,
// span) also offer read_at(), which is safe to call from several threads at once, so the loader
// can read one file with several threads. A callback reader wraps a non-seekable source (a pipe,
// a socket): it can only move forward, and seek() to an earlier offset is kUnsupported.
//
// Every read either fills all `bytes` or fails: a short source is kDataLoss naming the offset,
// the bytes requested and the bytes available; an OS error is kIoError with errno's text.
// A failed read leaves a seekable reader's position() where it was; a stream cannot give back
// what it consumed, so its position() counts the bytes taken before the failure.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {

class StreamReader {
 public:
  virtual ~StreamReader() = default;

  // "file 'model.engine'", "pipe", ...: used in error messages.
  virtual std::string describe() const = 0;
  // Total bytes when known (files, mappings, spans); nullopt for streams of unknown length.
  virtual std::optional<uint64_t> size() const = 0;
  virtual bool seekable() const = 0;
  // The offset of the next read().
  virtual uint64_t position() const = 0;

  // Moves to `offset`. Non-seekable readers skip forward by reading and discarding, and refuse
  // to go back (kUnsupported). Past the end is kOutOfRange.
  virtual Status seek(uint64_t offset) = 0;
  // Reads exactly `bytes` at position() into `dst` and advances. `dst_kind` says where dst
  // lives; `stream` is a cudaStream_t (as void*) used for device destinations, may be null.
  virtual Status read(void* dst, uint64_t bytes, MemoryKind dst_kind = MemoryKind::kHost,
                      void* stream = nullptr) = 0;
  // Positional host read that leaves position() alone; thread-safe. kUnsupported when
  // !seekable().
  virtual Status read_at(uint64_t offset, void* dst, uint64_t bytes) const = 0;
  // A pointer to `bytes` at `offset` that stays valid while the reader lives, when the bytes are
  // already in memory (mmap, span); nullptr otherwise. Lets a loader skip a copy.
  virtual const void* data_at(uint64_t /*offset*/, uint64_t /*bytes*/) const { return nullptr; }
  // A hint that bytes [offset, offset + bytes) will not be read again. The mmap reader drops the
  // whole pages inside the range from the process (madvise MADV_DONTNEED; the file is untouched
  // and a later read maps them again), so that streaming a big mapping does not grow the resident
  // set; other readers ignore it. Thread-safe.
  virtual void release(uint64_t /*offset*/, uint64_t /*bytes*/) const {}
  // The fraction in [0, 1] of [offset, offset + bytes) that a read would find in memory rather
  // than on a device: the page cache for the buffered file and mmap readers (by mincore, or by
  // non-blocking probe reads where the kernel hides the cache of files the caller may not
  // write); large ranges are estimated from evenly spread samples. nullopt when the reader
  // cannot tell or the question does not apply (spans are memory, streams are read front to
  // back, O_DIRECT always goes to the device). The loader uses it to pick, per staging slot,
  // parallel reads (memory) or one sequential stream (a disk). Thread-safe.
  virtual std::optional<double> resident_fraction(uint64_t /*offset*/, uint64_t /*bytes*/) const {
    return std::nullopt;
  }
};

struct FileReaderOptions {
  // Open with O_DIRECT (bypasses the page cache; reads must use aligned buffers, offsets and
  // sizes, which the reader arranges with an internal aligned bounce buffer when the caller's
  // are not). Falls back to buffered I/O where the filesystem refuses O_DIRECT, and says so in
  // describe().
  bool direct_io = false;
  // When direct_io is false: look at how much of the file is in the page cache when opening
  // (mincore over a temporary mapping) and use O_DIRECT when less than half of it is, so a cold
  // file goes straight from the disk into the caller's buffers and a warm one comes from the
  // cache. describe() says which was chosen. Off by default: on the GPU machine (8 MiB
  // readahead) buffered reads were as fast cold (docs/loading.md); hosts with small readahead
  // windows or memory pressure may prefer it.
  bool direct_io_when_uncached = false;
};

// The fraction in [0, 1] of the file's pages that are in the page cache, or nullopt when it
// cannot be told (mincore unsupported, an empty file).
std::optional<double> page_cache_fraction(const std::string& path);

// pread-based file reader. kNotFound / kIoError name the path.
Result<std::unique_ptr<StreamReader>> open_file_reader(const std::string& path, const FileReaderOptions& options = {});
// Read-only private mapping of the whole file (a zero-length file is an empty reader).
Result<std::unique_ptr<StreamReader>> open_mmap_reader(const std::string& path);
// Reads from memory the caller keeps alive.
std::unique_ptr<StreamReader> make_span_reader(std::span<const std::byte> bytes, std::string name = "memory");
// Wraps a callback that fills up to `capacity` bytes and returns how many it wrote (0 at the
// end of the stream, -1 on error). For pipes and sockets: not seekable, size unknown.
using ReadCallback = std::function<int64_t(void* dst, uint64_t capacity)>;
std::unique_ptr<StreamReader> make_callback_reader(ReadCallback callback, std::string name = "callback stream");
// A callback reader over a file descriptor (pipe, socket, stdin); the caller keeps fd open. A
// pipe's kernel buffer is enlarged (F_SETPIPE_SZ, best effort) so a writer can run ahead.
std::unique_ptr<StreamReader> make_fd_stream_reader(int fd, std::string name);

}  // namespace slimrt
