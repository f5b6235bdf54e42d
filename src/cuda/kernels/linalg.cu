// CUDA kernels: linalg family (see src/cuda/kernel.h): MatMul, Gemm, FusedMatMul and GEMM-shaped
// Einsum through cuBLASLt (other Einsum equations: linalg_einsum_generic.cu).
//
// Every op becomes one ProductKernel, planned in create():
//   pre      optional: D = scale * broadcast(C or residual), or D = 0 (K == 0)
//   product  one or more cuBLASLt calls, each a strided batch, with the BIAS / RELU / GELU(tanh)
//            epilogues where they are exact, and beta * C read from an input or from D itself
//   post     optional in-place epilogue kernel: bias of any broadcast shape, residual before or
//            after the activation, every activation FusedMatMul carries
// MatMul batches: dims where neither operand broadcasts merge into one strided batch; a shared
// B folds A's batch into M (one large GEMM, the BERT/ViT linear layers); an operand broadcast
// over the innermost batch group uses batch stride 0; whatever cannot be one strided batch is a
// precomputed list of calls.
#include <cfloat>
#include <map>
#include <string>
#include <vector>

#include "cuda/kernels/common.cuh"
#include "cuda/kernels/linalg_einsum_generic.h"
#include "cuda/kernels/linalg_epilogue.cuh"
#include "cuda/kernels/linalg_int.cuh"
#include "cuda/kernels/linalg_lt.h"
#include "ir/ops/linalg_einsum.h"

namespace slimrt::cuda {

namespace {

struct Call {
  int64_t a = 0, b = 0, d = 0;  // element offsets of one cuBLASLt call's operands
};

class ProductKernel final : public Kernel {
 public:
  enum class Pre { kNone, kZero, kCopy };

  uint64_t workspace_bytes() const override { return run_gemm_ ? gemm_.workspace_bytes() : 0; }

  Status enqueue(const LaunchArgs& args) const override {
    if (out_n_ == 0) return Status::OK();
    char* d = static_cast<char*>(args.output(0));
    const auto elem = static_cast<int64_t>(elem_);
    if (pre_ == Pre::kZero) {
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(d, 0, static_cast<size_t>(out_n_ * elem), args.stream), "zero fill");
    } else if (pre_ == Pre::kCopy) {
      SLIMRT_RETURN_IF_ERROR(dispatch_float(dtype_, [&](auto tag) {
        using T = typename decltype(tag)::type;
        broadcast_scale_kernel<T><<<grid_for(out_n_), kBlock, 0, args.stream>>>(
            args.in<T>(static_cast<size_t>(pre_input_)), pre_bs_, out_n_, pre_scale_, reinterpret_cast<T*>(d));
      }));
    }
    if (run_gemm_) {
      const char* a = static_cast<const char*>(args.input(a_input_));
      const char* b = static_cast<const char*>(args.input(b_input_));
      const char* c = c_input_ >= 0 ? static_cast<const char*>(args.input(static_cast<size_t>(c_input_))) : d;
      const void* bias = bias_input_ >= 0 ? args.input(static_cast<size_t>(bias_input_)) : nullptr;
      for (const Call& call : calls_) {
        SLIMRT_RETURN_IF_ERROR(gemm_.run(args, a + call.a * elem, b + call.b * elem, c + call.d * elem,
                                         d + call.d * elem, bias));
      }
    }
    if (post_) {
      const void* bias = ep_bias_input_ >= 0 ? args.input(static_cast<size_t>(ep_bias_input_)) : nullptr;
      const void* res = ep_res_input_ >= 0 ? args.input(static_cast<size_t>(ep_res_input_)) : nullptr;
      const auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
      const bool vec = ep_vec_ok_ && aligned(d) && aligned(bias) && aligned(res);
      SLIMRT_RETURN_IF_ERROR(dispatch_float(dtype_, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* y = reinterpret_cast<T*>(d);
        const T* pb = static_cast<const T*>(bias);
        const T* pr = static_cast<const T*>(res);
        if (vec) {
          epilogue_vec_kernel<T><<<grid_for(out_n_ / static_cast<int64_t>(16 / sizeof(T))), kBlock, 0, args.stream>>>(
              y, pb, pr, ep_);
        } else {
          epilogue_kernel<T><<<grid_for(out_n_), kBlock, 0, args.stream>>>(y, pb, pr, ep_);
        }
      }));
    }
    return Status::OK();
  }

