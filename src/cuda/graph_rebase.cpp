// GraphRebase (graph_rebase.h): finds the bound addresses in a captured graph's nodes and
// rewrites them in its executable graph.
#include "cuda/graph_rebase.h"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "cuda/check.h"

namespace slimrt::cuda {
namespace {

// The driver entry points for kernel nodes (the runtime has no parameter-layout query for a
// node's function), resolved through the runtime so that nothing links libcuda directly.
struct Driver {
  PFN_cuGraphKernelNodeGetParams_v12000 get_kernel_node = nullptr;
  PFN_cuGraphExecKernelNodeSetParams_v12000 set_exec_kernel_node = nullptr;
  PFN_cuFuncGetParamInfo_v12040 func_param_info = nullptr;
  PFN_cuKernelGetParamInfo_v12040 kernel_param_info = nullptr;
  bool complete() const { return get_kernel_node && set_exec_kernel_node && func_param_info && kernel_param_info; }
};

template <typename Fn>
void entry_point(const char* name, unsigned version, Fn* fn) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  if (SLIMRT_CUDA(cudaGetDriverEntryPointByVersion(name, &p, version, cudaEnableDefault, &found)).ok() &&
      found == cudaDriverEntryPointSuccess)
    *fn = reinterpret_cast<Fn>(p);
}

const Driver& driver() {
  static const Driver d = [] {
    Driver r;
    entry_point("cuGraphKernelNodeGetParams", 12000, &r.get_kernel_node);
    entry_point("cuGraphExecKernelNodeSetParams", 12000, &r.set_exec_kernel_node);
    entry_point("cuFuncGetParamInfo", 12040, &r.func_param_info);
    entry_point("cuKernelGetParamInfo", 12040, &r.kernel_param_info);
    return r;
  }();
  return d;
}

constexpr uint64_t kMaxAlignment = 256;

uint64_t alignment_of(uintptr_t p) {
  if (p == 0) return kMaxAlignment;
  return std::min<uint64_t>(p & (~p + 1), kMaxAlignment);
}

// A word found inside range `range`, at `delta` bytes from its base.
struct Patch {
  uint32_t at = 0;  // byte offset in the kernel's parameter buffer; for copies 0 = src, 1 = dst
  uint32_t range = 0;
  uint64_t delta = 0;
};

}  // namespace

struct GraphRebase::State {
  struct KernelSite {
    cudaGraphNode_t node = nullptr;
    CUDA_KERNEL_NODE_PARAMS params{};
    std::vector<std::byte> buffer;  // the parameters in the device-side layout
    std::vector<void*> args;        // per parameter: its place in `buffer`
    void* extra[5] = {};            // for a kernel captured with a packed buffer (CU_LAUNCH_PARAM_*)
    size_t extra_bytes = 0;
    bool packed = false;
    std::vector<Patch> patches;
  };
  struct CopySite {
    cudaGraphNode_t node = nullptr;
    cudaMemcpy3DParms params{};
    std::vector<Patch> patches;
  };
  struct SetSite {
    cudaGraphNode_t node = nullptr;
    cudaMemsetParams params{};
    Patch patch;
  };
  std::vector<AddressRange> ranges;    // as captured
  std::vector<uintptr_t> applied;      // the bases the executable graph holds now
  std::vector<KernelSite> kernels;
  std::vector<CopySite> copies;
  std::vector<SetSite> sets;
  size_t words = 0;

  // The range holding `v` (-1: none); -2 when two ranges hold it.
  int find(uint64_t v) const {
    int found = -1;
    for (size_t r = 0; r < ranges.size(); ++r) {
      const AddressRange& a = ranges[r];
      if (a.base == 0) continue;
      if (v >= a.base && v < a.base + std::max<uint64_t>(a.bytes, 1)) {
        if (found >= 0) return -2;
        found = static_cast<int>(r);
      }
    }
    return found;
  }

  bool moved(const Patch& p, std::span<const uintptr_t> bases) const { return bases[p.range] != applied[p.range]; }

