// The span reader (bytes the caller keeps in memory) and the helpers every reader shares.
#include <fmt/format.h>

#include <cstring>

#include "loader/stream_reader_internal.h"

namespace slimrt {
namespace stream_reader_detail {
namespace {

// strerror_r comes in two flavours (XSI returns int, GNU returns the text); overloading on the
// return type picks the right one without feature-test macros.
[[maybe_unused]] const char* strerror_result(int rc, const char* buffer) {
  return rc == 0 ? buffer : "unknown error";
}
[[maybe_unused]] const char* strerror_result(const char* text, const char* /*buffer*/) { return text; }

}  // namespace

std::string errno_text(int err) {
  char buffer[256] = {};
  return strerror_result(strerror_r(err, buffer, sizeof(buffer)), buffer);
}

Status short_read_error(const std::string& who, uint64_t offset, uint64_t requested, uint64_t available,
                        std::optional<uint64_t> size) {
  std::string message = fmt::format("{}: cannot read {} bytes at offset {}: only {} bytes available", who,
                                    requested, offset, available);
  if (size) message += fmt::format(" (size {})", *size);
  return data_loss(std::move(message));
}

Status seek_past_end_error(const std::string& who, uint64_t offset, uint64_t size) {
  return out_of_range(fmt::format("{}: seek to offset {} is past the end (size {})", who, offset, size));
}

Status MemoryReader::seek(uint64_t offset) {
  if (offset > size_) return seek_past_end_error(name_, offset, size_);
  position_ = offset;
  return Status::OK();
}

Status MemoryReader::read_at(uint64_t offset, void* dst, uint64_t bytes) const {
  if (!range_inside(offset, bytes, size_)) {
    return short_read_error(name_, offset, bytes, offset < size_ ? size_ - offset : 0, size_);
  }
  if (bytes > 0) std::memcpy(dst, data_ + offset, bytes);
  return Status::OK();
}

Status MemoryReader::read(void* dst, uint64_t bytes, MemoryKind dst_kind, void* stream) {
  if (dst_kind == MemoryKind::kDevice) {
    if (!range_inside(position_, bytes, size_)) {
      return short_read_error(name_, position_, bytes, position_ < size_ ? size_ - position_ : 0, size_);
    }
    if (bytes > 0) SLIMRT_RETURN_IF_ERROR(copy_host_to_device(name_, dst, data_ + position_, bytes, stream));
  } else {
    SLIMRT_RETURN_IF_ERROR(read_at(position_, dst, bytes));
  }
  position_ += bytes;
  return Status::OK();
}

const void* MemoryReader::data_at(uint64_t offset, uint64_t bytes) const {
  if (!range_inside(offset, bytes, size_)) return nullptr;
  // An empty reader has no storage; a zero-byte request still gets a usable, non-null pointer
  // so that nullptr keeps meaning "not in memory".
  static const std::byte kEmpty{};
  if (data_ == nullptr) return &kEmpty;
  return data_ + offset;
}

}  // namespace stream_reader_detail

std::unique_ptr<StreamReader> make_span_reader(std::span<const std::byte> bytes, std::string name) {
  return std::make_unique<stream_reader_detail::MemoryReader>(bytes.data(), bytes.size(), std::move(name));
}

}  // namespace slimrt