  DataType dtype_ = DataType::kFloat32;
  size_t elem_ = 4;
  int64_t out_n_ = 0;
  Pre pre_ = Pre::kNone;
  int pre_input_ = -1;
  BroadcastStrides pre_bs_;
  double pre_scale_ = 1.0;
  bool run_gemm_ = false;
  size_t a_input_ = 0, b_input_ = 1;
  LtGemm gemm_;
  std::vector<Call> calls_;
  int c_input_ = -1;     // beta * C reads this input (offset like D); -1: D itself
  int bias_input_ = -1;  // cuBLASLt BIAS epilogue vector
  bool post_ = false;
  EpilogueParams ep_;
  int ep_bias_input_ = -1, ep_res_input_ = -1;
  bool ep_vec_ok_ = false;
};

// The product, as planned from the op's shapes.
struct Product {
  LtGemmDesc g;
  std::vector<Call> calls;
  bool b_vec = false;          // MatMul with a 1-D B: the output has no N axis
  bool zero_stride = false;    // one operand's batch stride is 0
  int a_input = 0, b_input = 1;  // which inputs are A and B (Einsum may swap them)
};

struct BatchGroup {
  int64_t size, sa, sb, sd;
};

// numpy MatMul of `ad` x `bd`: M, N, K, the strided batch of one call and the list of calls.
Status plan_matmul(const PrepareArgs& args, std::vector<int64_t> as, std::vector<int64_t> bs, Product* p) {
  if (as.empty() || bs.empty()) return args.invalid("MatMul inputs must have rank >= 1");
  p->b_vec = bs.size() == 1;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  LtGemmDesc& g = p->g;
  g.m = as[as.size() - 2];
  g.k = as.back();
  g.n = bs.back();
  if (bs[bs.size() - 2] != g.k) return args.invalid("inner dimensions do not match");
  g.lda = g.k;
  g.ldb = g.n;
  g.ldd = g.n;
  const size_t rank = std::max(as.size(), bs.size()) - 2;
  std::vector<int64_t> ab(rank, 1), bb(rank, 1);
  for (size_t d = 0; d + 2 < as.size(); ++d) ab[rank - (as.size() - 2) + d] = as[d];
  for (size_t d = 0; d + 2 < bs.size(); ++d) bb[rank - (bs.size() - 2) + d] = bs[d];
  // Batch dims from the innermost out, merged while one stride per operand still describes them.
  std::vector<BatchGroup> groups;
  int64_t stride_a = g.m * g.k, stride_b = g.k * g.n, stride_d = g.m * g.n;
  for (size_t d = rank; d-- > 0;) {
    if (ab[d] != bb[d] && ab[d] != 1 && bb[d] != 1) return args.invalid("batch dimensions do not broadcast");
    const int64_t size = std::max(ab[d], bb[d]);
    const BatchGroup dim{size, ab[d] == 1 ? 0 : stride_a, bb[d] == 1 ? 0 : stride_b, stride_d};
    stride_a *= ab[d];
    stride_b *= bb[d];
    stride_d *= size;
    if (size == 1) continue;
    if (!groups.empty()) {
      BatchGroup& last = groups.back();
      if (dim.sa == last.sa * last.size && dim.sb == last.sb * last.size && dim.sd == last.sd * last.size) {
        last.size *= size;
        continue;
      }
    }
    groups.push_back(dim);
  }
  p->calls.assign(1, Call{});
  if (groups.empty()) return Status::OK();
  const BatchGroup inner = groups.front();
  // The outer groups become the list of calls.
  for (size_t gi = 1; gi < groups.size(); ++gi) {
    const BatchGroup& o = groups[gi];
    std::vector<Call> next;
    next.reserve(p->calls.size() * static_cast<size_t>(o.size));
    for (int64_t i = 0; i < o.size; ++i) {
      for (const Call& c : p->calls) next.push_back({c.a + i * o.sa, c.b + i * o.sb, c.d + i * o.sd});
    }
    p->calls.swap(next);
  }
  if (inner.sb == 0 && inner.sa == g.m * g.k) {
    g.m *= inner.size;  // B shared by every matrix of A: one tall product
    return Status::OK();
  }
  g.batch = inner.size;
  g.stride_a = inner.sa;
  g.stride_b = inner.sb;
  g.stride_d = inner.sd;
  p->zero_stride = inner.sa == 0 || inner.sb == 0;
  return Status::OK();
}

