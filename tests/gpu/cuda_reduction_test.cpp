// CUDA reduction family (Reduce*, Softmax/LogSoftmax/Hardmax, ArgMax/ArgMin, CumSum, TopK)
// against the CPU reference.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "gpu_test_util.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::OpCheck;
using Attrs = std::vector<std::pair<std::string, Attribute>>;

const DataType kFloatTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};
const DataType kAllFloatTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64};
const DataType kIntTypes[] = {DataType::kInt32, DataType::kInt64, DataType::kInt8, DataType::kUInt8};

Tensor int64s(const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}

std::string trace(const std::string& op, DataType t, const std::vector<int64_t>& shape, const std::string& more) {
  std::string s = op + " " + std::string(dtype_name(t)) + " [";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "] " + more;
}

// ---- Reduce* --------------------------------------------------------------------------------

struct ReduceCase {
  std::vector<int64_t> shape;
  std::vector<int64_t> axes;  // empty: the axes input is omitted
  int64_t keepdims = 1;
};

void check_reduce(const std::string& op, DataType t, const ReduceCase& rc, double lo, double hi,
                  int64_t noop = 0) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = op;
  c.inputs = {testing::random_tensor(t, rc.shape, rng, lo, hi)};
  if (!rc.axes.empty()) {
    c.inputs.push_back(int64s(rc.axes));
    c.constant_inputs = {1};
  }
  c.attrs = {{"keepdims", rc.keepdims}, {"noop_with_empty_axes", noop}};
  std::string axes = "axes";
  for (int64_t a : rc.axes) axes += " " + std::to_string(a);
  SCOPED_TRACE(trace(op, t, rc.shape, axes + " keepdims " + std::to_string(rc.keepdims)));
  testing::expect_cuda_matches_cpu(c);
}

// Rows, columns and strided layouts, negative axes, keepdims both ways, all axes.
const std::vector<ReduceCase> kReduceCases = {
    {{3, 5, 7}, {-1}, 1},        {{3, 5, 7}, {1}, 0},         {{3, 5, 7}, {0, 2}, 1},
    {{3, 5, 7}, {}, 0},          {{1, 257}, {1}, 1},          {{2, 3, 33, 65}, {2, 3}, 0},
    {{2, 3, 33, 65}, {1}, 1},    {{2, 3, 33, 65}, {0, -1}, 1}, {{2, 3, 33, 65}, {0, 2}, 0},
    {{4, 1, 9, 1}, {1, 2}, 1},   {{5, 3000}, {-1}, 0},        {{6000, 3}, {0}, 1},
    {{2, 700, 5}, {1}, 1},       {{3, 2, 1100}, {0, 2}, 0},
};

// A few layouts for the ops whose code paths ReduceSum and ReduceMax already cover fully.
const std::vector<ReduceCase> kReduceFewCases = {
    {{3, 5, 7}, {-1}, 1}, {{2, 3, 33, 65}, {2, 3}, 0}, {{6000, 3}, {0}, 1}, {{3, 2, 1100}, {0, 2}, 0}, {{3, 5, 7}, {}, 0},
};

TEST(CudaReduction, ReduceSumMax) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (const char* op : {"ReduceSum", "ReduceMax"}) {
    for (DataType t : kAllFloatTypes) {
      for (const ReduceCase& rc : kReduceCases) check_reduce(op, t, rc, -1.0, 1.0);
    }
  }
}

TEST(CudaReduction, ReduceOtherKinds) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (const char* op : {"ReduceMean", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"}) {
    for (DataType t : kAllFloatTypes) {
      for (const ReduceCase& rc : kReduceFewCases) check_reduce(op, t, rc, -2.0, 2.0);
    }
  }
  for (DataType t : kAllFloatTypes) {
    for (const ReduceCase& rc : kReduceFewCases) check_reduce("ReduceLogSum", t, rc, 0.1, 1.0);  // positive sums
  }
  // The row kernel's multi-warp path with LogSumExp's two passes.
  check_reduce("ReduceLogSumExp", DataType::kFloat16, {{5, 3000}, {-1}, 0}, -4.0, 4.0);
  check_reduce("ReduceLogSumExp", DataType::kFloat32, {{2, 700, 5}, {1}, 1}, -4.0, 4.0);
}

TEST(CudaReduction, ReduceProd) {
  SLIMRT_SKIP_WITHOUT_GPU();
  // Small groups near 1: products of thousands of values under- or overflow.
  const std::vector<ReduceCase> cases = {{{3, 5, 7}, {-1}, 1},
                                         {{3, 5, 7}, {0, 2}, 0},
                                         {{2, 3, 33, 65}, {1}, 1},
                                         {{2, 3, 33, 4}, {0, 2}, 1},
                                         {{40, 65}, {-1}, 0}};
  for (DataType t : kAllFloatTypes) {
    for (const ReduceCase& rc : cases) check_reduce("ReduceProd", t, rc, 0.8, 1.25);
  }
}

