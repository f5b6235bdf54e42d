// src/onnx/weight_memory.h: host memory of a build that can leave the resident set. Not a
// public header; no protobuf.
//
// A build reads every weight once, on its way into the engine file, and a 13 GB model must not
// make the process 13 GB big. Two kinds of memory can be dropped as the build goes:
//
//  - read-only mappings of the model's files (MappedFile::open): the weights the importer hands
//    out point into them;
//  - file-backed scratch for big constants a pass builds out of weights (the packed QKV weight
//    is three projections concatenated): allocate_releasable() puts them in a shared mapping of
//    an unlinked file beside the model's weights, not on the heap.
//
// release_mapped_pages() drops the pages of a range inside either kind (madvise MADV_DONTNEED).
// A read-only file page is read again from the file if touched; a scratch page written by the
// pass is kept by the kernel in the page cache (and written to the scratch file under memory
// pressure), so its contents survive. Either way the pages stop counting in the process's
// resident set (RSS and VmHWM count mapped file pages, whether the file was cached or not).
//
//   Result<Tensor> w = allocate_releasable(DataType::kFloat16, {4096, 12288});
//   fill(*w);
//   release_mapped_pages(w->raw(), w->bytes());   // written: off the resident set
//   ...
//   release_mapped_pages(src + at, n);            // the engine writer, behind itself
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt::onnx_import {

// Keeps [begin, begin + bytes) known as a releasable mapping until forget_mapping(begin).
// `directory` is where the mapped file lives ("" for none): scratch files go there.
void remember_mapping(const void* begin, uint64_t bytes, const std::string& directory);
void forget_mapping(const void* begin);

// Drops the resident pages of [data, data + bytes) when that range lies inside a remembered
// mapping: whole pages, clipped to the mapping (a page that also holds other bytes is dropped
// too, which is harmless: it comes back on the next touch). Memory outside such mappings (the
// heap) is never touched. Returns whether the range was mapped.
bool release_mapped_pages(const void* data, uint64_t bytes);

// Constants at least this big go to scratch files while model files are mapped.
inline constexpr uint64_t kReleasableMinBytes = uint64_t{4} << 20;

// A zero-filled host tensor for a constant built from weights. When it is at least
// kReleasableMinBytes and a model file is mapped (a model with external data: the weights are
// big), its memory is a shared read-write mapping of an unlinked, fully allocated file in the
// directory of a mapped model file (else $TMPDIR, else /tmp), remembered for
// release_mapped_pages; the file disappears with the tensor. Otherwise, or when no such file can
// be made (a read-only directory, no space), it is Tensor::allocate's heap memory.
Result<Tensor> allocate_releasable(DataType dtype, std::vector<int64_t> shape);

// Whether `data` lies in a scratch mapping made by allocate_releasable (for tests).
bool is_scratch_mapped(const void* data);

}  // namespace slimrt::onnx_import
