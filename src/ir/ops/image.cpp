// Shape inference for the image op family: Resize, Pad, DepthToSpace, SpaceToDepth.
#include <cmath>
#include <string>
#include <vector>

#include "ir/op_registry.h"
#include "ir/ops/infer_common.h"

namespace slimrt {

namespace {

// Normalized, duplicate-free axes from an attribute (default: every axis).
Status read_axes(const ShapeContext& ctx, const std::vector<int64_t>& raw, int64_t rank, std::vector<int64_t>* axes) {
  axes->clear();
  if (raw.empty()) {
    for (int64_t i = 0; i < rank; ++i) axes->push_back(i);
    return Status::OK();
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : raw) {
    int64_t n = 0;
    SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, a, rank, &n));
    if (seen[static_cast<size_t>(n)]) return ctx.error("axis " + std::to_string(a) + " is repeated");
    seen[static_cast<size_t>(n)] = true;
    axes->push_back(n);
  }
  return Status::OK();
}

// An optional 1-D input given as an empty tensor counts as absent (older exporters write "").
bool input_present(const ShapeContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return false;
  if (ctx.has_shape(i)) {
    const Shape& s = ctx.input_shape(i);
    if (s.size() == 1 && s[0] == Dim(0)) return false;
  }
  return true;
}