TEST(CudaReduction, ReduceIntegers) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceSumSquare",
                         "ReduceL2"}) {
    for (DataType t : kIntTypes) {
      const double lo = t == DataType::kUInt8 ? 0 : -100, hi = 100;  // int8 sums wrap
      // L2 goes through double; its result overflows 8-bit types (an undefined conversion).
      if (std::string(op) == "ReduceL2" && dtype_size(t) == 1) continue;
      const bool all = t == DataType::kInt32 || t == DataType::kInt8;
      for (const ReduceCase& rc : all ? kReduceFewCases : std::vector<ReduceCase>{kReduceCases[5]})
        check_reduce(op, t, rc, lo, hi);
    }
  }
  for (DataType t : kIntTypes) {
    const double lo = t == DataType::kUInt8 ? 0 : -3;
    for (const ReduceCase& rc : std::vector<ReduceCase>{{{3, 5, 7}, {-1}, 1}, {{2, 3, 33, 4}, {0, 2}, 0}})
      check_reduce("ReduceProd", t, rc, lo, 4);
  }
}

TEST(CudaReduction, ReduceEmptyAxesAndZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kFloatTypes) {
    // noop_with_empty_axes: the element-wise part alone.
    check_reduce("ReduceSum", t, {{3, 5, 7}, {}, 1}, -1, 1, 1);
    check_reduce("ReduceL2", t, {{3, 5, 7}, {}, 0}, -1, 1, 1);
    // An empty axes tensor reduces everything.
    OpCheck c;
    c.op_type = "ReduceSum";
    c.inputs = {testing::random_tensor(t, {4, 33}, rng), Tensor::from_vector<int64_t>(DataType::kInt64, {0}, {})};
    c.constant_inputs = {1};
    c.attrs = {{"keepdims", int64_t{0}}};
    testing::expect_cuda_matches_cpu(c);
    // Zero-size input and output; a reduced dim of 0 gives the identity.
    for (const char* op : {"ReduceSum", "ReduceL1", "ReduceSumSquare", "ReduceProd"}) {
      check_reduce(op, t, {{0, 5}, {1}, 1}, -1, 1);
      check_reduce(op, t, {{3, 0, 4}, {1}, 0}, -1, 1);
      check_reduce(op, t, {{3, 0, 4}, {0, 2}, 1}, -1, 1);
    }
  }
}

// ---- Softmax / LogSoftmax / Hardmax -----------------------------------------------------------

void check_axis_op(const std::string& op, DataType t, const std::vector<int64_t>& shape, const Attrs& attrs,
                   double lo = -3.0, double hi = 3.0) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = op;
  c.inputs = {testing::random_tensor(t, shape, rng, lo, hi)};
  c.attrs = attrs;
  std::string more;
  for (const auto& [k, v] : attrs) more += k + (std::holds_alternative<int64_t>(v) ? "=" + std::to_string(std::get<int64_t>(v)) : "") + " ";
  SCOPED_TRACE(trace(op, t, shape, more));
  testing::expect_cuda_matches_cpu(c);
}

struct AxisCase {
  std::vector<int64_t> shape;
  int64_t axis;
};

const std::vector<AxisCase> kSoftmaxCases = {
    {{3, 5, 7}, -1},      {{1, 257}, 1},        {{2, 3, 33, 65}, -1}, {{2, 3, 33, 65}, 1},   {{2, 3, 33, 65}, -2},
    {{2, 12, 9, 128}, -1}, {{8, 197}, -1},       {{5, 1024}, 1},       {{3, 64}, -1},         {{4, 2000}, -1},
    {{2, 16, 32}, -1},    {{6, 8}, 0},          {{1, 1}, 0},          {{0, 7}, -1},          {{3, 0, 5}, 1},
};

TEST(CudaReduction, Softmax) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (DataType t : kAllFloatTypes) {
      for (const AxisCase& ac : kSoftmaxCases) check_axis_op(op, t, ac.shape, {{"axis", ac.axis}});
    }
  }
}

TEST(CudaReduction, SoftmaxDefaultAxisAndHotShape) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kFloatTypes) {
    check_axis_op("Softmax", t, {2, 12, 33, 33}, {});  // default axis -1, odd length
    check_axis_op("Softmax", t, {1, 12, 197, 197}, {{"axis", int64_t{3}}});
    check_axis_op("LogSoftmax", t, {2, 4, 512}, {});
  }
}

TEST(CudaReduction, Hardmax) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kAllFloatTypes) {
    for (const AxisCase& ac : kSoftmaxCases) check_axis_op("Hardmax", t, ac.shape, {{"axis", ac.axis}});
  }
}

// ---- ArgMax / ArgMin ----------------------------------------------------------------------------

