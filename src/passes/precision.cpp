// The per-op precision table and convert_precision (slimrt/builder/precision.h explains both).
#include "slimrt/builder/precision.h"

#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "ir/op_registry.h"

namespace slimrt {

namespace {

constexpr OpPrecision H = OpPrecision::kHalf;
constexpr OpPrecision F = OpPrecision::kFloat;
constexpr OpPrecision A = OpPrecision::kAny;

constexpr uint32_t kAllFixed = ~uint32_t{0};

// Reasons shared by many rows.
constexpr std::string_view kGemm = "GEMM/convolution: half storage, fp32 accumulation in the kernel";
constexpr std::string_view kNorm = "normalization: statistics accumulate in fp32 inside the kernel, output is bounded";
constexpr std::string_view kMove = "data movement: exact in any dtype";
constexpr std::string_view kBounded = "element-wise: result no larger than its inputs allow; follows them";
constexpr std::string_view kAct = "activation: bounded or close to its input; follows it";
constexpr std::string_view kSelect = "selects or compares values: exact in any dtype";
constexpr std::string_view kOverflow = "output grows without bound (overflows fp16 for modest inputs)";
constexpr std::string_view kSums = "sums many terms without normalizing: overflows fp16 and loses precision";
constexpr std::string_view kTrig = "argument needs fp32: rotary angles reach thousands of radians (fp16 spacing 2 at 2048)";

std::vector<OpPrecisionEntry> make_table() {
  std::vector<OpPrecisionEntry> t = {
      // Matrix products and convolutions, plain and fused.
      {"MatMul", H, 0, kGemm},
      {"Gemm", H, 0, kGemm},
      {"Conv", H, 0, kGemm},
      {"ConvTranspose", H, 0, kGemm},
      {"Einsum", H, 0, kGemm},
      {"FusedConv", H, 0, kGemm},
      {"FusedMatMul", H, 0, kGemm},
      {"Attention", H, 0, "two GEMMs and a softmax: fp32 accumulation and softmax statistics in the kernel"},
      // Softmax family and normalizations.
      {"Softmax", H, 0, "max-subtracted, fp32 sum in the kernel; outputs in [0, 1]"},
      {"LogSoftmax", H, 0, "max-subtracted, fp32 log-sum in the kernel; outputs <= 0 of moderate size"},
      {"Hardmax", H, 0, "one-hot output"},
      {"LayerNormalization", H, 0, kNorm},
      {"RMSNormalization", H, 0, kNorm},
      {"GroupNormalization", H, 0, kNorm},
      {"InstanceNormalization", H, 0, kNorm},
      {"BatchNormalization", H, 0, "affine per channel with folded statistics"},
      {"MeanVarianceNormalization", H, 0, kNorm},
      {"LRN", H, 0, "windowed sum of squares accumulates in fp32 in the kernel; output bounded by the input"},
      {"Gelu", H, 0, "fused activation: fp32 math in the kernel"},
      {"FusedElementwise", A, 0, "a chain of element-wise ops of the follow-the-inputs kind, in fp32 registers; rounded once"},
      {"SiLU", H, 0, "fused activation: fp32 math in the kernel"},
      // Pooling.
      {"AveragePool", H, 0, "window mean: fp32 accumulation in the kernel, output bounded by the input"},
      {"GlobalAveragePool", H, 0, "mean: fp32 accumulation in the kernel, output bounded by the input"},
      {"MaxPool", A, 0, kSelect},
      {"GlobalMaxPool", A, 0, kSelect},
      {"MaxUnpool", A, 0, kMove},
      {"LpPool", F, 0, "sums abs(x)^p over the window"},
      {"GlobalLpPool", F, 0, "sums abs(x)^p over the whole plane"},
      // Unary math kept in fp32.
      {"Exp", F, 0, kOverflow},
      {"Pow", F, 0, kOverflow},
      {"Reciprocal", F, 0, "1/x overflows fp16 for abs(x) < 1.5e-5 (reciprocals of variances, sums)"},
      {"Log", F, 0, "inputs near 0 (probabilities, variances) underflow in fp16; fp32 producers stay fp32"},
      {"Sinh", F, 0, kOverflow},
      {"Cosh", F, 0, kOverflow},
      {"Sin", F, 0, kTrig},
      {"Cos", F, 0, kTrig},
      {"Tan", F, 0, kTrig},
      {"Asin", F, 0, "steep near +-1: needs fp32 inputs"},
      {"Acos", F, 0, "steep near +-1: needs fp32 inputs"},
      {"Atanh", F, 0, "steep near +-1: needs fp32 inputs"},
      {"Acosh", F, 0, "steep near 1: needs fp32 inputs"},
      {"Mod", F, 0, "remainder of large values: needs fp32's 24-bit mantissa"},
      // Reductions: summing ones in fp32, bounded ones follow.
      {"ReduceSum", F, 0, kSums},
      {"ReduceSumSquare", F, 0, kSums},
      {"ReduceProd", F, 0, kOverflow},
      {"ReduceL1", F, 0, kSums},
      {"ReduceL2", F, 0, kSums},
      {"ReduceLogSum", F, 0, kSums},
      {"ReduceLogSumExp", F, 0, kSums},
      {"CumSum", F, 0, kSums},
      {"ReduceMean", A, 0, "mean: fp32 accumulation in the kernel, output bounded by the input; follows it"},
      {"ReduceMax", A, 0, kSelect},
      {"ReduceMin", A, 0, kSelect},
      {"ArgMax", A, 0, kSelect},
      {"ArgMin", A, 0, kSelect},
      {"TopK", A, 0, kSelect},
      // Generators.
      {"Range", F, 0, "positions above 2048 are not exact in fp16"},
      {"ConstantOfShape", A, 0, "dtype from its attribute"},
      {"EyeLike", A, 0, "0/1 values: exact in any dtype"},
      {"OneHot", A, 0, "copies its on/off values"},
      {"Trilu", A, 0, kMove},
      // Sampling.
      {"GridSample", F, 0, "sampling coordinates need fp32 (half spacing 1/1024 in [-1, 1] is half a pixel at 512)"},
      {"Resize", A, 0b110, "interpolation is bounded by its inputs; roi and scales stay float32 by definition"},
      // Element-wise arithmetic and activations: follow their inputs.
      {"Add", A, 0, kBounded},
      {"Sub", A, 0, kBounded},
      {"Mul", A, 0, kBounded},
      {"Div", A, 0, kBounded},
      {"Sum", A, 0, kBounded},
      {"Mean", A, 0, kBounded},
      {"Max", A, 0, kSelect},
      {"Min", A, 0, kSelect},
      {"Clip", A, 0, kSelect},
      {"Abs", A, 0, kBounded},
      {"Neg", A, 0, kBounded},
      {"Sign", A, 0, kBounded},
      {"Sqrt", A, 0, kBounded},
      {"Ceil", A, 0, kBounded},
      {"Floor", A, 0, kBounded},
      {"Round", A, 0, kBounded},
      {"Erf", A, 0, kAct},
      {"Atan", A, 0, kAct},
      {"Asinh", A, 0, kAct},
      {"Relu", A, 0, kAct},
      {"LeakyRelu", A, 0, kAct},
      {"PRelu", A, 0, kAct},
      {"Elu", A, 0, kAct},
      {"Selu", A, 0, kAct},
      {"Celu", A, 0, kAct},
      {"Sigmoid", A, 0, kAct},
      {"HardSigmoid", A, 0, kAct},
      {"HardSwish", A, 0, kAct},
      {"Tanh", A, 0, kAct},
      {"Softplus", A, 0, kAct},
      {"Softsign", A, 0, kAct},
      {"ThresholdedRelu", A, 0, kAct},
      {"Mish", A, 0, kAct},
      {"Shrink", A, 0, kAct},
      // Comparisons and logic.
      {"Equal", A, 0, kSelect},
      {"Greater", A, 0, kSelect},
      {"GreaterOrEqual", A, 0, kSelect},
      {"Less", A, 0, kSelect},
      {"LessOrEqual", A, 0, kSelect},
      {"IsNaN", A, 0, kSelect},
      {"IsInf", A, 0, kSelect},
      {"Where", A, 0, kSelect},
      {"Not", A, 0, "boolean"},
      {"And", A, 0, "boolean"},
      {"Or", A, 0, "boolean"},
      {"Xor", A, 0, "boolean"},
      {"BitShift", A, 0, "integer"},
      // Casts.
      {"Cast", A, kAllFixed, "keeps its 'to' dtype: an explicit cast in the model is respected"},
      {"InputConvert", A, kAllFixed,
       "converts a bound input (slimrt/builder/io_formats.h): writes half when a reader runs in half or follows its "
       "inputs, in fp32 arithmetic rounded once"},
      {"CastLike", A, 0, "takes the dtype of its second input"},
      {"Identity", A, 0, kMove},
      {"Dropout", A, 0, kMove},
      // Shape and data movement.
      {"Shape", A, kAllFixed, "reads the shape only: its input is never retyped"},
      {"Size", A, kAllFixed, "reads the shape only: its input is never retyped"},
      {"Reshape", A, 0, kMove},
      {"Flatten", A, 0, kMove},
      {"Squeeze", A, 0, kMove},
      {"Unsqueeze", A, 0, kMove},
      {"Transpose", A, 0, kMove},
      {"Concat", A, 0, kMove},
      {"Split", A, 0, kMove},
      {"Slice", A, 0, kMove},
      {"Expand", A, 0, kMove},
      {"Tile", A, 0, kMove},
      {"Pad", A, 0, kMove},
      {"DepthToSpace", A, 0, kMove},
      {"SpaceToDepth", A, 0, kMove},
      {"Gather", A, 0, kMove},
      {"GatherElements", A, 0, kMove},
      {"GatherND", A, 0, kMove},
      {"ScatterElements", A, 0, kMove},
      {"ScatterND", A, 0, kMove},
      {"Compress", A, 0, kMove},
      {"NonZero", A, 0, "integer output"},
  };
  std::sort(t.begin(), t.end(), [](const OpPrecisionEntry& a, const OpPrecisionEntry& b) { return a.op_type < b.op_type; });
  return t;
}

// ---------------------------------------------------------------------------------------------
// The pass.

class Converter {
 public:
  Converter(Graph& g, DataType half, const PrecisionOptions& o, PrecisionReport& r)
      : g_(g), half_(half), opts_(o), r_(r) {}

