// Shape inference for the nn op family: Conv, ConvTranspose, pooling (incl. MaxUnpool),
// normalizations, LRN, Dropout.
#include <string>
#include <vector>

#include "ir/layout.h"
#include "ir/op_registry.h"
#include "ir/ops/infer_common.h"
#include "ir/ops/nn_geometry.h"

namespace slimrt {

namespace {

std::string ints_to_string(const std::vector<int64_t>& v) { return shape_to_string(v); }

// Reads strides/dilations/pads/kernel for `n` spatial axes and checks their lengths.
struct WindowAttrs {
  nn::AutoPad auto_pad = nn::AutoPad::kNotSet;
  std::vector<int64_t> kernel, strides, dilations, pads;
};

Status read_window_attrs(const ShapeContext& ctx, size_t n, const std::vector<int64_t>& kernel, WindowAttrs* w) {
  const Node& node = ctx.node();
  w->auto_pad = nn::parse_auto_pad(node.attr_string("auto_pad", "NOTSET"));
  if (w->auto_pad == nn::AutoPad::kInvalid)
    return ctx.unsupported("auto_pad '" + node.attr_string("auto_pad", "") + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  w->kernel = kernel;
  w->strides = node.attr_ints("strides", std::vector<int64_t>(n, 1));
  w->dilations = node.attr_ints("dilations", std::vector<int64_t>(n, 1));
  w->pads = node.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  if (w->kernel.size() != n) return ctx.error("kernel_shape " + ints_to_string(w->kernel) + " does not have " + std::to_string(n) + " spatial dims");
  if (w->strides.size() != n) return ctx.error("strides " + ints_to_string(w->strides) + " do not have " + std::to_string(n) + " entries");
  if (w->dilations.size() != n) return ctx.error("dilations " + ints_to_string(w->dilations) + " do not have " + std::to_string(n) + " entries");
  if (w->pads.size() != 2 * n) return ctx.error("pads " + ints_to_string(w->pads) + " do not have " + std::to_string(2 * n) + " entries");
  for (size_t i = 0; i < n; ++i) {
    if (w->kernel[i] <= 0 || w->strides[i] <= 0 || w->dilations[i] <= 0)
      return ctx.error("kernel, strides and dilations must be positive");
    if (w->pads[i] < 0 || w->pads[i + n] < 0) return ctx.error("pads must be non-negative");
  }
  return Status::OK();
}

// Output spatial dims of a sliding window over `x` (rank n+2) starting at axis 2.
Status window_output_dims(const ShapeContext& ctx, const Shape& x, const WindowAttrs& w, bool ceil_mode, Shape* out) {
  const size_t n = w.kernel.size();
  for (size_t i = 0; i < n; ++i) {
    const Dim& d = x[i + 2];
    nn::WindowAxis a;
    a.kernel = w.kernel[i];
    a.stride = w.strides[i];
    a.dilation = w.dilations[i];
    if (auto v = d.value()) {
      a.in = *v;
      if (!nn::resolve_window_axis(a, w.auto_pad, w.pads[i], w.pads[i + n], ceil_mode))
        return ctx.error("spatial dim " + std::to_string(i) + " (" + std::to_string(a.in) +
                         " plus pads) is smaller than the kernel extent " + std::to_string(a.effective_kernel()));
      out->push_back(Dim(a.out));
      continue;
    }
    // Symbolic input size: exact only for stride 1.
    const bool same = w.auto_pad == nn::AutoPad::kSameUpper || w.auto_pad == nn::AutoPad::kSameLower;
    if (w.strides[i] == 1 && same) {
      out->push_back(d);
    } else if (w.strides[i] == 1) {
      const int64_t pb = w.auto_pad == nn::AutoPad::kValid ? 0 : w.pads[i];
      const int64_t pe = w.auto_pad == nn::AutoPad::kValid ? 0 : w.pads[i + n];
      const int64_t delta = pb + pe - a.effective_kernel() + 1;
      out->push_back(delta == 0 ? d : d + Dim(delta));
    } else {
      out->push_back(ctx.fresh_dim(0, i + 2));
    }
  }
  return Status::OK();
}

// Kernel spatial extents from kernel_shape or from W's static dims (W rank n+2).
Status kernel_from_weight(const ShapeContext& ctx, size_t n, std::vector<int64_t>* kernel) {
  const Node& node = ctx.node();
  if (node.has_attr("kernel_shape")) {
    *kernel = node.attr_ints("kernel_shape");
  } else {
    const Shape& ws = ctx.input_shape(1);
    kernel->clear();
    for (size_t i = 0; i < n; ++i) {
      auto v = ws[i + 2].value();
      if (!v) return ctx.error("the kernel spatial dims of W must be static (or kernel_shape given)");
      kernel->push_back(*v);
    }
  }
  if (ctx.has_shape(1)) {
    const Shape& ws = ctx.input_shape(1);
    for (size_t i = 0; i < n && i < kernel->size(); ++i) {
      auto v = ws[i + 2].value();
      if (v && *v != (*kernel)[i])
        return ctx.error("kernel_shape " + ints_to_string(*kernel) + " does not match W " + shape_to_string(ws));
    }
  }
  return Status::OK();
}

Status check_float(const ShapeContext& ctx, size_t i) {
  if (!dtype_is_float(ctx.input_dtype(i)))
    return ctx.error("input " + std::to_string(i) + " must be a float tensor, not " +
                     std::string(dtype_name(ctx.input_dtype(i))));
  return Status::OK();
}

// Conv/ConvTranspose window: the kernel from kernel_shape or W, then the other window attributes.
Status read_conv_window(const ShapeContext& ctx, size_t n, WindowAttrs* wa) {
  std::vector<int64_t> kernel;
  SLIMRT_RETURN_IF_ERROR(kernel_from_weight(ctx, n, &kernel));
  return read_window_attrs(ctx, n, kernel, wa);
}

// What Conv and ConvTranspose share once X and W have shapes: a float X of rank n + 2 >= 3, a W
// of the same rank and a positive group.
struct ConvInputs {
  const Shape& x;
  const Shape& w;
  size_t n;  // spatial dims
  int64_t group;
};

// The op-specific rest of Conv or ConvTranspose: checks channels and attributes, computes Y.
using ConvOutputFn = Status (*)(const ShapeContext& ctx, const ConvInputs& in, Shape* out);

template <ConvOutputFn output>
Status infer_conv_like(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0, 1})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  const Shape& w = ctx.input_shape(1);
  if (x.size() < 3) return ctx.error("X must have rank >= 3 ([N, C, spatial...])");
  if (w.size() != x.size()) return ctx.error("W must have the same rank as X");
  const int64_t group = ctx.node().attr_int("group", 1);
  if (group <= 0) return ctx.error("group must be positive");
  Shape out;
  SLIMRT_RETURN_IF_ERROR(output(ctx, {x, w, x.size() - 2, group}, &out));
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status conv_output(const ShapeContext& ctx, const ConvInputs& in, Shape* out) {
  const Shape& x = in.x;
  const Shape& w = in.w;
  if (x[1].is_static() && w[1].is_static() && *x[1].value() != *w[1].value() * in.group)
    return ctx.error("X has " + x[1].to_string() + " channels but W expects " + w[1].to_string() + " per group x " +
                     std::to_string(in.group) + " groups");
  if (w[0].is_static() && *w[0].value() % in.group != 0)
    return ctx.error("W's output channels " + w[0].to_string() + " are not divisible by group " + std::to_string(in.group));
  if (ctx.has_shape(2)) {
    const Shape& b = ctx.input_shape(2);
    if (b.size() != 1 || (b[0].is_static() && w[0].is_static() && b[0] != w[0]))
      return ctx.error("B must be a vector of W's " + w[0].to_string() + " output channels");
  }
  WindowAttrs wa;
  SLIMRT_RETURN_IF_ERROR(read_conv_window(ctx, in.n, &wa));
  *out = {x[0], w[0]};
  return window_output_dims(ctx, x, wa, false, out);
}

Status conv_transpose_output(const ShapeContext& ctx, const ConvInputs& in, Shape* out) {
  const Shape& x = in.x;
  const Shape& w = in.w;
  const size_t n = in.n;
  const Node& node = ctx.node();
  if (x[1].is_static() && w[0].is_static() && x[1] != w[0])
    return ctx.error("X has " + x[1].to_string() + " channels but W has " + w[0].to_string() + " input channels");
  WindowAttrs wa;
  SLIMRT_RETURN_IF_ERROR(read_conv_window(ctx, n, &wa));
  const std::vector<int64_t> out_pad = node.attr_ints("output_padding", std::vector<int64_t>(n, 0));
  std::vector<int64_t> out_shape = node.attr_ints("output_shape");
  if (out_pad.size() != n) return ctx.error("output_padding " + ints_to_string(out_pad) + " does not have " + std::to_string(n) + " entries");
  if (out_shape.size() == n + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != n)
    return ctx.error("output_shape " + ints_to_string(out_shape) + " does not have " + std::to_string(n) + " entries");
  const Dim m = w[1] * Dim(in.group);
  if (ctx.has_shape(2)) {
    const Shape& b = ctx.input_shape(2);
    if (b.size() != 1 || (b[0].is_static() && m.is_static() && b[0] != m))
      return ctx.error("B must be a vector of " + m.to_string() + " output channels");
  }
  *out = {x[0], m};
  for (size_t i = 0; i < n; ++i) {
    auto v = x[i + 2].value();
    if (!out_shape.empty()) {
      out->push_back(Dim(out_shape[i]));
      continue;
    }
    if (!v) {
      out->push_back(ctx.fresh_dim(0, i + 2));
      continue;
    }
    nn::WindowAxis a;
    a.in = *v;
    a.kernel = wa.kernel[i];
    a.stride = wa.strides[i];
    a.dilation = wa.dilations[i];
    nn::resolve_transpose_axis(a, wa.auto_pad, wa.pads[i], wa.pads[i + n], out_pad[i], -1);
    if (a.out <= 0) return ctx.error("output spatial dim " + std::to_string(i) + " would be " + std::to_string(a.out));
    out->push_back(Dim(a.out));
  }
  return Status::OK();
}

// AveragePool, MaxPool, LpPool.
Status infer_pool(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const bool is_max = ctx.node().op_type() == "MaxPool";
  if (!is_max) SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  if (!ctx.has_shape(0)) {
    for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.set_output_dtype(i, i == 0 ? dt : DataType::kInt64);
    return Status::OK();
  }
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 3) return ctx.error("X must have rank >= 3 ([N, C, spatial...])");
  const size_t n = x.size() - 2;
  if (!ctx.node().has_attr("kernel_shape")) return ctx.error("kernel_shape attribute is required");
  WindowAttrs wa;
  SLIMRT_RETURN_IF_ERROR(read_window_attrs(ctx, n, ctx.node().attr_ints("kernel_shape"), &wa));
  const bool ceil_mode = ctx.node().attr_int("ceil_mode", 0) != 0;
  Shape out = {x[0], x[1]};
  SLIMRT_RETURN_IF_ERROR(window_output_dims(ctx, x, wa, ceil_mode, &out));
  if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kInt64, out);
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

Status infer_global_pool(ShapeContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 2) return ctx.error("X must have rank >= 2 ([N, C, spatial...])");
  Shape out(x.begin(), x.begin() + 2);
  out.resize(x.size(), Dim(1));
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

// Checks that input i is a vector matching channel dim `c` (skips unknowns).
Status check_channel_vector(const ShapeContext& ctx, size_t i, const Dim& c, const char* what) {
  if (!ctx.has_shape(i)) return Status::OK();
  const Shape& s = ctx.input_shape(i);
  if (s.size() != 1 || (s[0].is_static() && c.is_static() && s[0] != c))
    return ctx.error(std::string(what) + " must be a vector of the " + c.to_string() + " channels of X");
  return Status::OK();
}

Status infer_batch_norm(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  if (ctx.node().attr_int("training_mode", 0) != 0 || ctx.num_outputs() > 1)
    return ctx.unsupported("BatchNormalization in training mode (training_mode=1 or running-stat outputs) is not supported");
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 2) return ctx.error("X must have rank >= 2 ([N, C, ...])");
  const char* names[] = {"scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) SLIMRT_RETURN_IF_ERROR(check_channel_vector(ctx, i, x[1], names[i - 1]));
  ctx.set_output(0, dt, x);
  return Status::OK();
}

Status infer_instance_norm(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 3) return ctx.error("X must have rank >= 3 ([N, C, spatial...])");
  SLIMRT_RETURN_IF_ERROR(check_channel_vector(ctx, 1, x[1], "scale"));
  SLIMRT_RETURN_IF_ERROR(check_channel_vector(ctx, 2, x[1], "B"));
  ctx.set_output(0, dt, x);
  return Status::OK();
}