// Turns the strided batch of one call into a list of single calls (when stride 0 is refused).
void expand_batch(Product* p) {
  std::vector<Call> next;
  for (int64_t i = 0; i < p->g.batch; ++i) {
    for (const Call& c : p->calls) next.push_back({c.a + i * p->g.stride_a, c.b + i * p->g.stride_b, c.d + i * p->g.stride_d});
  }
  p->calls.swap(next);
  p->g.batch = 1;
  p->g.stride_a = p->g.stride_b = p->g.stride_d = 0;
  p->zero_stride = false;
}

Status plan_gemm(const PrepareArgs& args, Product* p) {
  const TensorInfo& a = args.input(0);
  const TensorInfo& b = args.input(1);
  if (a.rank() != 2 || b.rank() != 2) return args.invalid("Gemm needs 2-D A and B");
  LtGemmDesc& g = p->g;
  g.trans_a = args.node.attr_int("transA", 0) != 0;
  g.trans_b = args.node.attr_int("transB", 0) != 0;
  g.m = g.trans_a ? a.dims[1] : a.dims[0];
  g.k = g.trans_a ? a.dims[0] : a.dims[1];
  g.n = g.trans_b ? b.dims[0] : b.dims[1];
  if ((g.trans_b ? b.dims[1] : b.dims[0]) != g.k) return args.invalid("inner dimensions do not match");
  g.lda = std::max<int64_t>(a.dims[1], 1);
  g.ldb = std::max<int64_t>(b.dims[1], 1);
  g.ldd = std::max<int64_t>(g.n, 1);
  g.alpha = args.node.attr_float("alpha", 1.0f);
  p->calls.assign(1, Call{});
  return Status::OK();
}

bool parse_act(const std::string& s, Act* out) {
  static const std::pair<const char*, Act> kActs[] = {
      {"", Act::kNone},         {"Relu", Act::kRelu},       {"Gelu", Act::kGelu},
      {"GeluTanh", Act::kGeluTanh}, {"SiLU", Act::kSiLU}, {"Sigmoid", Act::kSigmoid},
      {"Tanh", Act::kTanh},     {"LeakyRelu", Act::kLeakyRelu}, {"Clip", Act::kClip}};
  for (const auto& [name, act] : kActs) {
    if (s == name) {
      *out = act;
      return true;
    }
  }
  return false;
}

// How addend `t` maps onto an output of `out` dims (t broadcasts to out without growing it).
AddMode addend_mode(const TensorInfo& t, const std::vector<int64_t>& out, int64_t out_n) {
  const int64_t n = t.numel();
  const int64_t cols = out.empty() ? 1 : out.back();
  if (n == out_n) return AddMode::kFull;
  if (n == cols && t.rank() >= 1 && t.dims.back() == cols) return AddMode::kRow;
  return AddMode::kBroadcast;
}

// What the op asks for beyond the product.
struct Extras {
  int c = -1;           // Gemm's C (read when beta != 0)
  double beta = 0.0;
  int bias = -1;        // FusedMatMul (MatMul form) bias, broadcast to the output
  int residual = -1;
  bool residual_first = false;
  Act act = Act::kNone;
};

class IntProductKernel final : public Kernel {
 public:
  Status enqueue(const LaunchArgs& args) const override {
    if (out_n_ == 0) return Status::OK();
    return dispatch_int(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* a = args.in<T>(a_input_);
      const T* b = args.in<T>(b_input_);
      const T* c = c_input_ >= 0 ? args.in<T>(static_cast<size_t>(c_input_)) : nullptr;
      for (const Call& call : calls_) {
        int_gemm_kernel<T><<<grid_for(p_.batch * p_.m * p_.n), kBlock, 0, args.stream>>>(
            a + call.a, b + call.b, c, args.out<T>(0) + call.d, p_);
      }
    });
  }

  DataType dtype_ = DataType::kInt32;
  int64_t out_n_ = 0;
  size_t a_input_ = 0, b_input_ = 1;
  int c_input_ = -1;
  IntGemmParams p_;
  std::vector<Call> calls_;
};

