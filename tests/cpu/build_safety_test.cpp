// Output safety and build-side bad input, as a user meets them through the CLI (issue 13): an
// engine never replaces the model, its data or a special file; concurrent builds and failed
// writes never leave a corrupt or partial file; external data stays inside the model's
// directory; bad targets, self-loops, directories and huge profiles exit 2 with a clear message.
// The models come from tests/data/make_build_safety_fixtures.py.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/output_file.h"
#include "support/cli_runner.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

using testing::CliResult;

const std::string kCli = SLIMRT_CLI_PATH;
const std::string kProfile = " --min image:1x3x64x64 --opt image:1x3x64x64 --max image:2x3x64x64";

CliResult run_cli(const std::string& args) { return testing::run_cli(kCli, args); }

// A shell command line (stdout and stderr together), for limits, timeouts and parallel runs.
CliResult shell(const std::string& script) { return testing::run_command_line("{ " + script + " ; } 2>&1"); }

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

const std::string& root_dir() {
  static const std::string dir = [] {
    const std::string d = std::string(SLIMRT_BINARY_DIR) + "/test_tmp/build_safety_" + std::to_string(getpid());
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// A fresh, empty directory per test.
std::string test_dir(const std::string& name) {
  const std::string d = root_dir() + "/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// The fixtures, written once per process; tests copy what they change.
const std::string& fixtures() {
  static const std::string dir = [] {
    const std::string d = root_dir() + "/fixtures";
    const std::string cmd = std::string(SLIMRT_PYTHON) + " " + SLIMRT_SOURCE_DIR +
                            "/tests/data/make_build_safety_fixtures.py " + d;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return d;
  }();
  return dir;
}

std::string copy_fixture(const std::string& name, const std::string& into) {
  const std::string to = into + "/" + fs::path(name).filename().string();
  fs::copy(fixtures() + "/" + name, to, fs::copy_options::recursive);
  return to;
}

std::string tinynet() { return std::string(SLIMRT_SOURCE_DIR) + "/models/tinynet.onnx"; }

std::string copy_tinynet(const std::string& dir) {
  const std::string m = dir + "/m.onnx";
  fs::copy_file(tinynet(), m);
  return m;
}

bool is_engine(const std::string& path) { return read_bytes(path).rfind("SLIMRTEN", 0) == 0; }

// ---- item 1: the engine never replaces a file the build reads -------------------------------------

TEST(BuildSafety, OutputThatIsTheModelIsRefusedUnderEverySpelling) {
  const std::string dir = test_dir("self");
  const std::string model = copy_tinynet(dir);
  const std::string original = read_bytes(model);
  fs::create_symlink("m.onnx", dir + "/link.engine");
  fs::create_hard_link(model, dir + "/hard.engine");
  for (const std::string& out : {model, dir + "/./m.onnx", dir + "/../self/m.onnx", dir + "/link.engine",
                                 dir + "/hard.engine"}) {
    CliResult r = run_cli("build " + model + " -o " + out + kProfile);
    EXPECT_EQ(r.exit_code, 2) << out << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "is the model")) << r.output;
    EXPECT_TRUE(has(r.output, "choose another -o")) << r.output;
    EXPECT_EQ(read_bytes(model), original) << "the model was changed through " << out;
  }
  // A relative spelling from another working directory.
  CliResult rel = shell("cd " + dir + " && " + kCli + " build ../self/m.onnx -o ./m.onnx" + kProfile);
  EXPECT_EQ(rel.exit_code, 2) << rel.output;
  EXPECT_EQ(read_bytes(model), original);
  EXPECT_TRUE(fs::is_symlink(dir + "/link.engine"));
  EXPECT_EQ(entries(dir), (std::set<std::string>{"m.onnx", "link.engine", "hard.engine"}));
}

TEST(BuildSafety, OutputThatIsExternalDataIsRefused) {
  const std::string dir = test_dir("extout");
  const std::string ext = copy_fixture("ext", dir);
  const std::string weights = read_bytes(ext + "/w.bin");
  fs::create_symlink(ext + "/w.bin", dir + "/w_link.engine");
  for (const std::string& out : {ext + "/w.bin", dir + "/w_link.engine"}) {
    CliResult r = run_cli("build " + ext + "/model.onnx -o " + out);
    EXPECT_EQ(r.exit_code, 2) << out << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "is the external data file")) << r.output;
    EXPECT_TRUE(has(r.output, "w.bin")) << r.output;
    EXPECT_EQ(read_bytes(ext + "/w.bin"), weights);
  }
  EXPECT_EQ(entries(ext), (std::set<std::string>{"model.onnx", "w.bin"}));
  // The same model builds to a fresh path.
  CliResult ok = run_cli("build " + ext + "/model.onnx -o " + dir + "/model.engine");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

