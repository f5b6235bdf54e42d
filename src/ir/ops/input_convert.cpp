// InputConvert (ir/input_convert.h): attributes and shape inference.
#include "ir/input_convert.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "ir/op_registry.h"

namespace slimrt {

namespace {

bool is_float_type(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16 || t == DataType::kFloat64;
}

Status infer_input_convert(ShapeContext& ctx) {
  const DataType in = ctx.input_dtype(0);
  if (!is_float_type(in) && in != DataType::kUInt8)
    return ctx.error("X must be uint8 or a float type, not " + std::string(dtype_name(in)));
  const int64_t rank = ctx.input_rank(0);
  const DataType to = static_cast<DataType>(ctx.node().attr_int("to", static_cast<int64_t>(DataType::kFloat32)));
  if (!is_float_type(to)) return ctx.error("'to' must be a float type, not " + std::string(dtype_name(to)));
  if (rank < 0) {
    ctx.set_output_dtype(0, to);
    return Status::OK();
  }
  Result<InputConvertParams> p = read_input_convert(ctx.node(), rank);
  if (!p.ok()) return ctx.error(p.status().message());
  const Shape& x = ctx.input_shape(0);
  Shape y;
  for (int64_t a : p->perm) y.push_back(x[static_cast<size_t>(a)]);
  if (p->axis >= 0) {
    const std::optional<int64_t> c = y[static_cast<size_t>(p->axis)].value();  // before the padding
    if (c && *c != static_cast<int64_t>(p->scale.size()))
      return ctx.error("scale and bias hold " + std::to_string(p->scale.size()) + " values, but Y's axis " +
                       std::to_string(p->axis) + " has " + std::to_string(*c));
  }
  for (size_t a = 0; a < y.size(); ++a) {
    if (p->pad_end[a] != 0) y[a] = y[a] + Dim(p->pad_end[a]);
  }
  ctx.set_output(0, to, std::move(y));
  return Status::OK();
}

}  // namespace

bool InputConvertParams::identity_perm() const {
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

bool InputConvertParams::pads() const {
  return std::any_of(pad_end.begin(), pad_end.end(), [](int64_t v) { return v != 0; });
}

bool InputConvertParams::is_plain_cast() const {
  return identity_perm() && !pads() && scale.size() == 1 && bias.size() == 1 && scale[0] == 1.0f && bias[0] == 0.0f;
}

Result<InputConvertParams> read_input_convert(const Node& n, int64_t rank) {
  InputConvertParams p;
  p.to = static_cast<DataType>(n.attr_int("to", static_cast<int64_t>(DataType::kFloat32)));
  p.perm = n.attr_ints("perm");
  if (p.perm.empty()) {
    p.perm.resize(static_cast<size_t>(rank));
    std::iota(p.perm.begin(), p.perm.end(), 0);
  }
  if (static_cast<int64_t>(p.perm.size()) != rank)
    return invalid_argument(n.describe() + ": perm has " + std::to_string(p.perm.size()) + " entries for rank " +
                            std::to_string(rank));
  std::vector<int64_t> sorted = p.perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<int64_t>(i))
      return invalid_argument(n.describe() + ": perm is not a permutation of the input's axes");
  }
  p.pad_end = n.attr_ints("pad_end");
  if (p.pad_end.empty()) p.pad_end.assign(static_cast<size_t>(rank), 0);
  if (static_cast<int64_t>(p.pad_end.size()) != rank ||
      std::any_of(p.pad_end.begin(), p.pad_end.end(), [](int64_t v) { return v < 0; }))
    return invalid_argument(n.describe() + ": pad_end must hold " + std::to_string(rank) + " non-negative entries");
  p.scale = n.attr_floats("scale", {1.0f});
  p.bias = n.attr_floats("bias", {0.0f});
  if (p.scale.empty() || p.bias.empty()) return invalid_argument(n.describe() + ": scale and bias may not be empty");
  const size_t channels = std::max(p.scale.size(), p.bias.size());
  if (channels > static_cast<size_t>(kMaxInputConvertChannels))
    return invalid_argument(n.describe() + ": scale and bias hold " + std::to_string(channels) + " values; at most " +
                            std::to_string(kMaxInputConvertChannels) + " channels are supported");
  if (channels > 1) {
    if ((p.scale.size() != 1 && p.scale.size() != channels) || (p.bias.size() != 1 && p.bias.size() != channels))
      return invalid_argument(n.describe() + ": scale holds " + std::to_string(p.scale.size()) + " values and bias " +
                              std::to_string(p.bias.size()) + "; give one each or one per channel");
    p.scale.resize(channels, p.scale[0]);
    p.bias.resize(channels, p.bias[0]);
    p.axis = n.attr_int("axis", -1);
    if (p.axis < 0 || p.axis >= rank)
      return invalid_argument(n.describe() + ": axis " + std::to_string(p.axis) + " is outside [0, " +
                              std::to_string(rank) + ") while scale/bias hold one value per channel");
  }
  return p;
}

void write_input_convert(Node* n, const InputConvertParams& p) {
  n->set_attr("to", static_cast<int64_t>(p.to));
  if (p.identity_perm()) n->remove_attr("perm");
  else n->set_attr("perm", p.perm);
  if (p.axis >= 0) n->set_attr("axis", p.axis);
  else n->remove_attr("axis");
  n->set_attr("scale", p.scale);
  n->set_attr("bias", p.bias);
  if (p.pads()) n->set_attr("pad_end", p.pad_end);
  else n->remove_attr("pad_end");
}

void register_input_convert_ops(OpRegistry& r) { r.add({"InputConvert", 1, 1, 1, 1, infer_input_convert}); }

}  // namespace slimrt
