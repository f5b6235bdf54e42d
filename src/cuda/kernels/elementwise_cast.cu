// CUDA kernels for Cast, CastLike (every pair of the nine slimrt dtypes) and inference Dropout.
//
// Conversions match src/cpu/kernels/elementwise_cast.cpp bit for bit: values are read exactly
// (float sources as float/double, integer and bool sources as int64) and rounded once. Double
// and large integers reach fp16/bf16 through float32 rounded to odd, which makes the second
// rounding correct. Float -> integer truncates toward zero, NaN gives 0, values outside int64
// saturate and then wrap into narrower integers. Anything -> bool is "!= 0" (NaN is true).
#include "cuda/kernels/elementwise_common.cuh"

namespace slimrt::cuda {

void register_elementwise_cast_kernels(KernelRegistry& r);

namespace {

using namespace ew;

template <DataType D> struct Storage;
template <> struct Storage<DataType::kFloat32> { using type = float; };
template <> struct Storage<DataType::kFloat16> { using type = __half; };
template <> struct Storage<DataType::kBFloat16> { using type = __nv_bfloat16; };
template <> struct Storage<DataType::kFloat64> { using type = double; };
template <> struct Storage<DataType::kInt8> { using type = int8_t; };
template <> struct Storage<DataType::kUInt8> { using type = uint8_t; };
template <> struct Storage<DataType::kInt32> { using type = int32_t; };
template <> struct Storage<DataType::kInt64> { using type = int64_t; };
template <> struct Storage<DataType::kBool> { using type = uint8_t; };
template <DataType D> using storage_t = typename Storage<D>::type;

// Nearest float toward zero with the last bit set when inexact ("round to odd").
__device__ __forceinline__ float round_to_odd(double d) {
  float f = __double2float_rz(d);
  if (d != d || static_cast<double>(f) == d) return f;
  return __uint_as_float(__float_as_uint(f) | 1u);
}
__device__ __forceinline__ float round_to_odd(int64_t v) {
  const uint64_t mag = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  if (mag < (uint64_t{1} << 24)) return static_cast<float>(v);
  const int shift = (64 - __clzll(static_cast<long long>(mag))) - 24;
  uint64_t m = mag >> shift;
  if (mag & ((uint64_t{1} << shift) - 1)) m |= 1;
  const float f = ldexpf(static_cast<float>(m), shift);
  return v < 0 ? -f : f;
}

template <typename T> __device__ __forceinline__ T float_to_int(double v) {
  if (v != v) return T(0);
  const double t = trunc(v);
  int64_t i;
  if (t >= 9223372036854775808.0) i = std::numeric_limits<int64_t>::max();
  else if (t < -9223372036854775808.0) i = std::numeric_limits<int64_t>::min();
  else i = static_cast<int64_t>(t);
  return static_cast<T>(i);  // modular for narrower types
}

template <DataType S, DataType D> struct CastOp {
  using Out = storage_t<D>;
  template <typename V> __device__ Out operator()(V raw) const {
    if constexpr (S == DataType::kFloat32 || S == DataType::kFloat16 || S == DataType::kBFloat16) {
      const float x = raw;  // exact
      if constexpr (D == DataType::kFloat32) return x;
      else if constexpr (D == DataType::kFloat16) return __float2half_rn(x);
      else if constexpr (D == DataType::kBFloat16) return __float2bfloat16_rn(x);
      else if constexpr (D == DataType::kFloat64) return static_cast<double>(x);
      else if constexpr (D == DataType::kBool) return static_cast<uint8_t>(x != 0.0f ? 1 : 0);
      else return float_to_int<Out>(static_cast<double>(x));
    } else if constexpr (S == DataType::kFloat64) {
      const double x = raw;
      if constexpr (D == DataType::kFloat32) return static_cast<float>(x);
      else if constexpr (D == DataType::kFloat16) return __float2half_rn(round_to_odd(x));
      else if constexpr (D == DataType::kBFloat16) return __float2bfloat16_rn(round_to_odd(x));
      else if constexpr (D == DataType::kFloat64) return x;
      else if constexpr (D == DataType::kBool) return static_cast<uint8_t>(x != 0.0 ? 1 : 0);
      else return float_to_int<Out>(x);
    } else {
      const int64_t x = S == DataType::kBool ? static_cast<int64_t>(raw != 0) : static_cast<int64_t>(raw);
      if constexpr (D == DataType::kFloat32) return static_cast<float>(x);
      else if constexpr (D == DataType::kFloat16) return __float2half_rn(round_to_odd(x));
      else if constexpr (D == DataType::kBFloat16) return __float2bfloat16_rn(round_to_odd(x));
      else if constexpr (D == DataType::kFloat64) return static_cast<double>(x);
      else if constexpr (D == DataType::kBool) return static_cast<uint8_t>(x != 0 ? 1 : 0);
      else return static_cast<Out>(x);  // modular
    }
  }
};

class CopyKernel final : public Kernel {
 public:
  explicit CopyKernel(uint64_t bytes) : bytes_(bytes) {}
  Status enqueue(const LaunchArgs& args) const override {
    if (bytes_ == 0) return Status::OK();
    return SLIMRT_CUDA(cudaMemcpyAsync(args.output(0), args.input(0), bytes_, cudaMemcpyDeviceToDevice, args.stream), "Cast copy");
  }