  Status run() {
    const std::vector<Value*> values = g_.values();
    original_.reserve(values.size() + values.size() / 4);  // room for the casts it adds
    for (Value* v : values) {
      original_[v] = v->dtype();
      if (v->constant() && v->dtype() == DataType::kFloat32) source_[v] = *v->constant();
    }
    const std::vector<Node*> nodes = g_.nodes();
    for (Node* n : nodes) SLIMRT_RETURN_IF_ERROR(convert_node(*n));
    SLIMRT_RETURN_IF_ERROR(restore_outputs());
    if (opts_.tanh_gelu) approximate_gelus();
    SLIMRT_RETURN_IF_ERROR(g_.topological_sort());
    SLIMRT_RETURN_IF_ERROR(finish_constants());
    SLIMRT_RETURN_IF_ERROR(infer_shapes(g_));
    return Status::OK();
  }

 private:
  // Whether value v was float32 in the input graph (only those are ever converted).
  bool was_fp32(const Value* v) const {
    auto it = original_.find(v);
    return it != original_.end() ? it->second == DataType::kFloat32 : false;
  }
  bool is_constant(const Value* v) const { return source_.count(v) != 0 || (v->constant() && !v->producer()); }

  // Value v in dtype `to` (float32 or half_): itself, a marked or aliased constant, or a Cast.
  Result<Value*> version(Value* v, DataType to) {
    if (v->dtype() == to) {
      if (source_.count(v)) used_as_[v].insert(to);
      return v;
    }
    auto key = std::make_pair(v, to);
    if (auto it = versions_.find(key); it != versions_.end()) return it->second;
    Value* out = nullptr;
    if (source_.count(v)) {
      // A float32 constant: mark it in place at its first use, alias it when a use before
      // committed it to the other dtype.
      if (used_as_[v].empty() && !v->is_graph_output()) {
        v->set_dtype(to);
        used_as_[v].insert(to);
        return v;
      }
      out = g_.add_initializer(v->name() + (to == DataType::kFloat32 ? "/fp32" : "/half"), source_.at(v));
      out->set_dtype(to);
      source_[out] = source_.at(v);
      original_[out] = DataType::kFloat32;
      used_as_[out].insert(to);
      ++r_.weights_aliased;
    } else {
      Node* cast = g_.add_node("Cast", v->name() + (to == DataType::kFloat32 ? "/to_fp32" : "/to_half"), {v}, 1);
      cast->set_attr("to", static_cast<int64_t>(to));
      out = cast->output(0);
      out->set_dtype(to);
      if (v->has_shape()) out->set_shape(v->shape());
      original_[out] = DataType::kFloat32;
      ++r_.casts_inserted;
    }
    versions_[key] = out;
    return out;
  }

