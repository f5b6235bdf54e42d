// The builder's releasable memory (src/onnx/weight_memory.h): big constants built from mapped
// weights live in unlinked scratch files and leave the resident set when released, keeping their
// contents; heap memory is never touched by a release.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "onnx/weight_memory.h"
#include "support/test_util.h"

namespace slimrt::onnx_import {
namespace {

namespace fs = std::filesystem;

int64_t resident_pages() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident;
}

size_t entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// A mapped "model file" in its own directory, remembered as MappedFile::open does.
class MappedModelFile {
 public:
  explicit MappedModelFile(const std::string& tag) {
    dir_ = fs::temp_directory_path() / ("slimrt_wm_" + std::to_string(::getpid()) + "_" + tag);
    fs::create_directories(dir_);
    const fs::path file = dir_ / "weights.bin";
    std::ofstream(file, std::ios::binary) << std::string(1 << 20, 'w');
    const int fd = ::open(file.c_str(), O_RDONLY);
    map_ = ::mmap(nullptr, 1 << 20, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    remember_mapping(map_, 1 << 20, dir_.string());
  }
  ~MappedModelFile() {
    forget_mapping(map_);
    ::munmap(map_, 1 << 20);
    fs::remove_all(dir_);
  }
  const fs::path& dir() const { return dir_; }
  const void* data() const { return map_; }

 private:
  fs::path dir_;
  void* map_ = nullptr;
};

TEST(WeightMemory, WithoutAMappedModelConstantsStayOnTheHeap) {
  Result<Tensor> t = allocate_releasable(DataType::kFloat32, {1024, 2048});
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_FALSE(is_scratch_mapped(t->raw()));
  // Releasing heap memory does nothing (and says so).
  static_cast<float*>(t->raw())[0] = 3.0f;
  EXPECT_FALSE(release_mapped_pages(t->raw(), t->bytes()));
  EXPECT_EQ(static_cast<float*>(t->raw())[0], 3.0f);
  EXPECT_EQ(allocate_releasable(DataType::kFloat32, {-1, 4}).status().code(), StatusCode::kInvalidArgument);
}

TEST(WeightMemory, BigConstantsGoToScratchFilesAndLeaveTheResidentSet) {
  MappedModelFile model("scratch");
  const size_t files_before = entries(model.dir());
  // Small constants stay on the heap.
  Result<Tensor> small = allocate_releasable(DataType::kFloat32, {16, 16});
  ASSERT_TRUE(small.ok());
  EXPECT_FALSE(is_scratch_mapped(small->raw()));

  const int64_t rows = 2048, cols = 4096;  // 32 MiB
  const void* where = nullptr;
  {
    Result<Tensor> t = allocate_releasable(DataType::kFloat32, {rows, cols});
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    where = t->raw();
    EXPECT_TRUE(is_scratch_mapped(where));
    auto* f = static_cast<float*>(t->raw());
    EXPECT_EQ(f[0], 0.0f);  // zero-filled, like Tensor::allocate
    EXPECT_EQ(f[rows * cols - 1], 0.0f);
    const int64_t before = resident_pages();
    for (int64_t i = 0; i < rows * cols; ++i) f[i] = static_cast<float>(i % 1000);
    const int64_t written = resident_pages();
    EXPECT_GT(written - before, 6000);  // ~8192 pages
    EXPECT_TRUE(release_mapped_pages(t->raw(), t->bytes()));
    const int64_t released = resident_pages();
    EXPECT_GT(written - released, 6000) << "before " << before << " written " << written << " released " << released;
    // The contents survive the release (they come back from the scratch file's pages).
    for (int64_t i = 0; i < rows * cols; i += 4099) ASSERT_EQ(f[i], static_cast<float>(i % 1000)) << i;
    // The scratch file has no name: nothing appears in the model's directory.
    EXPECT_EQ(entries(model.dir()), files_before);
  }
  // Gone with the tensor.
  EXPECT_FALSE(is_scratch_mapped(where));
  EXPECT_EQ(entries(model.dir()), files_before);
}

TEST(WeightMemory, ReleasingTheModelsOwnPagesKeepsThemReadable) {
  MappedModelFile model("readonly");
  const auto* p = static_cast<const volatile char*>(model.data());
  EXPECT_EQ(p[4096], 'w');
  EXPECT_TRUE(release_mapped_pages(model.data(), 1 << 20));
  // A range that runs past the mapping is not the mapping's.
  EXPECT_FALSE(release_mapped_pages(model.data(), (1 << 20) + 1));
  EXPECT_EQ(p[4096], 'w');
}

TEST(WeightMemory, AnUnusableModelDirectoryFallsBackToTheTemporaryDirectory) {
  // A model "mapped" from a directory that does not exist (as good as a read-only one).
  void* map = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  remember_mapping(map, 4096, "/nonexistent/slimrt/model/dir");
  {
    Result<Tensor> t = allocate_releasable(DataType::kFloat16, {4096, 1024});
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_TRUE(is_scratch_mapped(t->raw()));
    static_cast<uint16_t*>(t->raw())[12345] = 0x3c00;
    EXPECT_TRUE(release_mapped_pages(t->raw(), t->bytes()));
    EXPECT_EQ(static_cast<uint16_t*>(t->raw())[12345], 0x3c00);
  }
  forget_mapping(map);
  ::munmap(map, 4096);
}

}  // namespace
}  // namespace slimrt::onnx_import