Status infer_group_norm(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 2) return ctx.error("X must have rank >= 2 ([N, C, ...])");
  if (!ctx.node().has_attr("num_groups")) return ctx.error("num_groups attribute is required");
  const int64_t groups = ctx.node().attr_int("num_groups", 1);
  if (groups <= 0) return ctx.error("num_groups must be positive");
  if (auto c = x[1].value()) {
    if (*c % groups != 0)
      return ctx.error("channels " + std::to_string(*c) + " are not divisible by num_groups " + std::to_string(groups));
    for (size_t i = 1; i < 3; ++i) {
      if (!ctx.has_shape(i)) continue;
      const Shape& s = ctx.input_shape(i);
      // Opset 21 has per-channel scale/bias; opset 18 had one per group.
      if (s.size() != 1 || (s[0].is_static() && *s[0].value() != *c && *s[0].value() != groups))
        return ctx.error(std::string(i == 1 ? "scale" : "bias") + " must be a vector of " + std::to_string(*c) + " channels");
    }
  }
  ctx.set_output(0, dt, x);
  return Status::OK();
}

// LayerNormalization's Mean/InvStdDev dtype from stash_type (ONNX 1 = float, 11 = double; the
// slimrt enum has float32 = 1, float64 = 4).
DataType stash_dtype(const Node& node) {
  const int64_t t = node.attr_int("stash_type", 1);
  return (t == 11 || t == static_cast<int64_t>(DataType::kFloat64)) ? DataType::kFloat64 : DataType::kFloat32;
}