Result<std::unique_ptr<Kernel>> build_int(const PrepareArgs& args, const Product& prod, const Extras& x) {
  const DataType dt = args.input(0).dtype;
  const Status s = dispatch_int(dt, [](auto) {});
  if (!s.ok()) return args.unsupported(s.message());
  auto k = std::make_unique<IntProductKernel>();
  k->dtype_ = dt;
  k->out_n_ = args.output(0).numel();
  if (k->out_n_ == 0) return std::unique_ptr<Kernel>(std::move(k));
  const LtGemmDesc& g = prod.g;
  IntGemmParams& p = k->p_;
  p.batch = g.batch;
  p.m = g.m;
  p.n = g.n;
  p.k = g.k;
  p.lda = g.lda;
  p.ldb = g.ldb;
  p.stride_a = g.stride_a;
  p.stride_b = g.stride_b;
  p.trans_a = g.trans_a;
  p.trans_b = g.trans_b;
  p.alpha = static_cast<int64_t>(g.alpha);
  if (x.c >= 0 && x.beta != 0.0) {
    p.beta = static_cast<int64_t>(x.beta);
    k->c_input_ = x.c;
    p.c_bs = broadcast_strides(args.input(static_cast<size_t>(x.c)).dims, {g.m, g.n});
  }
  k->a_input_ = static_cast<size_t>(prod.a_input);
  k->b_input_ = static_cast<size_t>(prod.b_input);
  k->calls_ = prod.calls;
  return std::unique_ptr<Kernel>(std::move(k));
}