Status infer_resize(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const Node& node = ctx.node();
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "cubic") return ctx.unsupported("Resize mode '" + mode + "'");
  const std::string ctm = node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (ctm != "half_pixel" && ctm != "half_pixel_symmetric" && ctm != "pytorch_half_pixel" && ctm != "align_corners" &&
      ctm != "asymmetric" && ctm != "tf_crop_and_resize" && ctm != "tf_half_pixel_for_nn")
    return ctx.unsupported("Resize coordinate_transformation_mode '" + ctm + "'");
  const std::string nm = node.attr_string("nearest_mode", "round_prefer_floor");
  if (nm != "round_prefer_floor" && nm != "round_prefer_ceil" && nm != "floor" && nm != "ceil")
    return ctx.unsupported("Resize nearest_mode '" + nm + "'");
  const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
    return ctx.unsupported("Resize keep_aspect_ratio_policy '" + policy + "'");
  const bool has_scales = input_present(ctx, 2), has_sizes = input_present(ctx, 3);
  if (has_scales == has_sizes) return ctx.error("exactly one of scales and sizes must be given");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  std::vector<int64_t> axes;
  SLIMRT_RETURN_IF_ERROR(read_axes(ctx, node.attr_ints("axes"), rank, &axes));
  const size_t na = axes.size();
  Shape out = x;
  if (has_sizes) {
    const std::vector<Dim>* sizes = ctx.input_value(3);
    if (!sizes) {
      for (int64_t a : axes) out[static_cast<size_t>(a)] = ctx.fresh_dim(0, static_cast<size_t>(a));
    } else if (sizes->size() != na) {
      return ctx.error("sizes has " + std::to_string(sizes->size()) + " entries for " + std::to_string(na) + " axes");
    } else if (policy == "stretch") {
      for (size_t i = 0; i < na; ++i) out[static_cast<size_t>(axes[i])] = (*sizes)[i];
    } else {
      // One common scale for every listed axis; needs static sizes and input dims.
      bool known = true;
      double scale = policy == "not_larger" ? 1e300 : 0.0;
      for (size_t i = 0; i < na && known; ++i) {
        auto s = (*sizes)[i].value();
        auto in = x[static_cast<size_t>(axes[i])].value();
        if (!s || !in || *in == 0) {
          known = false;
          break;
        }
        const double r = static_cast<double>(*s) / static_cast<double>(*in);
        scale = policy == "not_larger" ? std::min(scale, r) : std::max(scale, r);
      }
      for (size_t i = 0; i < na; ++i) {
        const size_t a = static_cast<size_t>(axes[i]);
        out[a] = known ? Dim(static_cast<int64_t>(scale * static_cast<double>(*x[a].value()) + 0.5)) : ctx.fresh_dim(0, a);
      }
    }
  } else {
    auto scales = ctx.input_constant_as_doubles(2);
    if (scales && scales->size() != na)
      return ctx.error("scales has " + std::to_string(scales->size()) + " entries for " + std::to_string(na) + " axes");
    for (size_t i = 0; i < na; ++i) {
      const size_t a = static_cast<size_t>(axes[i]);
      if (!scales) {
        out[a] = ctx.fresh_dim(0, a);
        continue;
      }
      const double s = (*scales)[i];
      if (!(s > 0) || !std::isfinite(s)) return ctx.error("scales must be positive and finite");
      if (s == 1.0) continue;
      if (auto in = x[a].value()) {
        // float32 arithmetic, as ONNX's reference and onnxruntime compute it.
        out[a] = Dim(static_cast<int64_t>(std::floor(static_cast<float>(s) * static_cast<float>(*in))));
      } else if (s == std::floor(s) && s <= 65536.0) {
        // An integer scale keeps the size an expression of the input's symbol, so an engine can
        // plan it from the profile (floor(s * in) is s * in exactly).
        out[a] = x[a] * Dim(static_cast<int64_t>(s));
      } else {
        out[a] = ctx.fresh_dim(0, a);
      }
    }
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_pad(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const std::string mode = ctx.node().attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    return ctx.unsupported("Pad mode '" + mode + "'");
  if (ctx.has_input(2) && ctx.input_dtype(2) != dt)
    return ctx.error("constant_value must have the data's dtype " + std::string(dtype_name(dt)));
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  std::vector<int64_t> axes;
  if (ctx.has_input(3)) {
    auto raw = ctx.input_static_value(3);
    if (!raw) {
      // Unknown axes: every dim may change.
      Shape out;
      for (size_t i = 0; i < x.size(); ++i) out.push_back(ctx.fresh_dim(0, i));
      ctx.set_output(0, dt, std::move(out));
      return Status::OK();
    }
    SLIMRT_RETURN_IF_ERROR(read_axes(ctx, *raw, rank, &axes));
  } else {
    SLIMRT_RETURN_IF_ERROR(read_axes(ctx, {}, rank, &axes));
  }
  const size_t na = axes.size();
  Shape out = x;
  const std::vector<Dim>* pads = ctx.input_value(1);
  if (!pads) {
    for (int64_t a : axes) out[static_cast<size_t>(a)] = ctx.fresh_dim(0, static_cast<size_t>(a));
    ctx.set_output(0, dt, std::move(out));
    return Status::OK();
  }
  if (pads->size() != 2 * na)
    return ctx.error("pads has " + std::to_string(pads->size()) + " entries; expected " + std::to_string(2 * na) +
                     " (begin and end for each of " + std::to_string(na) + " axes)");
  for (size_t i = 0; i < na; ++i) {
    const size_t a = static_cast<size_t>(axes[i]);
    const Dim total = (*pads)[i] + (*pads)[i + na];
    if (total == Dim(0)) continue;
    out[a] = x[a] + total;
    if (auto v = out[a].value(); v && *v < 0)
      return ctx.error("pads crop axis " + std::to_string(a) + " to a negative size " + std::to_string(*v));
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_depth_space(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const bool to_space = ctx.node().op_type() == "DepthToSpace";
  const int64_t b = ctx.node().attr_int("blocksize", 0);
  if (b <= 0) return ctx.error("blocksize must be positive");
  if (to_space) {
    const std::string mode = ctx.node().attr_string("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") return ctx.unsupported("DepthToSpace mode '" + mode + "'");
  }
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  if (x.size() != 4) return ctx.error("X must have rank 4 ([N, C, H, W])");
  auto div = [&](const Dim& d, int64_t k, size_t axis, Dim* out) -> Status {
    if (auto v = d.value()) {
      if (*v % k != 0)
        return ctx.error("dim " + std::to_string(axis) + " (" + std::to_string(*v) + ") is not divisible by " + std::to_string(k));
      *out = Dim(*v / k);
      return Status::OK();
    }
    auto q = d.divide(Dim(k));
    *out = q ? *q : ctx.fresh_dim(0, axis);
    return Status::OK();
  };
  Shape out = x;
  if (to_space) {
    SLIMRT_RETURN_IF_ERROR(div(x[1], b * b, 1, &out[1]));
    out[2] = x[2] * Dim(b);
    out[3] = x[3] * Dim(b);
  } else {
    out[1] = x[1] * Dim(b * b);
    SLIMRT_RETURN_IF_ERROR(div(x[2], b, 2, &out[2]));
    SLIMRT_RETURN_IF_ERROR(div(x[3], b, 3, &out[3]));
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

// GridSample (opset 20 names; opset 16's "bilinear" / "bicubic" are accepted too).
Status infer_grid_sample(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const Node& node = ctx.node();
  const std::string mode = node.attr_string("mode", "linear");
  if (mode != "linear" && mode != "bilinear" && mode != "nearest" && mode != "cubic" && mode != "bicubic")
    return ctx.unsupported("GridSample mode '" + mode + "'");
  const std::string pad = node.attr_string("padding_mode", "zeros");
  if (pad != "zeros" && pad != "border" && pad != "reflection")
    return ctx.unsupported("GridSample padding_mode '" + pad + "'");
  if (!dtype_is_float(ctx.input_dtype(1))) return ctx.error("grid must be a float tensor");
  if (set_dtype_if_shape_unknown(ctx, dt, {0, 1})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  const Shape& g = ctx.input_shape(1);
  if (x.size() < 3) return ctx.error("X must have rank >= 3 ([N, C, spatial...])");
  if (g.size() != x.size()) return ctx.error("grid must have X's rank ([N, spatial out..., " + std::to_string(x.size() - 2) + "])");
  if (g.back().is_static() && g.back() != Dim(static_cast<int64_t>(x.size() - 2)))
    return ctx.error("grid's last dim must be the " + std::to_string(x.size() - 2) + " spatial dims of X");
  if (x[0].is_static() && g[0].is_static() && x[0] != g[0]) return ctx.error("X and grid have different batch sizes");
  Shape out = {x[0].is_static() ? x[0] : g[0], x[1]};
  out.insert(out.end(), g.begin() + 1, g.end() - 1);
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

}  // namespace

void register_image_ops(OpRegistry& r) {
  r.add({"Resize", 1, 4, 1, 1, infer_resize, 0b1110});
  r.add({"Pad", 2, 4, 1, 1, infer_pad, 0b1110});
  r.add({"DepthToSpace", 1, 1, 1, 1, infer_depth_space});
  r.add({"SpaceToDepth", 1, 1, 1, 1, infer_depth_space});
  r.add({"GridSample", 2, 2, 1, 1, infer_grid_sample});
}

}  // namespace slimrt