// ---- item 2 and item 9: special files, directories and empty paths are refused, never replaced ----

TEST(BuildSafety, SpecialFilesAndDirectoriesAreRefusedNeverReplaced) {
  const std::string dir = test_dir("special");
  ASSERT_EQ(mkfifo((dir + "/fifo.engine").c_str(), 0644), 0) << std::strerror(errno);
  fs::create_directory(dir + "/sub");
  fs::create_symlink("/dev/null", dir + "/null_link.engine");
  struct Case {
    std::string out, message;
  };
  const std::vector<Case> cases = {
      {"/dev/null", "is a character device"},
      {"/dev/full", "is a character device"},
      {dir + "/fifo.engine", "is a FIFO"},
      {dir + "/null_link.engine", "is a character device"},
      {dir + "/sub", "is a directory"},
      {dir + "/sub/", "is a directory"},
      {dir, "is a directory"},
      {dir + "/missing_dir/x.engine", "does not exist"},
      {dir + "/fifo.engine/x.engine", "is not a directory"},
      {"-", "standard output is not supported"},
      {"/dev/stdout", "not a regular file"},  // a pipe or a terminal, as the test runs
      {dir + "/" + std::string(300, 'n') + ".engine", "File name too long"},
  };
  for (const Case& c : cases) {
    struct stat dev {};
    if (c.out.rfind("/dev/", 0) == 0 && (stat(c.out.c_str(), &dev) != 0 || S_ISREG(dev.st_mode))) continue;  // not in this container
    // A FIFO opened for writing would wait for a reader: `timeout` turns a hang into exit 124.
    CliResult r = shell("timeout 60 " + kCli + " build " + tinynet() + " -o " + c.out + kProfile);
    EXPECT_EQ(r.exit_code, 2) << c.out << "\n" << r.output;
    EXPECT_TRUE(has(r.output, c.message)) << c.out << "\n" << r.output;
    EXPECT_TRUE(has(r.output, c.out)) << r.output;
  }
  struct stat st {};
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  if (stat("/dev/full", &st) == 0) {
    EXPECT_TRUE(S_ISCHR(st.st_mode));
  }
  ASSERT_EQ(lstat((dir + "/fifo.engine").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_TRUE(fs::is_symlink(dir + "/null_link.engine"));
  EXPECT_EQ(entries(dir), (std::set<std::string>{"fifo.engine", "sub", "null_link.engine"}));
  EXPECT_TRUE(fs::is_empty(dir + "/sub"));
}

TEST(BuildSafety, EmptyOutputIsRefusedAndNothingIsWrittenBesideTheModel) {
  const std::string dir = test_dir("empty_o");
  const std::string model = copy_tinynet(dir);
  for (const char* flag : {"-o ''", "--output ''"}) {
    CliResult r = run_cli("build " + model + " " + std::string(flag) + kProfile);
    EXPECT_EQ(r.exit_code, 2) << flag << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "-o/--output is empty")) << r.output;
  }
  EXPECT_EQ(entries(dir), (std::set<std::string>{"m.onnx"}));
  // Without -o the engine still goes beside the model.
  CliResult d = run_cli("build " + model + kProfile);
  EXPECT_EQ(d.exit_code, 0) << d.output;
  EXPECT_TRUE(is_engine(dir + "/m.engine"));
}