Status infer_layer_norm(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  const DataType st = stash_dtype(ctx.node());
  if (!ctx.has_shape(0)) {
    for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.set_output_dtype(i, i == 0 ? dt : st);
    return Status::OK();
  }
  const Shape& x = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", -1), rank, &axis));
  const Shape norm(x.begin() + axis, x.end());
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_shape(i)) continue;
    Shape b;
    SLIMRT_RETURN_IF_ERROR(broadcast_shapes(ctx, {&norm, &ctx.input_shape(i)}, &b));
    if (b.size() != norm.size())
      return ctx.error(std::string(i == 1 ? "Scale " : "B ") + shape_to_string(ctx.input_shape(i)) +
                       " does not broadcast to the normalized dims " + shape_to_string(norm));
  }
  Shape stat(x.begin(), x.begin() + axis);
  stat.resize(x.size(), Dim(1));
  ctx.set_output(0, dt, x);
  for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, st, stat);
  return Status::OK();
}

Status infer_lrn(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  if (ctx.node().attr_int("size", 0) <= 0) return ctx.error("size attribute must be positive");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  if (ctx.input_shape(0).size() < 2) return ctx.error("X must have rank >= 2 ([N, C, ...])");
  ctx.set_output(0, dt, ctx.input_shape(0));
  return Status::OK();
}