 private:
  uint64_t bytes_;
};

template <DataType S, DataType D> std::unique_ptr<Kernel> make_cast(const PrepareArgs& a) {
  if constexpr (S == D) {
    return std::make_unique<CopyKernel>(a.output(0).bytes());
  } else {
    return make_ew<CastOp<S, D>, storage_t<D>, storage_t<S>>(a, {0}, CastOp<S, D>{});
  }
}

#define SLIMRT_EW_CAST_TO(S)                                                     \
  switch (to) {                                                                  \
    case DataType::kFloat32: return make_cast<S, DataType::kFloat32>(a);         \
    case DataType::kFloat16: return make_cast<S, DataType::kFloat16>(a);         \
    case DataType::kBFloat16: return make_cast<S, DataType::kBFloat16>(a);       \
    case DataType::kFloat64: return make_cast<S, DataType::kFloat64>(a);         \
    case DataType::kInt8: return make_cast<S, DataType::kInt8>(a);               \
    case DataType::kUInt8: return make_cast<S, DataType::kUInt8>(a);             \
    case DataType::kInt32: return make_cast<S, DataType::kInt32>(a);             \
    case DataType::kInt64: return make_cast<S, DataType::kInt64>(a);             \
    case DataType::kBool: return make_cast<S, DataType::kBool>(a);               \
    default: break;                                                              \
  }                                                                              \
  break;

// Cast and CastLike: the output's dtype (from shape inference) is the target.
Result<std::unique_ptr<Kernel>> cast_create(const PrepareArgs& a) {
  const DataType to = a.output(0).dtype;
  switch (a.input(0).dtype) {
    case DataType::kFloat32: SLIMRT_EW_CAST_TO(DataType::kFloat32)
    case DataType::kFloat16: SLIMRT_EW_CAST_TO(DataType::kFloat16)
    case DataType::kBFloat16: SLIMRT_EW_CAST_TO(DataType::kBFloat16)
    case DataType::kFloat64: SLIMRT_EW_CAST_TO(DataType::kFloat64)
    case DataType::kInt8: SLIMRT_EW_CAST_TO(DataType::kInt8)
    case DataType::kUInt8: SLIMRT_EW_CAST_TO(DataType::kUInt8)
    case DataType::kInt32: SLIMRT_EW_CAST_TO(DataType::kInt32)
    case DataType::kInt64: SLIMRT_EW_CAST_TO(DataType::kInt64)
    case DataType::kBool: SLIMRT_EW_CAST_TO(DataType::kBool)
    default: break;
  }
  return a.unsupported("Cast between these dtypes");
}
#undef SLIMRT_EW_CAST_TO

// Inference Dropout: Y = X; the optional mask is all true.
class DropoutKernel final : public Kernel {
 public:
  DropoutKernel(uint64_t bytes, uint64_t mask_bytes) : bytes_(bytes), mask_bytes_(mask_bytes) {}
  Status enqueue(const LaunchArgs& args) const override {
    if (bytes_ > 0) {
      SLIMRT_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(args.output(0), args.input(0), bytes_, cudaMemcpyDeviceToDevice, args.stream), "Dropout copy");
    }
    if (mask_bytes_ > 0 && args.num_outputs > 1 && args.output(1))
      return SLIMRT_CUDA(cudaMemsetAsync(args.output(1), 1, mask_bytes_, args.stream), "Dropout mask");
    return Status::OK();
  }

 private:
  uint64_t bytes_, mask_bytes_;
};

Result<std::unique_ptr<Kernel>> dropout_create(const PrepareArgs& a) {
  const Tensor* training = a.has_input(2) ? a.input(2).host : nullptr;
  const Tensor* ratio = a.has_input(1) ? a.input(1).host : nullptr;
  if (a.has_input(2) && !training) return a.unsupported("Dropout's training_mode must be known at prepare time");
  if (training && training->numel() == 1 && training->get_as_double(0) != 0 &&
      (!ratio || ratio->numel() != 1 || ratio->get_as_double(0) != 0))
    return a.unsupported("Dropout with training_mode=true and a non-zero ratio is not supported (inference only)");
  const uint64_t mask = a.outputs.size() > 1 && a.output(1).present() ? a.output(1).bytes() : 0;
  return std::unique_ptr<Kernel>(std::make_unique<DropoutKernel>(a.output(0).bytes(), mask));
}

}  // namespace

void register_elementwise_cast_kernels(KernelRegistry& r) {
  r.add({"Cast", &cast_create, 0});
  r.add({"CastLike", &cast_create, 0});
  r.add({"Dropout", &dropout_create, 0b110});  // ratio and training_mode: read on the host
}

}  // namespace slimrt::cuda