TEST(CudaReduction, ArgMaxArgMin) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const std::vector<AxisCase> cases = {{{3, 5, 7}, -1}, {{3, 5, 7}, 0},       {{1, 257}, 1},  {{2, 3, 33, 65}, -2},
                                       {{4, 3000}, 1},  {{2, 3, 33, 65}, 3},  {{7}, 0}};
  std::vector<DataType> types(std::begin(kAllFloatTypes), std::end(kAllFloatTypes));
  types.insert(types.end(), std::begin(kIntTypes), std::end(kIntTypes));
  for (const char* op : {"ArgMax", "ArgMin"}) {
    for (DataType t : types) {
      // A narrow integer range makes ties common, which checks select_last_index.
      const bool is_int = !dtype_is_float(t);
      for (const AxisCase& ac : cases) {
        for (int64_t last : {0, 1}) {
          const int64_t keep = 1 - last;
          check_axis_op(op, t, ac.shape, {{"axis", ac.axis}, {"keepdims", keep}, {"select_last_index", last}},
                        is_int ? 0 : -1, is_int ? 6 : 1);
        }
      }
    }
  }
}

// ---- CumSum -------------------------------------------------------------------------------------

void check_cumsum(DataType t, const std::vector<int64_t>& shape, int64_t axis, int64_t exclusive, int64_t reverse,
                  DataType axis_type = DataType::kInt64) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "CumSum";
  const bool is_int = !dtype_is_float(t);
  c.inputs = {testing::random_tensor(t, shape, rng, is_int ? (t == DataType::kUInt8 ? 0 : -50) : -1, is_int ? 50 : 1),
              axis_type == DataType::kInt64 ? Tensor::from_vector<int64_t>(axis_type, {}, {axis})
                                            : Tensor::from_vector<int32_t>(axis_type, {}, {static_cast<int32_t>(axis)})};
  c.constant_inputs = {1};
  c.attrs = {{"exclusive", exclusive}, {"reverse", reverse}};
  SCOPED_TRACE(trace("CumSum", t, shape,
                     "axis " + std::to_string(axis) + " exclusive " + std::to_string(exclusive) + " reverse " +
                         std::to_string(reverse)));
  testing::expect_cuda_matches_cpu(c);
}

TEST(CudaReduction, CumSum) {
  SLIMRT_SKIP_WITHOUT_GPU();
  const std::vector<AxisCase> cases = {{{3, 5, 7}, -1},     {{3, 5, 7}, 1},   {{1, 257}, 1}, {{2, 3, 33, 65}, 3},
                                       {{2, 3, 33, 65}, -3}, {{2, 5000}, -1}, {{9}, 0},      {{0, 4}, 1}};
  std::vector<DataType> types(std::begin(kAllFloatTypes), std::end(kAllFloatTypes));
  types.insert(types.end(), std::begin(kIntTypes), std::end(kIntTypes));
  for (DataType t : types) {
    for (const AxisCase& ac : cases) {
      // Every flag combination in fp32; the others alternate them.
      for (int64_t flags = 0; flags < 4; ++flags) {
        if (t != DataType::kFloat32 && flags % 3 != 0) continue;
        check_cumsum(t, ac.shape, ac.axis, flags & 1, flags >> 1);
      }
    }
  }
  check_cumsum(DataType::kFloat32, {4, 6}, -2, 0, 0, DataType::kInt32);
}

// ---- TopK -----------------------------------------------------------------------------------------

void check_topk(DataType t, const std::vector<int64_t>& shape, int64_t k, int64_t axis, int64_t largest,
                int64_t sorted = 1, double lo = -1, double hi = 1) {
  auto rng = testing::make_rng();
  OpCheck c;
  c.op_type = "TopK";
  c.inputs = {testing::random_tensor(t, shape, rng, lo, hi), int64s({k})};
  c.constant_inputs = {1};
  c.num_outputs = 2;
  c.attrs = {{"axis", axis}, {"largest", largest}, {"sorted", sorted}};
  SCOPED_TRACE(trace("TopK", t, shape,
                     "k " + std::to_string(k) + " axis " + std::to_string(axis) + " largest " + std::to_string(largest)));
  testing::expect_cuda_matches_cpu(c);  // indices too: ties order by lower index on both
}

TEST(CudaReduction, TopKFloat) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kAllFloatTypes) {
    for (int64_t largest : {0, 1}) {
      check_topk(t, {3, 5, 7}, 3, -1, largest);
      check_topk(t, {3, 5, 7}, 5, 1, largest);
      check_topk(t, {1, 257}, 257, -1, largest);
      check_topk(t, {2, 3, 33, 65}, 10, 2, largest, 0);
      check_topk(t, {4, 3000}, 50, -1, largest);
      check_topk(t, {2, 9000}, 7, 1, largest);  // 16384-wide sort: opt-in shared memory
      check_topk(t, {3, 5, 7}, 0, -1, largest);
      check_topk(t, {0, 5}, 2, -1, largest);
    }
  }
}

TEST(CudaReduction, TopKIntegersWithTies) {
  SLIMRT_SKIP_WITHOUT_GPU();
  for (DataType t : kIntTypes) {
    for (int64_t largest : {0, 1}) {
      check_topk(t, {3, 5, 7}, 4, -1, largest, 1, 0, 5);
      check_topk(t, {2, 3, 33, 65}, 20, -1, largest, 1, 0, 3);
      check_topk(t, {6, 40, 3}, 11, 1, largest, 1, 0, 4);
    }
  }
}

}  // namespace
}  // namespace slimrt