  Status scan_kernel(cudaGraphNode_t node, size_t index) {
    const Driver& drv = driver();
    KernelSite k;
    k.node = node;
    if (CUresult r = drv.get_kernel_node(node, &k.params); r != CUDA_SUCCESS)
      return unsupported(fmt::format("kernel node {}: its parameters cannot be read (CUresult {})", index, static_cast<int>(r)));
    if (!k.params.kernelParams && k.params.extra) {
      // A packed parameter buffer: CU_LAUNCH_PARAM_BUFFER_POINTER, ptr, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, END.
      const void* data = nullptr;
      size_t bytes = 0;
      for (void** e = k.params.extra; *e != CU_LAUNCH_PARAM_END; e += 2) {
        if (*e == CU_LAUNCH_PARAM_BUFFER_POINTER) data = e[1];
        else if (*e == CU_LAUNCH_PARAM_BUFFER_SIZE) bytes = *static_cast<const size_t*>(e[1]);
        else return unsupported(fmt::format("kernel node {}: an unknown launch option", index));
      }
      if (!data && bytes > 0) return unsupported(fmt::format("kernel node {}: a packed buffer without data", index));
      k.buffer.resize(bytes);
      if (bytes > 0) std::memcpy(k.buffer.data(), data, bytes);
      k.packed = true;
    } else {
      std::vector<std::pair<size_t, size_t>> layout;  // offset, size per parameter
      for (size_t i = 0;; ++i) {
        size_t offset = 0, size = 0;
        const CUresult r = k.params.func ? drv.func_param_info(k.params.func, i, &offset, &size)
                                         : drv.kernel_param_info(k.params.kern, i, &offset, &size);
        if (r == CUDA_ERROR_INVALID_VALUE) break;  // past the last parameter
        if (r != CUDA_SUCCESS)
          return unsupported(fmt::format("kernel node {}: the parameter layout is unknown (CUresult {})", index,
                                         static_cast<int>(r)));
        layout.push_back({offset, size});
      }
      if (!layout.empty() && !k.params.kernelParams)
        return unsupported(fmt::format("kernel node {}: parameters without values", index));
      size_t total = 0;
      for (auto [off, size] : layout) total = std::max(total, off + size);
      k.buffer.assign(total, std::byte{0});
      for (size_t i = 0; i < layout.size(); ++i) {
        std::memcpy(k.buffer.data() + layout[i].first, k.params.kernelParams[i], layout[i].second);
      }
      for (auto [off, size] : layout) k.args.push_back(k.buffer.data() + off);
    }
    // Pointers sit at 8-byte aligned offsets of the device-side layout.
    for (size_t at = 0; at + 8 <= k.buffer.size(); at += 8) {
      uint64_t v = 0;
      std::memcpy(&v, k.buffer.data() + at, 8);
      const int r = find(v);
      if (r == -2) return unsupported(fmt::format("kernel node {}: an address inside two bound ranges", index));
      if (r >= 0) k.patches.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(r), v - ranges[static_cast<size_t>(r)].base});
    }
    if (!k.patches.empty()) {
      words += k.patches.size();
      kernels.push_back(std::move(k));
    }
    return Status::OK();
  }

  Status scan_copy(cudaGraphNode_t node, size_t index) {
    CopySite c;
    c.node = node;
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaGraphMemcpyNodeGetParams(node, &c.params));
    const uintptr_t ends[2] = {reinterpret_cast<uintptr_t>(c.params.srcPtr.ptr), reinterpret_cast<uintptr_t>(c.params.dstPtr.ptr)};
    for (uint32_t e = 0; e < 2; ++e) {
      const int r = find(ends[e]);
      if (r == -2) return unsupported(fmt::format("copy node {}: an address inside two bound ranges", index));
      if (r >= 0) c.patches.push_back({e, static_cast<uint32_t>(r), ends[e] - ranges[static_cast<size_t>(r)].base});
    }
    if (!c.patches.empty()) {
      words += c.patches.size();
      copies.push_back(std::move(c));
    }
    return Status::OK();
  }

  Status scan_set(cudaGraphNode_t node, size_t index) {
    SetSite s;
    s.node = node;
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaGraphMemsetNodeGetParams(node, &s.params));
    const auto dst = reinterpret_cast<uintptr_t>(s.params.dst);
    const int r = find(dst);
    if (r == -2) return unsupported(fmt::format("memset node {}: an address inside two bound ranges", index));
    if (r >= 0) {
      s.patch = {1, static_cast<uint32_t>(r), dst - ranges[static_cast<size_t>(r)].base};
      ++words;
      sets.push_back(s);
    }
    return Status::OK();
  }
};

GraphRebase::GraphRebase(std::unique_ptr<State> s) : s_(std::move(s)) {}
GraphRebase::GraphRebase(GraphRebase&&) noexcept = default;
GraphRebase& GraphRebase::operator=(GraphRebase&&) noexcept = default;
GraphRebase::~GraphRebase() = default;

size_t GraphRebase::patched_nodes() const { return s_->kernels.size() + s_->copies.size() + s_->sets.size(); }
size_t GraphRebase::patched_words() const { return s_->words; }