TEST(BuildSafety, LinkedOutputReplacesTheFileItLeadsTo) {
  const std::string dir = test_dir("linked");
  write_bytes(dir + "/real.engine", "old bytes");
  fs::create_symlink("real.engine", dir + "/link.engine");
  fs::create_symlink("created.engine", dir + "/dangling.engine");
  ASSERT_EQ(chmod((dir + "/real.engine").c_str(), 0640), 0);
  for (const char* name : {"/link.engine", "/dangling.engine"}) {
    CliResult r = run_cli("build " + tinynet() + " -o " + dir + name + kProfile);
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_TRUE(fs::is_symlink(dir + "/link.engine"));
  EXPECT_TRUE(fs::is_symlink(dir + "/dangling.engine"));
  EXPECT_TRUE(is_engine(dir + "/real.engine"));
  EXPECT_TRUE(is_engine(dir + "/created.engine"));
  // The replaced file keeps its permission bits.
  EXPECT_EQ(fs::status(dir + "/real.engine").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(entries(dir), (std::set<std::string>{"real.engine", "link.engine", "dangling.engine", "created.engine"}));
}

// ---- item 3: concurrent builds to one path ---------------------------------------------------------

TEST(BuildSafety, ConcurrentBuildsToOnePathEachLeaveAWholeEngine) {
  const std::string dir = test_dir("concurrent");
  const std::string logs = test_dir("concurrent_logs");
  const std::string out = dir + "/same.engine";
  // fp32 and fp16 engines differ in size, so an interleaving of the two would not parse.
  std::string script;
  for (int i = 0; i < 6; ++i) {
    script += "(" + kCli + " build " + tinynet() + " -o " + out + kProfile + (i % 2 ? " --fp16" : "") + " > " + logs +
              "/log" + std::to_string(i) + " 2>&1; echo $? > " + logs + "/rc" + std::to_string(i) + ") & ";
  }
  script += "wait";
  CliResult r = shell(script);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(read_bytes(logs + "/rc" + std::to_string(i)), "0\n") << read_bytes(logs + "/log" + std::to_string(i));
  }
  CliResult ins = run_cli("inspect " + out);
  EXPECT_EQ(ins.exit_code, 0) << ins.output;
  EXPECT_TRUE(has(ins.output, "checksums  OK")) << ins.output;
  EXPECT_EQ(entries(dir), (std::set<std::string>{"same.engine"}));  // no temporary left
}

// ---- item 5 and item 12: failed writes leave the old file whole, nothing else, and say why --------

// `ulimit -f` makes every write past the limit fail with EFBIG ("File too large"); SIGXFSZ is
// ignored (trap '' survives exec) so the write fails instead of killing the process.
std::string limited(const std::string& args, int blocks) {
  return "trap '' XFSZ; ulimit -f " + std::to_string(blocks) + " && exec " + kCli + " " + args;
}

TEST(BuildSafety, FailedEngineWriteKeepsTheOldEngineAndLeavesNoTemporary) {
  const std::string dir = test_dir("failed_write");
  const std::string out = dir + "/keep.engine";
  ASSERT_EQ(run_cli("build " + tinynet() + " -o " + out + kProfile).exit_code, 0);
  const std::string before = read_bytes(out);
  ASSERT_GT(before.size(), 64u * 1024u);
  CliResult r = shell(limited("build " + tinynet() + " -o " + out + kProfile + " --no-passes", 16));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "cannot write engine '" + out + "': File too large")) << r.output;
  EXPECT_EQ(read_bytes(out), before);
  EXPECT_EQ(entries(dir), (std::set<std::string>{"keep.engine"}));
}

TEST(BuildSafety, FailedNpyWriteKeepsTheOldOutputAndLeavesNoPartialFile) {
  const std::string dir = test_dir("failed_npy");
  CliResult first = run_cli("run " + tinynet() + " --backend cpu --output-dir " + dir);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(entries(dir), (std::set<std::string>{"probs.npy"}));
  const std::string before = read_bytes(dir + "/probs.npy");
  // A different seed would write different values: the old file must stay as it was.
  CliResult r = shell(limited("run " + tinynet() + " --backend cpu --seed 7 --output-dir " + dir, 0));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "cannot write .npy file '" + dir + "/probs.npy': File too large")) << r.output;
  EXPECT_EQ(read_bytes(dir + "/probs.npy"), before);
  EXPECT_EQ(entries(dir), (std::set<std::string>{"probs.npy"}));
}

