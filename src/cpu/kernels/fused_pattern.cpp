// CPU reference kernels for the ops pattern recognition emits: RMSNormalization, SiLU and
// Attention. Computed in double and rounded once at the output (Attention also rounds its
// scores to the input type where the decomposed graph does); fp16/bf16 are widened by the
// backend (widen_half). docs/passes.md ("Pattern recognition") defines them.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

namespace {

// Row-major strides of `shape` right-aligned to `rank` dims, 0 where the dim broadcasts.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape, size_t rank) {
  std::vector<int64_t> st(rank, 0);
  int64_t s = 1;
  const size_t off = rank - shape.size();
  for (size_t d = shape.size(); d-- > 0;) {
    st[d + off] = shape[d] == 1 ? 0 : s;
    s *= shape[d];
  }
  return st;
}

template <typename T>
Status rms_norm_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& scale = *ctx.input(1);
  const int64_t rank = static_cast<int64_t>(x.rank());
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return ctx.invalid("axis out of range for rank " + std::to_string(rank));
  const double eps = static_cast<double>(ctx.node.attr_float("epsilon", 1e-5f));
  const std::vector<int64_t> norm(x.shape().begin() + axis, x.shape().end());
  if (scale.rank() > norm.size()) return ctx.invalid("scale has more dims than the normalized dims");
  int64_t inner = 1;
  for (int64_t d : norm) inner *= d;
  const int64_t outer = inner == 0 ? 0 : x.numel() / inner;
  // Flat index into scale for each normalized position.
  const std::vector<int64_t> sst = broadcast_strides(scale.shape(), norm.size());
  std::vector<int64_t> smap(static_cast<size_t>(inner));
  for (int64_t i = 0; i < inner; ++i) {
    int64_t rem = i, idx = 0;
    for (size_t d = norm.size(); d-- > 0;) {
      idx += (rem % norm[d]) * sst[d];
      rem /= norm[d];
    }
    smap[static_cast<size_t>(i)] = idx;
  }
  const T* xd = x.data<T>();
  T* yd = ctx.output(0).data<T>();
  for (int64_t o = 0; o < outer; ++o) {
    const T* xr = xd + o * inner;
    T* yr = yd + o * inner;
    double ss = 0;
    for (int64_t i = 0; i < inner; ++i) ss += static_cast<double>(xr[i]) * static_cast<double>(xr[i]);
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(inner) + eps);
    for (int64_t i = 0; i < inner; ++i)
      yr[i] = static_cast<T>(static_cast<double>(xr[i]) * inv * scale.get_as_double(smap[static_cast<size_t>(i)]));
  }
  return Status::OK();
}

template <typename T>
Status silu_typed(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const T* xd = x.data<T>();
  T* yd = ctx.output(0).data<T>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = static_cast<double>(xd[i]);
    yd[i] = static_cast<T>(v / (1.0 + std::exp(-v)));
  }
  return Status::OK();
}