// Plans the kernel; `lt_epilogue` lets cuBLASLt add the bias and apply Relu/GELU itself.
Result<std::unique_ptr<Kernel>> build_once(const PrepareArgs& args, Product prod, const Extras& x, bool lt_epilogue) {
  const TensorInfo& out = args.output(0);
  const DataType dt = args.input(0).dtype;
  if (!dtype_is_float(dt))
    return args.unsupported("dtype " + std::string(dtype_name(dt)) + ": integer products are not implemented on CUDA");
  for (size_t i = 1; i < args.inputs.size(); ++i) {
    if (args.has_input(i) && args.input(i).dtype != dt) return args.invalid("inputs must share one dtype");
  }
  auto k = std::make_unique<ProductKernel>();
  k->dtype_ = dt;
  k->elem_ = dtype_size(dt);
  k->out_n_ = out.numel();
  if (k->out_n_ == 0) return std::unique_ptr<Kernel>(std::move(k));
  if (out.rank() > kMaxRank) return args.unsupported("rank > 8");
  LtGemmDesc& g = prod.g;
  g.dtype = dt;
  const bool zero_k = g.k == 0;
  k->run_gemm_ = !zero_k;
  const auto along_n = [&](const TensorInfo& t) {
    return t.numel() == g.n && (g.n == 1 || (!prod.b_vec && t.rank() >= 1 && t.dims.back() == g.n));
  };
  bool c_used = false;  // the product reads beta * C
  // Gemm's C.
  if (x.c >= 0 && x.beta != 0.0) {
    const TensorInfo& c = args.input(static_cast<size_t>(x.c));
    if (c.rank() > 2) return args.invalid("C must have rank <= 2");
    if (zero_k) {
      k->pre_ = ProductKernel::Pre::kCopy;
      k->pre_input_ = x.c;
      k->pre_bs_ = broadcast_strides(c.dims, out.dims);
      k->pre_scale_ = x.beta;
    } else if (lt_epilogue && x.beta == 1.0 && along_n(c)) {
      g.bias = true;
      k->bias_input_ = x.c;
    } else if (c.numel() == k->out_n_) {
      g.beta = x.beta;
      k->c_input_ = x.c;
      c_used = true;
    } else {
      k->pre_ = ProductKernel::Pre::kCopy;
      k->pre_input_ = x.c;
      k->pre_bs_ = broadcast_strides(c.dims, out.dims);
      g.beta = x.beta;
      c_used = true;
    }
  }
  if (zero_k && k->pre_ == ProductKernel::Pre::kNone) k->pre_ = ProductKernel::Pre::kZero;
  // FusedMatMul's bias: cuBLASLt's epilogue when it is one value per column.
  int post_bias = -1;
  if (x.bias >= 0) {
    if (lt_epilogue && !zero_k && !g.bias && along_n(args.input(static_cast<size_t>(x.bias)))) {
      g.bias = true;
      k->bias_input_ = x.bias;
    } else {
      post_bias = x.bias;
    }
  }
  // The residual before any activation rides in the product's C when that slot is free.
  int post_res = x.residual;
  const bool res_pre_act = x.residual >= 0 && (x.residual_first || x.act == Act::kNone);
  if (res_pre_act && !zero_k && !c_used) {
    const TensorInfo& r = args.input(static_cast<size_t>(x.residual));
    if (r.numel() == k->out_n_) {
      k->c_input_ = x.residual;
    } else {
      k->pre_ = ProductKernel::Pre::kCopy;
      k->pre_input_ = x.residual;
      k->pre_bs_ = broadcast_strides(r.dims, out.dims);
      k->pre_scale_ = 1.0;
    }
    g.beta = 1.0;
    c_used = true;
    post_res = -1;
  }
  // Activation: cuBLASLt's own only when nothing is added after the product it sees, and GELU
  // (tanh approximation, computed fast) only for half types, whose tolerance allows it.
  Act post_act = x.act;
  if (lt_epilogue && !zero_k && !c_used && post_bias < 0 && post_res < 0) {
    if (x.act == Act::kRelu) {
      g.act = LtEpilogue::kRelu;
      post_act = Act::kNone;
    } else if (x.act == Act::kGeluTanh && (dt == DataType::kFloat16 || dt == DataType::kBFloat16)) {
      g.act = LtEpilogue::kGeluTanh;
      post_act = Act::kNone;
    }
  }
  if (post_bias >= 0 || post_res >= 0 || post_act != Act::kNone) {
    k->post_ = true;
    EpilogueParams& ep = k->ep_;
    ep.n = k->out_n_;
    ep.cols = out.dims.empty() ? 1 : out.dims.back();
    ep.act = post_act;
    ep.residual_first = x.residual_first;
    ep.alpha = args.node.attr_float("alpha", 0.01f);
    ep.lo = args.node.has_attr("min") ? args.node.attr_float("min", 0.0f) : -FLT_MAX;
    ep.hi = args.node.has_attr("max") ? args.node.attr_float("max", 0.0f) : FLT_MAX;
    const int vec = static_cast<int>(16 / k->elem_);
    bool vec_ok = ep.n % vec == 0;
    if (post_bias >= 0) {
      const TensorInfo& t = args.input(static_cast<size_t>(post_bias));
      ep.bias = addend_mode(t, out.dims, ep.n);
      ep.bias_bs = broadcast_strides(t.dims, out.dims);
      k->ep_bias_input_ = post_bias;
    }
    if (post_res >= 0) {
      const TensorInfo& t = args.input(static_cast<size_t>(post_res));
      ep.residual = addend_mode(t, out.dims, ep.n);
      ep.residual_bs = broadcast_strides(t.dims, out.dims);
      k->ep_res_input_ = post_res;
    }
    for (AddMode m : {ep.bias, ep.residual}) {
      if (m == AddMode::kBroadcast || (m == AddMode::kRow && ep.cols % vec != 0)) vec_ok = false;
    }
    k->ep_vec_ok_ = vec_ok;
  }
  if (k->run_gemm_) {
    const Status s = k->gemm_.init(args, g);
    if (!s.ok() && prod.zero_stride) {
      // Batch stride 0 refused: one call per matrix instead.
      expand_batch(&prod);
      SLIMRT_RETURN_IF_ERROR(k->gemm_.init(args, g));
    } else {
      SLIMRT_RETURN_IF_ERROR(s);
    }
    if (k->gemm_.workspace_bytes() > args.workspace_limit) return args.unsupported("cuBLASLt workspace over the limit");
    k->calls_ = std::move(prod.calls);
    k->a_input_ = static_cast<size_t>(prod.a_input);
    k->b_input_ = static_cast<size_t>(prod.b_input);
  }
  return std::unique_ptr<Kernel>(std::move(k));
}

Result<std::unique_ptr<Kernel>> build(const PrepareArgs& args, const Product& prod, const Extras& x) {
  if (dtype_is_integer(args.input(0).dtype) && x.bias < 0 && x.residual < 0 && x.act == Act::kNone)
    return build_int(args, prod, x);
  auto k = build_once(args, prod, x, true);
  if (k.ok() || k.status().code() != StatusCode::kUnsupported) return k;
  // cuBLASLt may refuse an epilogue for some shapes or batch layouts: do it in our own kernel.
  auto plain = build_once(args, prod, x, false);
  return plain.ok() ? std::move(plain) : std::move(k);
}