// A real full disk: a 64 KiB tmpfs. Mounting needs root (and a kernel that lets this process
// mount); elsewhere the test skips, and the RLIMIT_FSIZE tests above cover the same paths.
class TinyTmpfs {
 public:
  explicit TinyTmpfs(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") == 0) {
      mounted_ = true;
    } else {
      why_ = std::string("cannot mount a 64 KiB tmpfs at ") + dir_ + ": " + std::strerror(errno);
    }
  }
  ~TinyTmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_, why_;
  bool mounted_ = false;
};

TEST(BuildSafety, FullDiskLeavesNoPartialFileAndSaysSo) {
  const std::string dir = test_dir("full_disk");
  TinyTmpfs tmpfs(dir);
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.why();
  // The engine (over 64 KiB) does not fit.
  CliResult b = run_cli("build " + tinynet() + " -o " + dir + "/x.engine" + kProfile);
  EXPECT_EQ(b.exit_code, 1) << b.output;
  EXPECT_TRUE(has(b.output, "No space left on device")) << b.output;
  EXPECT_TRUE(fs::is_empty(dir));
  // The .npy outputs do not fit once the filesystem is full.
  fs::create_directory(dir + "/out");
  CliResult fill = shell("dd if=/dev/zero of=" + dir + "/fill bs=4096 2>/dev/null; true");
  (void)fill;
  CliResult r = run_cli("run " + tinynet() + " --backend cpu --output-dir " + dir + "/out");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "No space left on device")) << r.output;
  EXPECT_TRUE(fs::is_empty(dir + "/out"));
}

