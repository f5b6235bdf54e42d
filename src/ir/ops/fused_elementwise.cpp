// FusedElementwise (ir/elementwise_program.h): the program's encoding and shape inference.
#include <string>
#include <vector>

#include "ir/elementwise_program.h"
#include "ir/op_registry.h"

namespace slimrt {

namespace {

constexpr std::string_view kNames[] = {"Add",  "Sub",  "Mul",       "Div",       "Max",     "Min",         "Abs",
                                       "Neg",  "Sqrt", "Relu",      "LeakyRelu", "Sigmoid", "Tanh",        "Erf",
                                       "Gelu", "GeluTanh", "SiLU",  "Clip",      "HardSigmoid", "Softplus", "Reciprocal"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(EwOp::kCount));

Status infer_fused_elementwise(ShapeContext& ctx) {
  if (ctx.num_inputs() == 0) return ctx.error("needs at least one input");
  const DataType dt = ctx.input_dtype(0);
  if (dt != DataType::kFloat32 && dt != DataType::kFloat16 && dt != DataType::kBFloat16 && dt != DataType::kFloat64)
    return ctx.error("inputs must be float tensors, not " + std::string(dtype_name(dt)));
  std::vector<const Shape*> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error("input " + std::to_string(i) + " is missing");
    if (ctx.input_dtype(i) != dt) return ctx.error("all inputs must have one dtype");
    if (ctx.has_shape(i)) shapes.push_back(&ctx.input_shape(i));
  }
  Result<std::vector<EwInstr>> code = read_ew_program(ctx.node(), ctx.num_inputs());
  if (!code.ok()) return ctx.error(code.status().message());
  if (shapes.size() != ctx.num_inputs()) {
    ctx.set_output_dtype(0, dt);
    return Status::OK();
  }
  Shape out;
  SLIMRT_RETURN_IF_ERROR(broadcast_shapes(ctx, shapes, &out));
  ctx.set_output(0, dt, out);
  return Status::OK();
}

}  // namespace

bool ew_is_binary(EwOp op) { return static_cast<int32_t>(op) <= static_cast<int32_t>(EwOp::kMin); }

std::string_view ew_op_name(EwOp op) {
  const auto i = static_cast<size_t>(op);
  return i < static_cast<size_t>(EwOp::kCount) ? kNames[i] : "?";
}

Result<std::vector<EwInstr>> read_ew_program(const Node& n, size_t num_inputs) {
  const std::vector<int64_t> ops = n.attr_ints("ops");
  const std::vector<int64_t> args = n.attr_ints("args");
  const std::vector<float> alphas = n.attr_floats("alphas");
  const std::vector<float> betas = n.attr_floats("betas");
  if (ops.empty()) return invalid_argument("FusedElementwise: empty program");
  if (ops.size() > static_cast<size_t>(kMaxEwOps) || num_inputs > static_cast<size_t>(kMaxEwInputs))
    return unsupported("FusedElementwise: more than " + std::to_string(kMaxEwOps) + " ops or " +
                       std::to_string(kMaxEwInputs) + " inputs");
  if (args.size() != 2 * ops.size() || alphas.size() != ops.size() || betas.size() != ops.size())
    return invalid_argument("FusedElementwise: args must hold 2 registers per op, alphas and betas 1 value per op");
  std::vector<EwInstr> code(ops.size());
  for (size_t j = 0; j < ops.size(); ++j) {
    if (ops[j] < 0 || ops[j] >= static_cast<int64_t>(EwOp::kCount))
      return invalid_argument("FusedElementwise: unknown opcode " + std::to_string(ops[j]));
    EwInstr& in = code[j];
    in.op = static_cast<EwOp>(ops[j]);
    const int64_t self = static_cast<int64_t>(num_inputs + j);
    const int64_t a = args[2 * j], b = args[2 * j + 1];
    if (a < 0 || a >= self || (ew_is_binary(in.op) ? (b < 0 || b >= self) : b != -1))
      return invalid_argument("FusedElementwise: op " + std::to_string(j) + " (" + std::string(ew_op_name(in.op)) +
                              ") reads a register that is not defined before it");
    in.a = static_cast<int32_t>(a);
    in.b = static_cast<int32_t>(b);
    in.alpha = alphas[j];
    in.beta = betas[j];
  }
  return code;
}

void write_ew_program(Node* n, const std::vector<EwInstr>& code) {
  std::vector<int64_t> ops, args;
  std::vector<float> alphas, betas;
  for (const EwInstr& in : code) {
    ops.push_back(static_cast<int64_t>(in.op));
    args.push_back(in.a);
    args.push_back(in.b);
    alphas.push_back(in.alpha);
    betas.push_back(in.beta);
  }
  n->set_attr("ops", ops);
  n->set_attr("args", args);
  n->set_attr("alphas", alphas);
  n->set_attr("betas", betas);
}

void register_fused_elementwise_ops(OpRegistry& r) {
  r.add({"FusedElementwise", 1, kMaxEwInputs, 1, 1, infer_fused_elementwise});
}

}  // namespace slimrt