Result<std::unique_ptr<Kernel>> create_matmul(const PrepareArgs& args) {
  Product p;
  SLIMRT_RETURN_IF_ERROR(plan_matmul(args, args.input(0).dims, args.input(1).dims, &p));
  return build(args, std::move(p), Extras{});
}

Result<std::unique_ptr<Kernel>> create_gemm(const PrepareArgs& args) {
  Product p;
  SLIMRT_RETURN_IF_ERROR(plan_gemm(args, &p));
  Extras x;
  if (args.has_input(2)) {
    x.c = 2;
    x.beta = args.node.attr_float("beta", 1.0f);
  }
  return build(args, std::move(p), x);
}

Result<std::unique_ptr<Kernel>> create_fused_matmul(const PrepareArgs& args) {
  Extras x;
  if (!parse_act(args.node.attr_string("activation", ""), &x.act))
    return args.unsupported("unknown activation '" + args.node.attr_string("activation", "") + "'");
  x.residual_first = args.node.attr_int("residual_before_activation", 0) != 0;
  if (args.has_input(3)) x.residual = 3;
  Product p;
  if (args.node.attr_int("gemm", 0) != 0) {
    SLIMRT_RETURN_IF_ERROR(plan_gemm(args, &p));
    if (args.has_input(2)) {
      x.c = 2;
      x.beta = args.node.attr_float("beta", 1.0f);
    }
  } else {
    SLIMRT_RETURN_IF_ERROR(plan_matmul(args, args.input(0).dims, args.input(1).dims, &p));
    if (args.has_input(2)) x.bias = 2;
  }
  return build(args, std::move(p), x);
}

// ---- Einsum ------------------------------------------------------------------------------------
// Two-operand contractions that are one strided-batched GEMM on the operands as stored: every
// label is batch (both inputs and the output), M (A and output), N (B and output) or K (both
// inputs, summed); the output reads [batch][M][N] or [batch][N][M]; each input holds the batch
// labels first, in the output's order, then its two groups in either order (a transpose), each
// group in the output's (for K: in A's) order. Everything else is kUnsupported: one or three+
// operands, repeated labels (diagonals), labels summed within one operand, dims that broadcast,
// and groups interleaved in memory (they would need a transpose first). Those run through the
// generic kernel of linalg_einsum_generic.cu instead.

// Terms with "..." replaced by one digit label per ellipsis axis (right-aligned, numpy style).
Status expand_ellipsis(const PrepareArgs& args, EinsumEquation* eq) {
  size_t ell = 0;
  std::vector<size_t> n_ell(eq->inputs.size(), 0);
  for (size_t i = 0; i < eq->inputs.size(); ++i) {
    const size_t labels = einsum_label_count(eq->inputs[i]);
    const auto rank = static_cast<size_t>(args.input(i).rank());
    const bool has = labels != eq->inputs[i].size();
    if (has ? rank < labels : rank != labels) return args.invalid("einsum term does not fit its input's rank");
    n_ell[i] = has ? rank - labels : 0;
    ell = std::max(ell, n_ell[i]);
  }
  if (ell > 8) return args.unsupported("einsum ellipsis of rank > 8");
  const auto expand = [&](const std::string& term, size_t n) {
    std::string r;
    for (char c : term) {
      if (c != EinsumEquation::kEllipsis) {
        r.push_back(c);
        continue;
      }
      for (size_t e = ell - n; e < ell; ++e) r.push_back(static_cast<char>('0' + e));
    }
    return r;
  };
  for (size_t i = 0; i < eq->inputs.size(); ++i) eq->inputs[i] = expand(eq->inputs[i], n_ell[i]);
  eq->output = expand(eq->output, ell);
  return Status::OK();
}