TEST(BuildSafety, NpyOutputOverASpecialFileIsRefused) {
  const std::string dir = test_dir("npy_special");
  ASSERT_EQ(mkfifo((dir + "/probs.npy").c_str(), 0644), 0) << std::strerror(errno);
  CliResult r = shell("timeout 60 " + kCli + " run " + tinynet() + " --backend cpu --output-dir " + dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "is a FIFO")) << r.output;
  struct stat st {};
  ASSERT_EQ(lstat((dir + "/probs.npy").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  fs::remove(dir + "/probs.npy");
  fs::create_directory(dir + "/probs.npy");
  CliResult d = run_cli("run " + tinynet() + " --backend cpu --output-dir " + dir);
  EXPECT_EQ(d.exit_code, 2) << d.output;
  EXPECT_TRUE(has(d.output, "is a directory")) << d.output;
  // An --output-dir that is a file.
  write_bytes(dir + "/file", "x");
  CliResult f = run_cli("run " + tinynet() + " --backend cpu --output-dir " + dir + "/file");
  EXPECT_EQ(f.exit_code, 2) << f.output;
  EXPECT_TRUE(has(f.output, "is not a directory")) << f.output;
}

// ---- item 4: external data stays inside the model's directory, links resolved --------------------

TEST(BuildSafety, ExternalDataLinkedOutsideTheModelsDirectoryIsRefused) {
  const std::string dir = test_dir("escape");
  const std::string esc = copy_fixture("escape", dir);
  const std::string outside = copy_fixture("outside", dir);
  fs::create_directory(esc + "/sub");
  for (const std::string& target : {std::string("/etc/passwd"), std::string("../../outside/secret.bin"),
                                    outside + "/secret.bin"}) {
    fs::remove(esc + "/sub/pw.bin");
    fs::create_symlink(target, esc + "/sub/pw.bin");
    for (const std::string& cmd : {"build " + esc + "/model.onnx -o " + dir + "/x.engine",
                                   "run " + esc + "/model.onnx --backend cpu"}) {
      CliResult r = run_cli(cmd);
      EXPECT_EQ(r.exit_code, 2) << target << ": " << cmd << "\n" << r.output;
      for (const char* part : {"initializer 'w'", "location 'sub/pw.bin'", "outside the model's directory"})
        EXPECT_TRUE(has(r.output, part)) << part << "\n" << r.output;
    }
  }
  EXPECT_FALSE(fs::exists(dir + "/x.engine"));
  // A link that stays inside is followed.
  fs::remove(esc + "/sub/pw.bin");
  fs::create_symlink("../inside.bin", esc + "/sub/pw.bin");
  CliResult in = run_cli("build " + esc + "/model.onnx -o " + dir + "/x.engine");
  EXPECT_EQ(in.exit_code, 0) << in.output;
}

TEST(BuildSafety, ExternalDataOfALinkedModelMayLieBesideTheModelFile) {
  // Hugging Face's cache: snapshots/<rev>/ holds links into blobs/, for the model and its data.
  const std::string dir = test_dir("hf_cache");
  fs::create_directories(dir + "/blobs");
  fs::create_directories(dir + "/snapshots/rev/sub");
  fs::copy_file(fixtures() + "/escape/model.onnx", dir + "/blobs/aaaa");
  fs::copy_file(fixtures() + "/escape/inside.bin", dir + "/blobs/bbbb");
  fs::create_symlink("../../blobs/aaaa", dir + "/snapshots/rev/model.onnx");
  fs::create_symlink("../../../blobs/bbbb", dir + "/snapshots/rev/sub/pw.bin");
  CliResult r = run_cli("build " + dir + "/snapshots/rev/model.onnx -o " + dir + "/x.engine");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// ---- item 11: directories, FIFOs and self-loops are bad input ----------------------------------

TEST(BuildSafety, DirectoriesAndFifosAsModelOrExternalDataAreBadInput) {
  const std::string dir = test_dir("dir_model");
  CliResult m = run_cli("build " + dir + " -o " + dir + "/x.engine");
  EXPECT_EQ(m.exit_code, 2) << m.output;
  EXPECT_TRUE(has(m.output, "is a directory")) << m.output;
  ASSERT_EQ(mkfifo((dir + "/fifo.onnx").c_str(), 0644), 0) << std::strerror(errno);
  CliResult f = shell("timeout 60 " + kCli + " build " + dir + "/fifo.onnx -o " + dir + "/x.engine");
  EXPECT_EQ(f.exit_code, 2) << f.output;
  EXPECT_TRUE(has(f.output, "is not a regular file")) << f.output;
  const std::string data = copy_fixture("dirdata", dir);
  fs::create_directory(data + "/wdir");
  CliResult e = run_cli("build " + data + "/model.onnx -o " + dir + "/x.engine");
  EXPECT_EQ(e.exit_code, 2) << e.output;
  for (const char* part : {"initializer 'w'", "wdir", "is a directory"}) EXPECT_TRUE(has(e.output, part)) << e.output;
  EXPECT_FALSE(fs::exists(dir + "/x.engine"));
}

TEST(BuildSafety, SelfLoopIsBadInputNamingTheNodeAndValue) {
  const std::string model = fixtures() + "/selfloop.onnx";
  for (const std::string& cmd : {"build " + model + " -o " + test_dir("selfloop") + "/x.engine",
                                 "run " + model + " --backend cpu"}) {
    CliResult r = run_cli(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "node 'loop_add' (Add) reads 'a', which it produces itself")) << r.output;
  }
}

TEST(BuildSafety, MissingModelGivesTheOsReason) {
  CliResult r = run_cli("build " + root_dir() + "/no_such.onnx -o " + root_dir() + "/x.engine");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "no_such.onnx")) << r.output;
  EXPECT_TRUE(has(r.output, "No such file or directory")) << r.output;
}

// ---- item 9: --target and --max -----------------------------------------------------------------