  Status convert_node(Node& n) {
    const OpDef* def = OpRegistry::get().find(n.op_type());
    if (!def) return unsupported(n.describe() + ": op is not in the IR registry");
    if (n.op_type() == "InputConvert") return convert_input(n, *def);
    const OpPrecisionEntry* e = find_op_precision(n.op_type());
    const OpPrecision cls = e ? e->precision : OpPrecision::kFloat;
    const uint32_t fixed = e ? e->fixed_inputs : 0;
    // The float32-born inputs this node may retype.
    std::vector<size_t> slots;
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      Value* in = n.input(i);
      if (in && was_fp32(in) && !(i < 32 && (fixed >> i) & 1u)) slots.push_back(i);
    }
    DataType want = DataType::kUndefined;  // undefined: leave the inputs alone
    switch (cls) {
      case OpPrecision::kHalf:
        want = half_;
        ++r_.half_nodes;
        break;
      case OpPrecision::kFloat:
        want = DataType::kFloat32;
        ++r_.float_nodes;
        break;
      case OpPrecision::kAny: {
        ++r_.any_nodes;
        if (slots.empty()) break;
        bool any_fp32_activation = false;
        for (size_t i : slots) {
          const Value* in = n.input(i);
          if (!is_constant(in) && in->dtype() == DataType::kFloat32) any_fp32_activation = true;
        }
        want = any_fp32_activation ? DataType::kFloat32 : half_;
        break;
      }
    }
    if (want != DataType::kUndefined) {
      for (size_t i : slots) {
        SLIMRT_ASSIGN_OR_RETURN(Value* v, version(n.input(i), want));
        if (v != n.input(i)) g_.set_node_input(&n, i, v);
      }
    }
    return infer_node(n, *def);
  }