Result<std::unique_ptr<Kernel>> create_einsum_gemm(const PrepareArgs& args, const std::string& equation,
                                                   EinsumEquation eq) {
  const auto no = [&](const std::string& why) { return args.unsupported("einsum '" + equation + "': " + why); };
  if (eq.inputs.size() != 2) return no("not a two-operand contraction");
  SLIMRT_RETURN_IF_ERROR(expand_ellipsis(args, &eq));
  std::string ta = eq.inputs[0], tb = eq.inputs[1];
  const std::string& to = eq.output;
  std::map<char, int64_t> size;
  for (int i = 0; i < 2; ++i) {
    const std::string& t = i == 0 ? ta : tb;
    for (size_t d = 0; d < t.size(); ++d) {
      if (t.find(t[d]) != d) return no("repeated label (diagonal)");
      const int64_t n = args.input(static_cast<size_t>(i)).dims[d];
      auto [it, fresh] = size.emplace(t[d], n);
      if (!fresh && it->second != n) return no("dims that broadcast");
    }
  }
  const auto in = [](const std::string& t, char c) { return t.find(c) != std::string::npos; };
  std::string batch, m_labels, n_labels, k_labels;
  for (char c : to) {
    if (in(ta, c) && in(tb, c)) batch.push_back(c);
    else if (in(ta, c)) m_labels.push_back(c);
    else n_labels.push_back(c);
  }
  for (char c : ta) {
    if (!in(to, c)) {
      if (!in(tb, c)) return no("a label summed within one operand");
      k_labels.push_back(c);
    }
  }
  for (char c : tb) {
    if (!in(to, c) && !in(ta, c)) return no("a label summed within one operand");
  }
  // The output: [batch][M][N], or [batch][N][M] with the operands' roles swapped.
  bool swap = false;
  if (to != batch + m_labels + n_labels) {
    if (to != batch + n_labels + m_labels) return no("output labels interleave batch, rows and columns");
    swap = true;
  }
  // Operand `t` = batch + rows + cols (trans = false) or batch + cols + rows (trans = true).
  const auto layout = [&](const std::string& t, const std::string& first, const std::string& second, bool* trans) {
    if (t == batch + first + second) { *trans = false; return true; }
    if (t == batch + second + first) { *trans = true; return true; }
    return false;
  };
  const auto prod = [&](const std::string& labels) {
    int64_t p = 1;
    for (char c : labels) p *= size[c];
    return p;
  };
  // K's order is A's; B must hold it in the same order.
  std::string k_in_b;
  for (char c : tb) {
    if (in(k_labels, c)) k_in_b.push_back(c);
  }
  if (k_in_b != k_labels) return no("contracted labels in different orders");
  Product p;
  LtGemmDesc& g = p.g;
  int a_in = 0, b_in = 1;
  std::string rows = m_labels, cols = n_labels;
  if (swap) {
    std::swap(ta, tb);
    std::swap(rows, cols);
    std::swap(a_in, b_in);
  }
  if (!layout(ta, rows, k_labels, &g.trans_a) || !layout(tb, k_labels, cols, &g.trans_b))
    return no("an operand's labels interleave its groups (needs a transpose)");
  g.m = prod(rows);
  g.n = prod(cols);
  g.k = prod(k_labels);
  g.lda = std::max<int64_t>(g.trans_a ? g.m : g.k, 1);
  g.ldb = std::max<int64_t>(g.trans_b ? g.k : g.n, 1);
  g.ldd = std::max<int64_t>(g.n, 1);
  g.batch = prod(batch);
  if (g.batch > 1) {
    g.stride_a = g.m * g.k;
    g.stride_b = g.k * g.n;
    g.stride_d = g.m * g.n;
  } else {
    g.batch = 1;
  }
  p.a_input = a_in;
  p.b_input = b_in;
  p.calls.assign(1, Call{});
  return build(args, std::move(p), Extras{});
}

// One cuBLASLt GEMM when the equation is one; the generic kernel for everything else.
Result<std::unique_ptr<Kernel>> create_einsum(const PrepareArgs& args) {
  const std::string equation = args.node.attr_string("equation", "");
  EinsumEquation eq;
  if (!parse_einsum(equation, args.inputs.size(), &eq).ok()) return args.invalid("bad einsum equation '" + equation + "'");
  if (eq.inputs.size() == 2) {
    auto k = create_einsum_gemm(args, equation, eq);
    if (k.ok() || k.status().code() != StatusCode::kUnsupported) return k;
  }
  return create_einsum_generic(args, eq);
}

}  // namespace

void register_linalg_kernels(KernelRegistry& r) {
  r.add({"MatMul", &create_matmul, 0});
  r.add({"Gemm", &create_gemm, 0});
  r.add({"FusedMatMul", &create_fused_matmul, 0});
  r.add({"Einsum", &create_einsum, 0});
}

}  // namespace slimrt::cuda