Result<GraphRebase> GraphRebase::scan(cudaGraph_t graph, std::span<const AddressRange> ranges) {
  if (!driver().complete())
    return unsupported("the CUDA driver does not offer kernel-node parameter queries (cuFuncGetParamInfo needs 12.4+)");
  auto s = std::make_unique<State>();
  s->ranges.assign(ranges.begin(), ranges.end());
  for (size_t a = 0; a < ranges.size(); ++a) {
    for (size_t b = a + 1; b < ranges.size(); ++b) {
      const AddressRange& x = ranges[a];
      const AddressRange& y = ranges[b];
      if (x.base == 0 || y.base == 0) continue;
      if (x.base < y.base + std::max<uint64_t>(y.bytes, 1) && y.base < x.base + std::max<uint64_t>(x.bytes, 1))
        return unsupported(fmt::format("bound ranges {} and {} overlap", a, b));
    }
  }
  for (const AddressRange& r : ranges) s->applied.push_back(r.base);
  size_t n = 0;
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaGraphGetNodes(graph, nullptr, &n));
  std::vector<cudaGraphNode_t> nodes(n);
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaGraphGetNodes(graph, nodes.data(), &n));
  for (size_t i = 0; i < n; ++i) {
    cudaGraphNodeType type{};
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaGraphNodeGetType(nodes[i], &type));
    switch (type) {
      case cudaGraphNodeTypeKernel: SLIMRT_RETURN_IF_ERROR(s->scan_kernel(nodes[i], i)); break;
      case cudaGraphNodeTypeMemcpy: SLIMRT_RETURN_IF_ERROR(s->scan_copy(nodes[i], i)); break;
      case cudaGraphNodeTypeMemset: SLIMRT_RETURN_IF_ERROR(s->scan_set(nodes[i], i)); break;
      case cudaGraphNodeTypeEmpty:
      case cudaGraphNodeTypeWaitEvent:
      case cudaGraphNodeTypeEventRecord: break;
      default: return unsupported(fmt::format("node {} is of a kind that may hold addresses (type {})", i, static_cast<int>(type)));
    }
  }
  return GraphRebase(std::move(s));
}

bool GraphRebase::compatible(std::span<const uintptr_t> bases) const {
  if (bases.size() != s_->ranges.size()) return false;
  for (size_t r = 0; r < bases.size(); ++r) {
    const uintptr_t was = s_->ranges[r].base;
    if ((was == 0) != (bases[r] == 0)) return false;  // bound then, not now (or the reverse)
    if (bases[r] != was && bases[r] % alignment_of(was) != 0) return false;
  }
  return true;
}

Status GraphRebase::apply(cudaGraphExec_t exec, std::span<const uintptr_t> bases) {
  if (!compatible(bases)) return invalid_argument("GraphRebase::apply: addresses incompatible with the captured graph");
  State& s = *s_;
  const Driver& drv = driver();
  for (State::KernelSite& k : s.kernels) {
    if (std::none_of(k.patches.begin(), k.patches.end(), [&](const Patch& p) { return s.moved(p, bases); })) continue;
    for (const Patch& p : k.patches) {
      const uint64_t v = bases[p.range] + p.delta;
      std::memcpy(k.buffer.data() + p.at, &v, 8);
    }
    CUDA_KERNEL_NODE_PARAMS q = k.params;
    if (k.packed) {
      k.extra_bytes = k.buffer.size();
      k.extra[0] = CU_LAUNCH_PARAM_BUFFER_POINTER;
      k.extra[1] = k.buffer.data();
      k.extra[2] = CU_LAUNCH_PARAM_BUFFER_SIZE;
      k.extra[3] = &k.extra_bytes;
      k.extra[4] = CU_LAUNCH_PARAM_END;
      q.kernelParams = nullptr;
      q.extra = k.extra;
    } else {
      q.kernelParams = k.args.data();
      q.extra = nullptr;
    }
    if (CUresult r = drv.set_exec_kernel_node(exec, k.node, &q); r != CUDA_SUCCESS)
      return internal_error(fmt::format("cuGraphExecKernelNodeSetParams failed (CUresult {}) re-pointing a CUDA graph",
                                        static_cast<int>(r)));
  }
  for (State::CopySite& c : s.copies) {
    if (std::none_of(c.patches.begin(), c.patches.end(), [&](const Patch& p) { return s.moved(p, bases); })) continue;
    for (const Patch& p : c.patches) {
      void* v = reinterpret_cast<void*>(bases[p.range] + p.delta);
      (p.at == 0 ? c.params.srcPtr : c.params.dstPtr).ptr = v;
    }
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaGraphExecMemcpyNodeSetParams(exec, c.node, &c.params), "re-pointing a CUDA graph");
  }
  for (State::SetSite& m : s.sets) {
    if (!s.moved(m.patch, bases)) continue;
    m.params.dst = reinterpret_cast<void*>(bases[m.patch.range] + m.patch.delta);
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaGraphExecMemsetNodeSetParams(exec, m.node, &m.params), "re-pointing a CUDA graph");
  }
  s.applied.assign(bases.begin(), bases.end());
  return Status::OK();
}

}  // namespace slimrt::cuda