  // An engine input's conversion (slimrt/builder/io_formats.h) writes what its readers take: half
  // when one of them runs in half or follows its inputs, so the bound input reaches a half
  // convolution in one pass and no Cast follows.
  Status convert_input(Node& n, const OpDef& def) {
    ++r_.any_nodes;
    if (was_fp32(n.output(0))) {
      const bool half_reader = std::any_of(n.output(0)->consumers().begin(), n.output(0)->consumers().end(), [](const Node* c) {
        const OpPrecisionEntry* e = find_op_precision(c->op_type());
        return e != nullptr && e->precision != OpPrecision::kFloat;
      });
      if (half_reader) n.set_attr("to", static_cast<int64_t>(half_));
    }
    return infer_node(n, def);
  }

  // Re-infers one node's output dtypes and shapes from its (possibly retyped) inputs.
  Status infer_node(Node& n, const OpDef& def) {
    std::vector<ShapeContext::InputInfo> infos;
    for (Value* in : n.inputs()) {
      ShapeContext::InputInfo info;
      if (in) {
        info.dtype = in->dtype();
        info.shape = in->has_shape() ? &in->shape() : nullptr;
        // Constants whose data is still float32 but are typed half are not shown as data.
        info.constant = is_deferred_conversion(*in) ? nullptr : in->constant();
        info.value = in->known_value();
      }
      infos.push_back(info);
    }
    ShapeContext ctx(n, std::move(infos), n.num_outputs());
    Status s = def.infer(ctx);
    if (!s.ok()) return s.with_context("precision conversion");
    for (size_t i = 0; i < n.num_outputs(); ++i) {
      const auto& info = ctx.output(i);
      n.output(i)->set_dtype(info.dtype);
      if (info.shape) n.output(i)->set_shape(*info.shape);
    }
    return Status::OK();
  }

