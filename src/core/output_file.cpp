// OutputFile: refuse what must not be written, write beside the target, replace it in one rename.
// See core/output_file.h for the rules.
#include "core/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <streambuf>
#include <utility>
#include <vector>

#include "core/log.h"

namespace slimrt {

namespace {

std::string quoted(std::string_view what, const std::string& path) {
  return std::string(what) + " '" + path + "'";
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// An existing path that is not a regular file: refused, never written to or replaced.
Status refuse_non_regular(const std::string& label, mode_t mode) {
  if (S_ISDIR(mode)) return invalid_argument(label + " is a directory; give the name of a file to write");
  return invalid_argument(label + " is a " + file_kind_name(mode) +
                          ", not a regular file; slimrt writes only regular files and never replaces special files");
}

Result<std::string> read_link(const std::string& path, const std::string& label) {
  std::vector<char> buf(256);
  for (;;) {
    const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return io_error("cannot read the symbolic link '" + path + "' of " + label + ": " + std::strerror(errno));
    if (static_cast<size_t>(n) < buf.size()) return std::string(buf.data(), static_cast<size_t>(n));
    if (buf.size() >= 65536) return invalid_argument("the symbolic link '" + path + "' of " + label + " is too long");
    buf.resize(buf.size() * 4);
  }
}

// A name no other writer picks: pid, a process-wide counter and the clock, in hex.
std::string unique_temp_name(const std::string& dir, const std::string& name) {
  static std::atomic<uint64_t> counter{0};
  const uint64_t mix = (static_cast<uint64_t>(::getpid()) << 40) ^ (counter.fetch_add(1) << 24) ^
                       static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(mix * 0x9E3779B97F4A7C15ull));
  // Keep the whole name within NAME_MAX (255) whatever the target's length.
  return (dir == "/" ? "" : dir) + "/." + name.substr(0, 200) + ".slimrt-" + hex + ".tmp";
}

std::atomic<bool> g_unnamed_allowed{true};

bool proc_fd_available() {
  static const bool yes = ::access("/proc/self/fd", X_OK) == 0;
  return yes;
}

}  // namespace

const char* file_kind_name(mode_t mode) {
  if (S_ISREG(mode)) return "regular file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISSOCK(mode)) return "socket";
  return "special file";
}

void set_output_file_unnamed_temporaries(bool allowed) { g_unnamed_allowed = allowed; }

std::optional<FileId> file_id(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

Result<OutputTarget> resolve_output_target(const std::string& path, std::string_view what) {
  const std::string label = quoted(what, path);
  if (path.empty()) return invalid_argument("the " + std::string(what) + " path is empty; give a file name");
  // "-" conventionally means standard output, which these files cannot go to (an engine is
  // finished by seeking back); writing a file named "-" would surprise.
  if (path == "-") {
    return invalid_argument(label + ": writing to standard output is not supported; give a file name (./- for a "
                            "file named '-')");
  }
  OutputTarget t;
  t.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    // It exists (links followed, /proc's magic links to pipes and terminals included).
    if (!S_ISREG(st.st_mode)) return refuse_non_regular(label, st.st_mode);
    char* real = ::realpath(path.c_str(), nullptr);
    if (real == nullptr) return io_error("cannot resolve " + label + ": " + std::strerror(errno));
    t.real_path = real;
    std::free(real);
    t.id = FileId{st.st_dev, st.st_ino};
    t.mode = st.st_mode & 07777;
    return t;
  }
  const int stat_err = errno;
  if (stat_err == ENOTDIR) return invalid_argument(label + ": a component of the path is not a directory");
  if (stat_err == ENAMETOOLONG || stat_err == ELOOP) return invalid_argument(label + ": " + std::strerror(stat_err));
  if (stat_err != ENOENT) return io_error("cannot stat " + label + ": " + std::strerror(stat_err));
  // Absent, or a dangling link: follow links one at a time to the file to create.
  std::string cur = path;
  bool exists = false;
  for (int hops = 0;; ++hops) {
    if (hops > 40) return invalid_argument(label + " is a chain of more than 40 symbolic links");
    if (::lstat(cur.c_str(), &st) != 0) {
      const int err = errno;
      if (err == ENOENT) break;  // to be created; its directory is checked below
      if (err == ENOTDIR) return invalid_argument(label + ": a component of '" + cur + "' is not a directory");
      if (err == ENAMETOOLONG || err == ELOOP) return invalid_argument(label + ": " + std::strerror(err));
      return io_error("cannot stat " + label + ": " + std::strerror(err));
    }
    if (!S_ISLNK(st.st_mode)) {
      exists = true;
      break;
    }
    const Result<std::string> link = read_link(cur, label);
    if (!link.ok()) return link.status();
    cur = link->rfind('/', 0) == 0 ? *link : dir_of(cur) + "/" + *link;
  }
  if (exists && !S_ISREG(st.st_mode)) return refuse_non_regular(label, st.st_mode);
  const std::string name = name_of(cur);
  if (name.empty() || name == "." || name == "..")
    return invalid_argument(label + " names a directory; give the name of a file to write");
  const std::string dir = dir_of(cur);
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) {
    const int err = errno;
    if (err == ENOENT) return not_found("the directory '" + dir + "' of " + label + " does not exist");
    if (err == ENOTDIR) return invalid_argument("'" + dir + "' in " + label + " is not a directory");
    return io_error("cannot resolve the directory '" + dir + "' of " + label + ": " + std::strerror(err));
  }
  const std::string real_dir(real);
  std::free(real);
  struct stat dst {};
  if (::stat(real_dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode))
    return invalid_argument("'" + dir + "' in " + label + " is not a directory");
  t.real_path = (real_dir == "/" ? "" : real_dir) + "/" + name;
  if (exists) {
    t.id = FileId{st.st_dev, st.st_ino};
    t.mode = st.st_mode & 07777;
  }
  return t;
}

