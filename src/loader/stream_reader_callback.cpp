// Readers over non-seekable streams: a user callback, or a file descriptor (pipe, socket, stdin).
//
// Both can only move forward. seek() to a later offset reads and discards through a 64 KiB
// scratch buffer (allocated on the first skip, so memory stays bounded whatever the distance);
// seek() back is kUnsupported. A read that fails part-way has still consumed bytes from the
// stream, and position() counts them, so that later error messages give true offsets.
#include <fmt/format.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "loader/stream_reader_internal.h"

namespace slimrt {
namespace stream_reader_detail {
namespace {

constexpr uint64_t kSkipScratchBytes = uint64_t{64} << 10;
// Bounds one callback or read(2) request (Linux moves at most 0x7ffff000 bytes per read).
constexpr uint64_t kMaxPieceBytes = uint64_t{1} << 30;

class ForwardStreamReader : public StreamReader {
 public:
  explicit ForwardStreamReader(std::string name) : name_(std::move(name)) {}

  std::string describe() const override { return name_; }
  std::optional<uint64_t> size() const override { return std::nullopt; }
  bool seekable() const override { return false; }
  uint64_t position() const override { return position_; }

  Status seek(uint64_t offset) override {
    if (offset < position_) {
      return unsupported(fmt::format("{} is not seekable: cannot seek back from offset {} to offset {}", name_,
                                     position_, offset));
    }
    if (offset == position_) return Status::OK();
    if (scratch_.empty()) scratch_.resize(kSkipScratchBytes);
    while (position_ < offset) {
      const uint64_t want = std::min<uint64_t>(offset - position_, scratch_.size());
      uint64_t got = 0;
      SLIMRT_RETURN_IF_ERROR(read_some(scratch_.data(), want, &got));
      if (got == 0) {
        return out_of_range(fmt::format("{}: seek to offset {} is past the end (the stream ended at offset {})", name_,
                                        offset, position_));
      }
      position_ += got;
    }
    return Status::OK();
  }

  Status read(void* dst, uint64_t bytes, MemoryKind dst_kind, void* stream) override {
    if (dst_kind == MemoryKind::kDevice) {
      // Staged piece by piece; a short stream is reported against the whole request.
      const uint64_t start = position_;
      return read_into_device(name_, dst, bytes, stream,
                              [this, start, bytes](void* host, uint64_t /*done*/, uint64_t n) {
                                Status s = read_host(host, n);
                                if (s.code() != StatusCode::kDataLoss) return s;
                                return short_read_error(name_, start, bytes, position_ - start, std::nullopt);
                              });
    }
    return read_host(dst, bytes);
  }

  Status read_at(uint64_t offset, void* /*dst*/, uint64_t bytes) const override {
    return unsupported(fmt::format("{} is not seekable: cannot read {} bytes at offset {} out of order", name_, bytes,
                                   offset));
  }

 protected:
  // Reads up to `capacity` bytes; `got` == 0 means the stream ended.
  virtual Status read_some(void* dst, uint64_t capacity, uint64_t* got) = 0;

  const std::string& name() const { return name_; }
  uint64_t current_offset() const { return position_; }

 private:
  Status read_host(void* dst, uint64_t bytes) {
    auto* out = static_cast<std::byte*>(dst);
    const uint64_t start = position_;
    uint64_t done = 0;
    while (done < bytes) {
      uint64_t got = 0;
      SLIMRT_RETURN_IF_ERROR(read_some(out + done, std::min(bytes - done, kMaxPieceBytes), &got));
      if (got == 0) return short_read_error(name_, start, bytes, done, std::nullopt);
      done += got;
      position_ += got;
    }
    return Status::OK();
  }

  std::string name_;
  uint64_t position_ = 0;
  std::vector<std::byte> scratch_;
};

class CallbackReader final : public ForwardStreamReader {
 public:
  CallbackReader(ReadCallback callback, std::string name)
      : ForwardStreamReader(std::move(name)), callback_(std::move(callback)) {}

 protected:
  Status read_some(void* dst, uint64_t capacity, uint64_t* got) override {
    if (!callback_) return invalid_argument(fmt::format("{}: the read callback is empty", name()));
    const int64_t r = callback_(dst, capacity);
    if (r < 0) {
      return io_error(fmt::format("{}: the read callback returned {} (error) at offset {}, asked for {} bytes",
                                  name(), r, current_offset(), capacity));
    }
    if (static_cast<uint64_t>(r) > capacity) {
      return invalid_argument(fmt::format("{}: the read callback returned {} bytes at offset {}, more than the {} asked for",
                                          name(), r, current_offset(), capacity));
    }
    *got = static_cast<uint64_t>(r);
    return Status::OK();
  }

 private:
  ReadCallback callback_;
};

class FdStreamReader final : public ForwardStreamReader {
 public:
  FdStreamReader(int fd, std::string name) : ForwardStreamReader(std::move(name)), fd_(fd) {}

 protected:
  Status read_some(void* dst, uint64_t capacity, uint64_t* got) override {
    for (;;) {
      const ssize_t r = ::read(fd_, dst, capacity);
      if (r >= 0) {
        *got = static_cast<uint64_t>(r);
        return Status::OK();
      }
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        // A non-blocking descriptor: wait until there is something to read (or the end).
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, -1) >= 0 || errno == EINTR) continue;
        const int poll_err = errno;
        return io_error(fmt::format("{}: poll on fd {} at offset {} failed: {}", name(), fd_, current_offset(),
                                    errno_text(poll_err)));
      }
      return io_error(fmt::format("{}: read of {} bytes from fd {} at offset {} failed: {}", name(), capacity, fd_,
                                  current_offset(), errno_text(err)));
    }
  }

 private:
  int fd_;
};

}  // namespace
}  // namespace stream_reader_detail

std::unique_ptr<StreamReader> make_callback_reader(ReadCallback callback, std::string name) {
  return std::make_unique<stream_reader_detail::CallbackReader>(std::move(callback), std::move(name));
}

std::unique_ptr<StreamReader> make_fd_stream_reader(int fd, std::string name) {
  // 1 MiB instead of the default 64 KiB: fewer wake-ups per MiB. Refused for non-pipes and above
  // /proc/sys/fs/pipe-max-size; harmless either way.
  (void)::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  return std::make_unique<stream_reader_detail::FdStreamReader>(fd, std::move(name));
}

}  // namespace slimrt