  // Graph outputs keep their dtype and name: a node whose graph output turned half is rebuilt
  // with fresh outputs, and a Cast named like the old output restores the dtype.
  Status restore_outputs() {
    std::vector<Node*> producers;
    for (Value* o : g_.outputs()) {
      if (o->producer() && o->dtype() != original_.at(o) &&
          std::find(producers.begin(), producers.end(), o->producer()) == producers.end())
        producers.push_back(o->producer());
    }
    for (Node* n : producers) {
      std::vector<Value*> old_outs = n->outputs();
      std::vector<std::string> fresh;
      for (Value* o : old_outs) fresh.push_back(o->name() + "/half");
      Node* copy = g_.add_node(n->op_type(), n->name(), n->inputs(), old_outs.size(), fresh);
      for (const auto& [k, a] : n->attributes()) copy->set_attr(k, a);
      std::vector<std::pair<Value*, std::string>> restore;  // (placeholder, name), per graph output
      for (size_t i = 0; i < old_outs.size(); ++i) {
        Value* old = old_outs[i];
        Value* nw = copy->output(i);
        nw->set_dtype(old->dtype());
        if (old->has_shape()) nw->set_shape(old->shape());
        original_[nw] = original_.at(old);
        std::vector<Node*> users = old->consumers();
        for (Node* u : users) {
          for (size_t k = 0; k < u->num_inputs(); ++k) {
            if (u->input(k) == old) g_.set_node_input(u, k, nw);
          }
        }
        if (old->is_graph_output()) {
          Value* hold = g_.add_value(old->name() + "/hold");
          g_.replace_all_uses(old, hold);  // only the output slot is left to move
          restore.emplace_back(hold, old->name());
        }
      }
      const std::vector<DataType> dtypes = [&] {
        std::vector<DataType> d;
        for (Value* o : old_outs) d.push_back(original_.at(o));
        return d;
      }();
      SLIMRT_RETURN_IF_ERROR(g_.remove_node(n));
      for (Value* o : old_outs) SLIMRT_RETURN_IF_ERROR(g_.remove_value(o));
      for (const auto& entry : restore) {
        Value* hold = entry.first;
        size_t i = 0;
        while (copy->output(i)->name() != entry.second + "/half") ++i;
        Value* nw = copy->output(i);
        Node* fix = nullptr;
        if (nw->dtype() != dtypes[i]) {
          fix = g_.add_node("Cast", entry.second + "/restore", {nw}, 1, {entry.second});
          fix->set_attr("to", static_cast<int64_t>(dtypes[i]));
          ++r_.casts_inserted;
        } else {
          fix = g_.add_node("Identity", entry.second + "/restore", {nw}, 1, {entry.second});
        }
        fix->output(0)->set_dtype(dtypes[i]);
        if (nw->has_shape()) fix->output(0)->set_shape(nw->shape());
        g_.replace_all_uses(hold, fix->output(0));
        SLIMRT_RETURN_IF_ERROR(g_.remove_value(hold));
      }
    }
    return Status::OK();
  }