// A seekable write buffer over a file descriptor (which it does not own). Writes go through
// pwrite at the stream's position; the first failure's errno is kept and later writes refuse.
class OutputFile::Buffer final : public std::streambuf {
 public:
  explicit Buffer(int fd) : fd_(fd), buf_(size_t{1} << 20) { setp(buf_.data(), buf_.data() + buf_.size()); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!flush_pending()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }

  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n >= static_cast<std::streamsize>(buf_.size())) {
      if (!flush_pending() || !write_at(s, static_cast<size_t>(n))) return 0;
      pos_ += n;
      return n;
    }
    std::streamsize done = 0;
    while (done < n) {
      const std::streamsize room = epptr() - pptr();
      if (room == 0) {
        if (!flush_pending()) return done;
        continue;
      }
      const std::streamsize k = std::min(room, n - done);
      std::memcpy(pptr(), s + done, static_cast<size_t>(k));
      pbump(static_cast<int>(k));
      done += k;
    }
    return n;
  }

  int sync() override { return flush_pending() ? 0 : -1; }

  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode which) override {
    if (!(which & std::ios_base::out)) return pos_type(off_type(-1));
    const off_type here = pos_ + (pptr() - pbase());
    off_type to = off;
    if (dir == std::ios_base::cur) {
      to = here + off;
    } else if (dir == std::ios_base::end) {
      struct stat st {};
      if (!flush_pending() || ::fstat(fd_, &st) != 0) return pos_type(off_type(-1));
      to = static_cast<off_type>(st.st_size) + off;
    }
    if (to < 0) return pos_type(off_type(-1));
    if (to == here) return pos_type(to);  // tellp(): nothing to flush
    if (!flush_pending()) return pos_type(off_type(-1));
    pos_ = to;
    return pos_type(to);
  }

  pos_type seekpos(pos_type p, std::ios_base::openmode which) override {
    return seekoff(off_type(p), std::ios_base::beg, which);
  }

 private:
  bool flush_pending() {
    const size_t n = static_cast<size_t>(pptr() - pbase());
    if (n > 0) {
      if (!write_at(pbase(), n)) return false;
      pos_ += static_cast<off_type>(n);
    }
    setp(buf_.data(), buf_.data() + buf_.size());
    return true;
  }

  bool write_at(const char* p, size_t n) {
    if (error_ != 0) return false;
    off_t at = static_cast<off_t>(pos_);
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, p, std::min<size_t>(n, size_t{1} << 30), at);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        error_ = w < 0 ? errno : EIO;
        return false;
      }
      p += w;
      n -= static_cast<size_t>(w);
      at += w;
    }
    return true;
  }

  int fd_;
  std::vector<char> buf_;
  off_type pos_ = 0;  // file offset of pbase()
  int error_ = 0;
};