TEST(BuildSafety, TargetMustBeARealGpuArch) {
  const std::string dir = test_dir("target");
  for (const char* bad : {"sm_0", "sm_9999999999", "sm_050", "sm_49", "sm_", "sm_9a", "SM_90", "gfx90a", "sm_1000"}) {
    CliResult r = run_cli("build " + tinynet() + " -o " + dir + "/x.engine --target " + bad + kProfile);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    EXPECT_TRUE(has(r.output, std::string("--target '") + bad + "'")) << r.output;
  }
  EXPECT_TRUE(fs::is_empty(dir));
  for (const char* good : {"sm_50", "sm_90", "sm_120", "any"}) {
    CliResult r = run_cli("build " + tinynet() + " -o " + dir + "/x.engine --target " + good + kProfile);
    EXPECT_EQ(r.exit_code, 0) << good << "\n" << r.output;
  }
}

TEST(BuildSafety, ProfileWhoseActivationsFitNoGpuIsRefused) {
  const std::string dir = test_dir("huge_max");
  const std::string pre = "build " + tinynet() + " -o " + dir + "/x.engine --min image:1x3x64x64 --opt image:1x3x64x64 ";
  CliResult r = run_cli(pre + "--max image:1000000000000x3x64x64");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  for (const char* part : {"profile 0", "bytes", "more than any GPU holds", "1 TiB"})
    EXPECT_TRUE(has(r.output, part)) << part << "\n" << r.output;
  // Sizes past int64: bad input, never a crash.
  for (const char* max : {"100000000000000000x3x64x64", "4611686018427387904x3x64x64", "9223372036854775807x3x64x64"}) {
    CliResult o = run_cli(pre + "--max image:" + max);
    EXPECT_EQ(o.exit_code, 2) << max << "\n" << o.output;
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

// ---- the helper itself --------------------------------------------------------------------------

TEST(OutputFile, CommitReplacesAtOnceAndDiscardLeavesNothing) {
  const std::string dir = test_dir("output_file");
  const std::string path = dir + "/f.bin";
  write_bytes(path, "old");
  {
    Result<OutputFile> f = OutputFile::create(path, "test file");
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    f->stream() << "0123456789";
    EXPECT_EQ(read_bytes(path), "old");  // not before commit
  }
  EXPECT_EQ(read_bytes(path), "old");
  EXPECT_EQ(entries(dir), (std::set<std::string>{"f.bin"}));
  Result<OutputFile> f = OutputFile::create(path, "test file");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  std::ostream& s = f->stream();
  s << "0123456789";
  EXPECT_EQ(s.tellp(), 10);
  s.seekp(2);
  s << "ab";
  s.seekp(0, std::ios::end);
  s << "!";
  ASSERT_TRUE(f->commit().ok());
  EXPECT_EQ(read_bytes(path), "01ab456789!");
  EXPECT_EQ(entries(dir), (std::set<std::string>{"f.bin"}));
  EXPECT_EQ(OutputFile::create("", "test file").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OutputFile::create(dir, "test file").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OutputFile::create("/dev/null", "test file").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OutputFile::create(dir + "/no/f.bin", "test file").status().code(), StatusCode::kNotFound);
}

TEST(OutputFile, NamedTemporariesWhereThereIsNoOTmpfile) {
  const std::string dir = test_dir("output_file_named");
  const std::string path = dir + "/f.bin";
  set_output_file_unnamed_temporaries(false);
  {
    Result<OutputFile> f = OutputFile::create(path, "test file");
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    const std::set<std::string> during = entries(dir);
    ASSERT_EQ(during.size(), 1u);
    EXPECT_EQ(during.begin()->rfind(".f.bin.slimrt-", 0), 0u) << *during.begin();
    f->stream() << "abandoned";
  }
  EXPECT_TRUE(fs::is_empty(dir));  // removed without a commit
  Result<OutputFile> f = OutputFile::create(path, "test file");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  f->stream() << "kept";
  ASSERT_TRUE(f->commit().ok());
  set_output_file_unnamed_temporaries(true);
  EXPECT_EQ(read_bytes(path), "kept");
  EXPECT_EQ(entries(dir), (std::set<std::string>{"f.bin"}));
}

}  // namespace
}  // namespace slimrt