  // Converts small marked constants now; counts the big ones left to the writer.
  Status finish_constants() {
    for (Value* v : g_.values()) {  // in graph order, so the report lines are too
      auto it = source_.find(v);
      if (it == source_.end() || v->dtype() == DataType::kFloat32) continue;
      const Tensor& src = it->second;
      r_.weight_bytes_before += src.bytes();
      r_.weight_bytes_after += static_cast<uint64_t>(src.numel()) * dtype_size(v->dtype());
      if (src.bytes() > opts_.eager_weight_bytes) {
        ++r_.weights_deferred;
        continue;
      }
      SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(v->dtype(), src.shape()));
      const uint64_t clamped = convert_float_elements(src.raw(), DataType::kFloat32, t.raw(), v->dtype(),
                                                      static_cast<size_t>(src.numel()));
      if (clamped > 0) {
        r_.lines.push_back(fmt::format("weight '{}': {} values beyond the {} range clamped to its largest finite value",
                                       v->name(), clamped, dtype_name(v->dtype())));
      }
      v->set_constant(std::move(t));
      ++r_.weights_converted;
    }
    return Status::OK();
  }

  Graph& g_;
  // PrecisionOptions::tanh_gelu: half FusedMatMul nodes with the erf GELU take the tanh form.
  void approximate_gelus() {
    for (Node* n : g_.nodes()) {
      if (n->op_type() != "FusedMatMul" || n->num_outputs() < 1 || !n->output(0) || n->output(0)->dtype() != half_)
        continue;
      if (n->attr_string("activation", "") != "Gelu") continue;
      n->set_attr("activation", std::string("GeluTanh"));
      ++r_.gelu_tanh;
    }
    if (r_.gelu_tanh > 0)
      r_.lines.push_back(fmt::format("{} FusedMatMul GELUs use the tanh form (fused into the GEMM; at most 4.7e-4 from "
                                     "erf; build with --exact-gelu to keep erf)",
                                     r_.gelu_tanh));
  }

  DataType half_;
  const PrecisionOptions& opts_;
  PrecisionReport& r_;
  std::unordered_map<const Value*, DataType> original_;
  std::unordered_map<const Value*, Tensor> source_;  // float32 constants: their original data
  std::unordered_map<const Value*, std::set<DataType>> used_as_;
  std::map<std::pair<Value*, DataType>, Value*> versions_;
};

}  // namespace

std::string_view op_precision_name(OpPrecision p) {
  switch (p) {
    case OpPrecision::kHalf: return "half";
    case OpPrecision::kFloat: return "float";
    case OpPrecision::kAny: return "any";
  }
  return "unknown";
}

const std::vector<OpPrecisionEntry>& op_precision_table() {
  static const std::vector<OpPrecisionEntry> table = make_table();
  return table;
}

const OpPrecisionEntry* find_op_precision(std::string_view op_type) {
  const auto& t = op_precision_table();
  auto it = std::lower_bound(t.begin(), t.end(), op_type,
                             [](const OpPrecisionEntry& e, std::string_view k) { return e.op_type < k; });
  return it != t.end() && it->op_type == op_type ? &*it : nullptr;
}

OpPrecision op_precision(std::string_view op_type) {
  const OpPrecisionEntry* e = find_op_precision(op_type);
  return e ? e->precision : OpPrecision::kFloat;
}

bool is_deferred_conversion(const Value& v) {
  return v.constant() != nullptr && v.constant()->dtype() != v.dtype();
}

Status convert_precision(Graph& g, Precision p, const PrecisionOptions& options, PrecisionReport* report) {
  PrecisionReport local;
  PrecisionReport& r = report ? *report : local;
  r = PrecisionReport{};
  if (p == Precision::kFp32) return Status::OK();
  const DataType half = p == Precision::kFp16 ? DataType::kFloat16 : DataType::kBFloat16;
  for (const Value* v : g.values()) {
    if (v->dtype() == DataType::kUndefined && (v->producer() || v->constant() || v->is_graph_input()))
      return invalid_argument("convert_precision: value '" + v->name() + "' has no dtype (run infer_shapes first)");
  }
  Converter c(g, half, options, r);
  return c.run();
}

}  // namespace slimrt