Status infer_dropout(ShapeContext& ctx) {
  // Training mode is only an identity when ratio is 0; any other ratio needs random masks.
  if (const Tensor* t = ctx.input_constant(2); t && t->numel() == 1 && t->get_as_double(0) != 0) {
    const Tensor* ratio = ctx.input_constant(1);
    if (!ctx.has_input(1) || (ratio && ratio->numel() == 1 && ratio->get_as_double(0) != 0))
      return ctx.unsupported("Dropout with training_mode=true and a non-zero ratio is not supported (inference only)");
  }
  const DataType dt = ctx.input_dtype(0);
  if (!ctx.has_shape(0)) {
    ctx.set_output_dtype(0, dt);
    if (ctx.num_outputs() > 1) ctx.set_output_dtype(1, DataType::kBool);
    return Status::OK();
  }
  ctx.set_output(0, dt, ctx.input_shape(0));
  if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kBool, ctx.input_shape(0));
  return Status::OK();
}

Status infer_mean_variance_norm(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const int64_t rank = ctx.input_rank(0);
  for (int64_t a : ctx.node().attr_ints("axes", {0, 2, 3})) {
    int64_t n = 0;
    SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, a, rank, &n));
  }
  ctx.set_output(0, dt, ctx.input_shape(0));
  return Status::OK();
}

