// CPU reference kernels for the image op family: Pad, DepthToSpace, SpaceToDepth here; Resize in
// image_resize.cpp, GridSample in image_grid_sample.cpp. The ops here only move bytes, so they
// dispatch on element size and never widen.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

void register_image_resize_kernels(KernelRegistry& r);
void register_image_grid_sample_kernels(KernelRegistry& r);

namespace {

bool next_index(std::vector<int64_t>& idx, const std::vector<int64_t>& limits) {
  for (size_t d = idx.size(); d-- > 0;) {
    if (++idx[d] < limits[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Source index along one axis for each output index (-1: the constant value). Negative pads
// crop first; the remaining positive pads are then filled by `mode` from the cropped extent.
Status pad_axis_map(const KernelContext& ctx, const std::string& mode, int64_t in, int64_t pb, int64_t pe, int64_t out,
                    std::vector<int64_t>* map) {
  const int64_t start = std::max<int64_t>(0, -pb);
  const int64_t len = in - start - std::max<int64_t>(0, -pe);
  const int64_t lead = std::max<int64_t>(0, pb);
  map->assign(static_cast<size_t>(out), -1);
  if (len <= 0 && out > 0 && mode != "constant")
    return ctx.invalid("Pad mode '" + mode + "' needs a non-empty axis to pad from");
  for (int64_t o = 0; o < out; ++o) {
    int64_t j = o - lead;
    if (j < 0 || j >= len) {
      if (mode == "constant") continue;
      if (mode == "edge") {
        j = std::clamp<int64_t>(j, 0, len - 1);
      } else if (mode == "wrap") {
        j = ((j % len) + len) % len;
      } else if (len == 1) {  // reflect
        j = 0;
      } else {
        const int64_t period = 2 * (len - 1);
        j = ((j % period) + period) % period;
        if (j >= len) j = period - j;
      }
    }
    (*map)[static_cast<size_t>(o)] = start + j;
  }
  return Status::OK();
}

template <typename T>
Status pad_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  Tensor& y = ctx.output(0);
  const std::string mode = ctx.node.attr_string("mode", "constant");
  const int64_t rank = static_cast<int64_t>(x.rank());
  const std::vector<int64_t> pads = ctx.input(1)->to_int64_vector();
  std::vector<int64_t> axes;
  if (const Tensor* a = ctx.input(3)) {
    axes = a->to_int64_vector();
    for (int64_t& v : axes) v = v < 0 ? v + rank : v;
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  std::vector<int64_t> pb(static_cast<size_t>(rank), 0), pe(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    pb[static_cast<size_t>(axes[i])] = pads[i];
    pe[static_cast<size_t>(axes[i])] = pads[i + axes.size()];
  }
  T fill{};
  if (const Tensor* c = ctx.input(2); c && c->numel() > 0) std::memcpy(&fill, c->raw(), sizeof(T));
  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(rank));
  for (size_t d = 0; d < static_cast<size_t>(rank); ++d)
    SLIMRT_RETURN_IF_ERROR(pad_axis_map(ctx, mode, x.dim(d), pb[d], pe[d], y.dim(d), &maps[d]));
  const T* xd = static_cast<const T*>(x.raw());
  T* yd = static_cast<T*>(y.raw());
  if (y.numel() == 0) return Status::OK();
  if (rank == 0) {
    yd[0] = xd[0];
    return Status::OK();
  }
  std::vector<int64_t> in_stride(static_cast<size_t>(rank), 1);
  for (size_t d = static_cast<size_t>(rank) - 1; d-- > 0;) in_stride[d] = in_stride[d + 1] * x.dim(d + 1);
  const size_t last = static_cast<size_t>(rank) - 1;
  std::vector<int64_t> o(last, 0), olim(y.shape().begin(), y.shape().end() - 1);
  const std::vector<int64_t>& lmap = maps[last];
  const int64_t w = y.dim(last);
  do {
    int64_t base = 0;
    bool constant_row = false;
    for (size_t d = 0; d < last; ++d) {
      const int64_t s = maps[d][static_cast<size_t>(o[d])];
      if (s < 0) constant_row = true;
      base += s * in_stride[d];
    }
    for (int64_t i = 0; i < w; ++i) {
      const int64_t s = lmap[static_cast<size_t>(i)];
      yd[i] = constant_row || s < 0 ? fill : xd[base + s];
    }
    yd += w;
  } while (last > 0 && next_index(o, olim));
  return Status::OK();
}

// DepthToSpace / SpaceToDepth as a 6-D transpose of a reshaped view.
template <typename T>
void transpose6(const T* src, const std::vector<int64_t>& dims, const std::vector<int64_t>& perm, T* dst) {
  std::vector<int64_t> stride(6, 1);
  for (size_t d = 5; d-- > 0;) stride[d] = stride[d + 1] * dims[d + 1];
  std::vector<int64_t> odims(6), ostride(6);
  for (size_t d = 0; d < 6; ++d) {
    odims[d] = dims[static_cast<size_t>(perm[d])];
    ostride[d] = stride[static_cast<size_t>(perm[d])];
  }
  std::vector<int64_t> idx(5, 0), lim(odims.begin(), odims.begin() + 5);
  for (int64_t d : odims) {
    if (d == 0) return;
  }
  do {
    int64_t base = 0;
    for (size_t d = 0; d < 5; ++d) base += idx[d] * ostride[d];
    for (int64_t i = 0; i < odims[5]; ++i) *dst++ = src[base + i * ostride[5]];
  } while (next_index(idx, lim));
}

template <typename T>
Status depth_space_typed(KernelContext& ctx, bool to_space) {
  const Tensor& x = *ctx.input(0);
  const int64_t b = ctx.node.attr_int("blocksize", 1);
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const T* src = static_cast<const T*>(x.raw());
  T* dst = static_cast<T*>(ctx.output(0).raw());
  if (!to_space) {
    transpose6(src, {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4}, dst);
  } else if (ctx.node.attr_string("mode", "DCR") == "CRD") {
    transpose6(src, {n, c / (b * b), b, b, h, w}, {0, 1, 4, 2, 5, 3}, dst);
  } else {
    transpose6(src, {n, b, b, c / (b * b), h, w}, {0, 3, 4, 1, 5, 2}, dst);
  }
  return Status::OK();
}

Status pad_kernel(KernelContext& ctx) {
  return dispatch_bytes(ctx.input(0)->dtype(), [&]<typename T>() { return pad_typed<T>(ctx); });
}
Status depth_to_space_kernel(KernelContext& ctx) {
  return dispatch_bytes(ctx.input(0)->dtype(), [&]<typename T>() { return depth_space_typed<T>(ctx, true); });
}
Status space_to_depth_kernel(KernelContext& ctx) {
  return dispatch_bytes(ctx.input(0)->dtype(), [&]<typename T>() { return depth_space_typed<T>(ctx, false); });
}

}  // namespace

void register_image_kernels(KernelRegistry& r) {
  register_image_resize_kernels(r);
  register_image_grid_sample_kernels(r);
  r.add({"Pad", pad_kernel, false});
  r.add({"DepthToSpace", depth_to_space_kernel, false});
  r.add({"SpaceToDepth", space_to_depth_kernel, false});
}

}  // namespace slimrt::cpu
