// core/output_file.h: writing a file the user named, so that nothing the user had is lost.
//
//   SLIMRT_ASSIGN_OR_RETURN(OutputFile out, OutputFile::create("model.engine", "engine"));
//   out.stream().write(bytes, n);             // seekable; a failed write keeps its errno
//   SLIMRT_RETURN_IF_ERROR(out.commit());      // fsync, then replace the target in one rename
//
// The rules (docs/cli.md, "Output paths"):
//  - The path must not be empty or "-" (standard output) and must not name a directory, a device,
//    a FIFO or a socket (kInvalidArgument). Such files are never written to, truncated or replaced.
//    A name too long for the OS is kInvalidArgument too.
//  - Symbolic links are followed: the regular file a link leads to is replaced, the link stays.
//    A dangling link creates the file it points to.
//  - The bytes go to a temporary file in the target's directory: an unnamed one (O_TMPFILE) where
//    the filesystem has it, else a unique hidden name (.NAME.slimrt-XXXXXXXX.tmp). commit()
//    flushes and fsyncs it and renames it over the target, so the old file stays whole until the
//    new one is complete, and concurrent writers to one path each leave a complete file (the last
//    commit wins). Without a commit (an error, an exception, a return) the temporary is removed;
//    an unnamed one vanishes even when the process is killed.
//  - An existing target keeps its permission bits; a new file gets 0666 & ~umask.
//  - Errors name the file and give the OS reason: a directory that does not exist is kNotFound,
//    other OS failures (permissions, a full disk, a read-only filesystem) kIoError.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "slimrt/status.h"

namespace slimrt {

// A file's identity: the same for every name (hard link, symbolic link, relative spelling) of it.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

// How messages name what a stat() mode is: "regular file", "directory", "character device",
// "block device", "FIFO", "socket", "special file".
const char* file_kind_name(mode_t mode);

// stat() of `path` (links followed); nullopt when it cannot be stat'ed (absent, no permission).
std::optional<FileId> file_id(const std::string& path);

// Where an output path leads once links are followed: its real directory and the final name in
// it. Refuses (see above) what must not be written; does not create anything.
struct OutputTarget {
  std::string path;              // as the user gave it
  std::string real_path;         // the file that commit() replaces (real directory + name)
  std::optional<FileId> id;      // set when the target exists (a regular file)
  mode_t mode = 0;               // its permission bits, when it exists
};
// `what` names the file's role in messages ("engine", "output '.../logits.npy'").
Result<OutputTarget> resolve_output_target(const std::string& path, std::string_view what);

// Whether OutputFile may use unnamed (O_TMPFILE) temporaries; true by default. Tests turn it off
// to exercise the named temporaries that filesystems without O_TMPFILE get.
void set_output_file_unnamed_temporaries(bool allowed);

class OutputFile {
 public:
  static Result<OutputFile> create(const std::string& path, std::string_view what);
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&& other) noexcept;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();  // removes the temporary unless committed

  // Seekable binary stream into the temporary file. Once a write fails the stream is bad and
  // write_error() gives the OS reason.
  std::ostream& stream() { return *stream_; }
  // kIoError naming the file and the OS reason of the first failed write; OK when none failed.
  Status write_error() const;
  // What to return when writing through stream() failed with `cause`: the OS reason first when a
  // write failed (`cause` follows in parentheses), else `cause` with the file as context.
  Status failure(const Status& cause) const;
  // Flushes, fsyncs, and renames the temporary over the target (then fsyncs the directory).
  Status commit();

  const OutputTarget& target() const { return target_; }

 private:
  class Buffer;
  OutputFile() = default;
  void discard() noexcept;
  Status os_error(std::string_view doing, int err) const;

  OutputTarget target_;
  std::string what_;
  std::string dir_;        // the target's real directory
  std::string temp_path_;  // the named temporary ("" while unnamed)
  int fd_ = -1;
  bool unnamed_ = false;
  std::unique_ptr<Buffer> buffer_;
  std::unique_ptr<std::ostream> stream_;
};

}  // namespace slimrt