// MaxUnpool: output_shape input when given, else (in - 1) * stride - pads + kernel per axis.
Status infer_max_unpool(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float(ctx, 0));
  const DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != DataType::kInt64) return ctx.error("I must be an int64 tensor");
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 3) return ctx.error("X must have rank >= 3 ([N, C, spatial...])");
  if (ctx.has_shape(1) && ctx.input_shape(1).size() != x.size()) return ctx.error("I must have X's shape");
  const size_t n = x.size() - 2;
  if (ctx.has_input(2)) {
    Shape out;
    if (const std::vector<Dim>* v = ctx.input_value(2)) {
      if (v->size() != x.size()) return ctx.error("output_shape must have " + std::to_string(x.size()) + " entries");
      out = *v;
    } else {
      for (size_t i = 0; i < x.size(); ++i) out.push_back(ctx.fresh_dim(0, i));
    }
    ctx.set_output(0, dt, std::move(out));
    return Status::OK();
  }
  if (!ctx.node().has_attr("kernel_shape")) return ctx.error("kernel_shape attribute is required");
  WindowAttrs wa;
  SLIMRT_RETURN_IF_ERROR(read_window_attrs(ctx, n, ctx.node().attr_ints("kernel_shape"), &wa));
  Shape out = {x[0], x[1]};
  for (size_t i = 0; i < n; ++i) {
    const int64_t pads = wa.pads[i] + wa.pads[i + n];
    if (auto v = x[i + 2].value()) {
      out.push_back(Dim((*v - 1) * wa.strides[i] - pads + wa.kernel[i]));
    } else {
      out.push_back(ctx.fresh_dim(0, i + 2));
    }
  }
  ctx.set_output(0, dt, std::move(out));
  return Status::OK();
}

// MaxPool / AveragePool, also in their channels-last form (ir/layout.h).
Status infer_pool_any_layout(ShapeContext& ctx) {
  if (is_channels_last(ctx.node())) return infer_channels_last(ctx, infer_pool);
  return infer_pool(ctx);
}

}  // namespace

void register_nn_ops(OpRegistry& r) {
  r.add({"Conv", 2, 3, 1, 1, infer_conv_like<conv_output>});
  r.add({"ConvTranspose", 2, 3, 1, 1, infer_conv_like<conv_transpose_output>});
  r.add({"AveragePool", 1, 1, 1, 1, infer_pool_any_layout});
  r.add({"MaxPool", 1, 1, 1, 2, infer_pool_any_layout});
  r.add({"LpPool", 1, 1, 1, 1, infer_pool});
  r.add({"GlobalAveragePool", 1, 1, 1, 1, infer_global_pool});
  r.add({"GlobalMaxPool", 1, 1, 1, 1, infer_global_pool});
  r.add({"GlobalLpPool", 1, 1, 1, 1, infer_global_pool});
  r.add({"BatchNormalization", 5, 5, 1, 3, infer_batch_norm});
  r.add({"InstanceNormalization", 3, 3, 1, 1, infer_instance_norm});
  r.add({"LayerNormalization", 2, 3, 1, 3, infer_layer_norm});
  r.add({"GroupNormalization", 3, 3, 1, 1, infer_group_norm});
  r.add({"LRN", 1, 1, 1, 1, infer_lrn});
  r.add({"Dropout", 1, 3, 1, 2, infer_dropout, 0b110});
  r.add({"MeanVarianceNormalization", 1, 1, 1, 1, infer_mean_variance_norm});
  r.add({"MaxUnpool", 2, 3, 1, 1, infer_max_unpool});
}

}  // namespace slimrt