Result<OutputFile> OutputFile::create(const std::string& path, std::string_view what) {
  SLIMRT_ASSIGN_OR_RETURN(OutputTarget target, resolve_output_target(path, what));
  OutputFile f;
  f.target_ = std::move(target);
  f.what_ = std::string(what);
  f.dir_ = dir_of(f.target_.real_path);
  const std::string name = name_of(f.target_.real_path);
#ifdef O_TMPFILE
  // Unnamed: nothing is left behind even if the process is killed. Linked into place through
  // /proc/self/fd at commit.
  if (g_unnamed_allowed && proc_fd_available()) {
    f.fd_ = ::open(f.dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (f.fd_ >= 0) {
      f.unnamed_ = true;
    } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return f.os_error("cannot create a file in '" + f.dir_ + "' for", errno);
    }
  }
#endif
  for (int attempt = 0; f.fd_ < 0; ++attempt) {
    const std::string temp = unique_temp_name(f.dir_, name);
    f.fd_ = ::open(temp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    if (f.fd_ >= 0) {
      f.temp_path_ = temp;
    } else if (errno != EEXIST || attempt >= 100) {
      return f.os_error("cannot create a file in '" + f.dir_ + "' for", errno);
    }
  }
  SLIMRT_LOG(kVerbose, "{} '{}': written to {}, moved into place when complete", f.what_, f.target_.real_path,
             f.unnamed_ ? std::string("an unnamed temporary (O_TMPFILE)") : "'" + f.temp_path_ + "'");
  // Replacing a file keeps its permission bits (as cp does); failure to set them is harmless.
  if (f.target_.id) (void)::fchmod(f.fd_, f.target_.mode);
  f.buffer_ = std::make_unique<Buffer>(f.fd_);
  f.stream_ = std::make_unique<std::ostream>(f.buffer_.get());
  return f;
}

OutputFile::OutputFile(OutputFile&& o) noexcept { *this = std::move(o); }

OutputFile& OutputFile::operator=(OutputFile&& o) noexcept {
  if (this != &o) {
    discard();
    target_ = std::move(o.target_);
    what_ = std::move(o.what_);
    dir_ = std::move(o.dir_);
    temp_path_ = std::exchange(o.temp_path_, std::string());
    fd_ = std::exchange(o.fd_, -1);
    unnamed_ = std::exchange(o.unnamed_, false);
    buffer_ = std::move(o.buffer_);
    stream_ = std::move(o.stream_);
  }
  return *this;
}

OutputFile::~OutputFile() { discard(); }

void OutputFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
  unnamed_ = false;
}

Status OutputFile::os_error(std::string_view doing, int err) const {
  return io_error(std::string(doing) + " " + quoted(what_, target_.path) + ": " + std::strerror(err));
}

Status OutputFile::write_error() const {
  if (buffer_ && buffer_->error() != 0) return os_error("cannot write", buffer_->error());
  return Status::OK();
}

Status OutputFile::failure(const Status& cause) const {
  const Status os = write_error();
  if (os.ok()) return cause.with_context("writing " + quoted(what_, target_.path));
  return Status(os.code(), os.message() + " (" + cause.message() + ")");
}

Status OutputFile::commit() {
  if (fd_ < 0 || !stream_) return internal_error("commit of " + quoted(what_, target_.path) + " twice");
  stream_->flush();
  Status s = write_error();
  if (s.ok() && !*stream_) s = io_error("writing " + quoted(what_, target_.path) + " failed");
  // Delayed allocation and network filesystems report a full disk only here.
  if (s.ok() && ::fsync(fd_) != 0) s = os_error("cannot write", errno);
#ifdef O_TMPFILE
  for (int attempt = 0; s.ok() && unnamed_; ++attempt) {
    const std::string temp = unique_temp_name(dir_, name_of(target_.real_path));
    const std::string fd_path = "/proc/self/fd/" + std::to_string(fd_);
    // Through /proc (any user); else by descriptor (needs CAP_DAC_READ_SEARCH, as root has).
    if (::linkat(AT_FDCWD, fd_path.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW) == 0 ||
        (errno != EEXIST && ::linkat(fd_, "", AT_FDCWD, temp.c_str(), AT_EMPTY_PATH) == 0)) {
      temp_path_ = temp;
      unnamed_ = false;
    } else if (errno != EEXIST || attempt >= 100) {
      s = os_error("cannot name the file written in '" + dir_ + "' for", errno);
    }
  }
#endif
  if (s.ok()) {
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) s = os_error("cannot write", errno);
  }
  // The target may have changed since create(): only a regular file (or nothing) is replaced.
  struct stat st {};
  if (s.ok() && ::lstat(target_.real_path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    s = invalid_argument(quoted(what_, target_.path) + " became a " + file_kind_name(st.st_mode) +
                         " while it was being written; it was left as it is");
  }
  if (s.ok() && ::rename(temp_path_.c_str(), target_.real_path.c_str()) != 0)
    s = os_error("cannot rename '" + temp_path_ + "' over", errno);
  if (!s.ok()) {
    discard();
    return s;
  }
  temp_path_.clear();
  // Make the rename itself durable; a filesystem that cannot fsync a directory is no error.
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Status::OK();
}

}  // namespace slimrt