// scores = Q K^T * scale (+ mask), each step rounded to T; causal: key j > query i masked;
// softmax (in double) over keys with the row maximum subtracted (a row with every key masked gives NaN, as Softmax of all -inf does);
// out = softmax V. Bool masks: true keeps the key, false masks it (-inf).
// Heads-major Q, K and V: the backend permutes the sequence-major form and splits the packed one
// (ir/layout.h) before the call, so this one loop defines every form.
template <typename T>
Status attention_typed(KernelContext& ctx) {
  if (!ctx.input(0) || !ctx.input(1) || !ctx.input(2)) return ctx.invalid("Q, K and V must all be present");
  const Tensor& q = *ctx.input(0);
  const Tensor& k = *ctx.input(1);
  const Tensor& v = *ctx.input(2);
  const Tensor* mask = ctx.input(3);
  const size_t rank = q.rank();
  if (rank < 3 || k.rank() != rank || v.rank() != rank) return ctx.invalid("Q, K and V must have rank 3 or 4");
  int64_t batch = 1;
  for (size_t d = 0; d + 2 < rank; ++d) {
    if (k.dim(d) != q.dim(d) || v.dim(d) != q.dim(d)) return ctx.invalid("Q, K and V leading dims differ");
    batch *= q.dim(d);
  }
  const int64_t sq = q.dim(rank - 2), dk = q.dim(rank - 1);
  const int64_t skv = k.dim(rank - 2), dv = v.dim(rank - 1);
  if (k.dim(rank - 1) != dk || v.dim(rank - 2) != skv) return ctx.invalid("Q, K and V dims do not agree");
  const double scale = ctx.node.has_attr("scale") ? static_cast<double>(ctx.node.attr_float("scale", 1.0f))
                                                  : 1.0 / std::sqrt(static_cast<double>(dk));
  const bool causal = ctx.node.attr_int("is_causal", 0) != 0;
  // Mask strides over [leading..., Sq, Skv] (the leading dims flattened back per index below).
  std::vector<int64_t> mst;
  std::vector<int64_t> lead_dims(q.shape().begin(), q.shape().end() - 2);
  if (mask) {
    if (mask->rank() > rank) return ctx.invalid("mask has more dims than the scores");
    mst = broadcast_strides(mask->shape(), rank);
  }
  const T* qd = q.data<T>();
  const T* kd = k.data<T>();
  const T* vd = v.data<T>();
  T* od = ctx.output(0).data<T>();
  const double neg_inf = -std::numeric_limits<double>::infinity();
  auto rnd = [](double x) { return static_cast<double>(static_cast<T>(x)); };
  std::vector<double> s(static_cast<size_t>(skv));
  std::vector<double> acc(static_cast<size_t>(dv));
  for (int64_t b = 0; b < batch; ++b) {
    int64_t mask_base = 0;
    if (mask) {
      int64_t rem = b;
      for (size_t d = lead_dims.size(); d-- > 0;) {
        mask_base += (rem % lead_dims[d]) * mst[d];
        rem /= lead_dims[d];
      }
    }
    const T* qb = qd + b * sq * dk;
    const T* kb = kd + b * skv * dk;
    const T* vb = vd + b * skv * dv;
    T* ob = od + b * sq * dv;
    for (int64_t i = 0; i < sq; ++i) {
      double mx = neg_inf;
      bool nan = false;
      for (int64_t j = 0; j < skv; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < dk; ++c) dot += static_cast<double>(qb[i * dk + c]) * static_cast<double>(kb[j * dk + c]);
        // The scores are rounded to T after the product, the scaling and the mask add, as the
        // decomposed MatMul -> Div -> Add graph rounds them: a large additive mask (BERT's
        // (1 - m) * -10000 with m outside {0, 1}) then loses the same bits in both.
        double val = rnd(rnd(dot) * scale);
        if (mask) {
          const int64_t mi = mask_base + i * mst[rank - 2] + j * mst[rank - 1];
          if (mask->dtype() == DataType::kBool) {
            if (mask->data<uint8_t>()[mi] == 0) val = neg_inf;
          } else {
            val = rnd(val + mask->get_as_double(mi));
          }
        }
        if (causal && j > i) val = neg_inf;
        s[static_cast<size_t>(j)] = val;
        if (std::isnan(val)) nan = true;
        if (val > mx) mx = val;
      }
      double sum = 0;
      for (int64_t j = 0; j < skv; ++j) {
        double& e = s[static_cast<size_t>(j)];
        e = nan ? std::numeric_limits<double>::quiet_NaN() : std::exp(e - mx);  // all -inf: exp(NaN)
        sum += e;
      }
      const double inv = 1.0 / sum;
      for (double& a : acc) a = 0;
      for (int64_t j = 0; j < skv; ++j) {
        const double p = s[static_cast<size_t>(j)] * inv;
        for (int64_t c = 0; c < dv; ++c) acc[static_cast<size_t>(c)] += p * static_cast<double>(vb[j * dv + c]);
      }
      for (int64_t c = 0; c < dv; ++c) ob[i * dv + c] = static_cast<T>(acc[static_cast<size_t>(c)]);
    }
  }
  return Status::OK();
}

#define SLIMRT_FLOAT_KERNEL(name, typed) \
  Status name(KernelContext& ctx) {      \
    return dispatch_float(ctx.input(0)->dtype(), [&]<typename T>() { return typed<T>(ctx); }); \
  }
SLIMRT_FLOAT_KERNEL(rms_norm_kernel, rms_norm_typed)
SLIMRT_FLOAT_KERNEL(silu_kernel, silu_typed)
SLIMRT_FLOAT_KERNEL(attention_kernel, attention_typed)
#undef SLIMRT_FLOAT_KERNEL

}  // namespace

void register_fused_pattern_kernels(KernelRegistry& r) {
  r.add({"RMSNormalization", rms_norm_kernel, true});
  r.add({"SiLU", silu_kernel, true});
  r.add({"Attention", attention_kernel, true});
}

}  // namespace slimrt::cpu
