// Tests of MatMul, Gemm and Einsum against reference loops written here.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::random_tensor;
using testing::rel_l2;
using testing::run_single_op;

// Reference numpy matmul: 1-D promotion and batch broadcasting, double sums.
Tensor ref_matmul(const Tensor& a, const Tensor& b) {
  std::vector<int64_t> as = a.shape(), bs = b.shape();
  const bool av = as.size() == 1, bv = bs.size() == 1;
  if (av) as.insert(as.begin(), 1);
  if (bv) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t r = std::max(as.size(), bs.size());
  while (as.size() < r) as.insert(as.begin(), 1);
  while (bs.size() < r) bs.insert(bs.begin(), 1);
  std::vector<int64_t> batch;
  for (size_t d = 0; d + 2 < r; ++d) batch.push_back(std::max(as[d], bs[d]));
  std::vector<int64_t> out = batch;
  if (!av) out.push_back(m);
  if (!bv) out.push_back(n);
  Tensor y = Tensor::allocate(a.dtype(), out).value();
  const int64_t nb = numel_of(batch);
  for (int64_t t = 0; t < nb; ++t) {
    // Batch multi-index -> offsets in a and b.
    int64_t rem = t, oa = 0, ob = 0, sa = m * k, sb = k * n;
    for (size_t d = batch.size(); d-- > 0;) {
      const int64_t i = rem % batch[d];
      rem /= batch[d];
      oa += (as[d] == 1 ? 0 : i) * sa;
      ob += (bs[d] == 1 ? 0 : i) * sb;
      sa *= as[d];
      sb *= bs[d];
    }
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += a.get_as_double(oa + i * k + p) * b.get_as_double(ob + p * n + j);
        const int64_t at = (t * m + i) * n + j;
        switch (a.dtype()) {
          case DataType::kFloat32: y.data<float>()[at] = static_cast<float>(s); break;
          case DataType::kFloat64: y.data<double>()[at] = s; break;
          case DataType::kInt32: y.data<int32_t>()[at] = static_cast<int32_t>(s); break;
          case DataType::kInt64: y.data<int64_t>()[at] = static_cast<int64_t>(s); break;
          default: ADD_FAILURE();
        }
      }
    }
  }
  return y;
}

TEST(MatMulTest, PromotionAndBroadcasting) {
  auto rng = testing::make_rng();
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{7, 33}, {33, 129}}, {{5}, {5, 3}}, {{4, 5}, {5}}, {{6}, {6}}, {{2, 3, 4, 5}, {5, 6}},
      {{5}, {2, 5, 3}}, {{2, 1, 4, 5}, {3, 5, 2}}, {{3, 4, 5}, {1, 5, 6}}, {{1, 4, 5}, {3, 5, 6}},
      {{2, 197, 64}, {64, 129}}, {{1, 1}, {1, 1}}, {{3, 0}, {0, 4}}};
  for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kInt32, DataType::kInt64}) {
    for (const auto& [sa, sb] : cases) {
      Tensor a = random_tensor(t, sa, rng, -3, 3), b = random_tensor(t, sb, rng, -3, 3);
      auto r = run_single_op("MatMul", {a, b}, {});
      ASSERT_TRUE(r.status.ok()) << r.status.to_string();
      Tensor want = ref_matmul(a, b);
      ASSERT_EQ(r.outputs[0].shape(), want.shape()) << shape_to_string(sa) << shape_to_string(sb);
      if (dtype_is_integer(t)) EXPECT_EQ(testing::max_abs_diff(r.outputs[0], want), 0.0);
      else EXPECT_LT(rel_l2(r.outputs[0], want), 1e-7) << shape_to_string(sa) << shape_to_string(sb);
    }
  }
}

TEST(MatMulTest, HalfInputsAreWidened) {
  auto rng = testing::make_rng();
  Tensor a = random_tensor(DataType::kFloat16, {3, 8}, rng), b = random_tensor(DataType::kFloat16, {8, 5}, rng);
  auto r = run_single_op("MatMul", {a, b}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat16);
  Tensor af = Tensor::allocate(DataType::kFloat64, a.shape()).value(), bf = Tensor::allocate(DataType::kFloat64, b.shape()).value();
  for (int64_t i = 0; i < a.numel(); ++i) af.data<double>()[i] = a.get_as_double(i);
  for (int64_t i = 0; i < b.numel(); ++i) bf.data<double>()[i] = b.get_as_double(i);
  EXPECT_LT(rel_l2(r.outputs[0], ref_matmul(af, bf)), 1e-3);
}

TEST(MatMulTest, SymbolicShapesAndMismatch) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), Dim(768)});
  Value* w = g.add_input("w", DataType::kFloat32, Shape{Dim(768), Dim(3072)});
  Node* mm = g.add_node("MatMul", "mm", {x, w}, 1);
  g.add_output(mm->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  EXPECT_EQ(shape_to_string(mm->output(0)->shape()), "[batch,seq,3072]");

  Graph bad;
  Value* p = bad.add_input("p", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim(768)});
  Value* q = bad.add_input("q", DataType::kFloat32, Shape{Dim(512), Dim(10)});
  bad.add_output(bad.add_node("MatMul", "mm", {p, q}, 1)->output(0));
  Status s = infer_shapes(bad);
  EXPECT_EQ(s.code(), StatusCode::kShapeError);
  EXPECT_NE(s.message().find("inner dimensions do not match: 768 vs 512"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'mm'"), std::string::npos) << s.message();
}

TEST(GemmOpTest, AttributesAndBiasBroadcast) {
  auto rng = testing::make_rng();
  const int64_t m = 7, n = 33, k = 129;
  const std::vector<std::vector<int64_t>> c_shapes = {{}, {m, n}, {n}, {1, n}, {m, 1}, {1}, {1, 1}};
  for (DataType t : {DataType::kFloat32, DataType::kInt64}) {
    for (int64_t ta : {0, 1}) {
      for (int64_t tb : {0, 1}) {
        for (size_t ci = 0; ci <= c_shapes.size(); ++ci) {  // ci == size(): no C at all
          Tensor a = random_tensor(t, ta ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k}, rng, -3, 3);
          Tensor b = random_tensor(t, tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n}, rng, -3, 3);
          const bool has_c = ci < c_shapes.size();
          Tensor c = has_c ? random_tensor(t, c_shapes[ci], rng, -3, 3) : Tensor();
          const float alpha = dtype_is_integer(t) ? 2.0f : 0.75f, beta = dtype_is_integer(t) ? 3.0f : -1.5f;
          std::vector<Tensor> ins = {a, b};
          if (has_c) ins.push_back(c);
          auto r = run_single_op("Gemm", ins, {{"transA", ta}, {"transB", tb}, {"alpha", alpha}, {"beta", beta}});
          ASSERT_TRUE(r.status.ok()) << r.status.to_string();
          Tensor want = Tensor::allocate(DataType::kFloat64, {m, n}).value();
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              double s = 0;
              for (int64_t p = 0; p < k; ++p)
                s += a.get_as_double(ta ? p * m + i : i * k + p) * b.get_as_double(tb ? j * k + p : p * n + j);
              double v = alpha * s;
              if (has_c) {
                const auto& cs = c_shapes[ci];
                const int64_t cr = cs.size() == 2 ? cs[0] : 1, cc = cs.empty() ? 1 : cs.back();
                v += beta * c.get_as_double((cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j));
              }
              want.data<double>()[i * n + j] = v;
            }
          }
          EXPECT_LT(rel_l2(r.outputs[0], want), 1e-7) << "ta=" << ta << " tb=" << tb << " c=" << ci;
        }
      }
    }
  }
}

TEST(GemmOpTest, BadBiasIsAnError) {
  Tensor a = Tensor::allocate(DataType::kFloat32, {2, 3}).value(), b = Tensor::allocate(DataType::kFloat32, {3, 4}).value();
  Tensor c = Tensor::allocate(DataType::kFloat32, {3}).value();
  auto r = run_single_op("Gemm", {a, b, c}, {});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("does not broadcast to [2,4]"), std::string::npos) << r.status.message();
  auto k = run_single_op("Gemm", {a, Tensor::allocate(DataType::kFloat32, {4, 4}).value()}, {});
  EXPECT_EQ(k.status.code(), StatusCode::kShapeError);
}

// Reference einsum: explicit output required; labels only (ellipsis tests build their own).
Tensor ref_einsum(const std::string& eq, const std::vector<Tensor>& ins) {
  const size_t arrow = eq.find("->");
  const std::string out = eq.substr(arrow + 2);
  std::vector<std::string> terms;
  std::string cur;
  for (char c : eq.substr(0, arrow)) {
    if (c == ',') {
      terms.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  terms.push_back(cur);
  std::map<char, int64_t> size;
  for (size_t i = 0; i < ins.size(); ++i) {
    for (size_t d = 0; d < terms[i].size(); ++d) size[terms[i][d]] = ins[i].dim(d);
  }
  std::vector<char> labels;
  for (const auto& [c, n] : size) labels.push_back(c);
  std::vector<int64_t> oshape;
  for (char c : out) oshape.push_back(size[c]);
  Tensor y = Tensor::allocate(DataType::kFloat64, oshape).value();
  for (int64_t i = 0; i < y.numel(); ++i) y.data<double>()[i] = 0;
  int64_t total = 1;
  for (char c : labels) total *= size[c];
  for (int64_t t = 0; t < total; ++t) {
    std::map<char, int64_t> val;
    int64_t rem = t;
    for (size_t l = labels.size(); l-- > 0;) {
      val[labels[l]] = rem % size[labels[l]];
      rem /= size[labels[l]];
    }
    double prod = 1;
    for (size_t i = 0; i < ins.size(); ++i) {
      int64_t flat = 0;
      for (size_t d = 0; d < terms[i].size(); ++d) flat = flat * ins[i].dim(d) + val[terms[i][d]];
      prod *= ins[i].get_as_double(flat);
    }
    int64_t o = 0;
    for (char c : out) o = o * size[c] + val[c];
    y.data<double>()[o] += prod;
  }
  return y;
}

TEST(EinsumTest, ExplicitEquations) {
  auto rng = testing::make_rng();
  struct Case {
    std::string eq;
    std::vector<std::vector<int64_t>> shapes;
  };
  const std::vector<Case> cases = {
      {"ij,jk->ik", {{7, 33}, {33, 5}}},
      {"bij,bjk->bik", {{3, 4, 5}, {3, 5, 6}}},
      {"bhqd,bhkd->bhqk", {{2, 3, 5, 8}, {2, 3, 7, 8}}},
      {"ij->ji", {{3, 4}}},
      {"ij->", {{3, 4}}},
      {"ii->i", {{4, 4}}},
      {"ii->", {{4, 4}}},
      {"i,i->", {{6}, {6}}},
      {"i,j->ij", {{3}, {4}}},
      {"bij,jk,bk->bi", {{2, 3, 4}, {4, 5}, {2, 5}}},
      {"abc,cd->dba", {{2, 3, 4}, {4, 5}}},
      {"ij,ik->", {{3, 4}, {3, 5}}},
      {"bii->bi", {{2, 3, 3}}},
      {"ij,jk->ki", {{3, 0}, {0, 2}}}};
  for (DataType t : {DataType::kFloat32, DataType::kInt64}) {
    for (const Case& c : cases) {
      std::vector<Tensor> ins;
      for (const auto& s : c.shapes) ins.push_back(random_tensor(t, s, rng, -3, 3));
      auto r = run_single_op("Einsum", ins, {{"equation", c.eq}});
      ASSERT_TRUE(r.status.ok()) << c.eq << ": " << r.status.to_string();
      EXPECT_LT(rel_l2(r.outputs[0], ref_einsum(c.eq, ins)), 1e-7) << c.eq << " " << dtype_name(t);
    }
  }
}

TEST(EinsumTest, ImplicitOutputAndEllipsis) {
  auto rng = testing::make_rng();
  Tensor a = random_tensor(DataType::kFloat32, {3, 4}, rng), b = random_tensor(DataType::kFloat32, {4, 5}, rng);
  // Implicit: labels appearing once, sorted: "ij,jk" -> "ik"; "ba" -> "ab" (a transpose).
  auto r = run_single_op("Einsum", {a, b}, {{"equation", std::string("ij,jk")}});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_LT(rel_l2(r.outputs[0], ref_einsum("ij,jk->ik", {a, b})), 1e-7);
  auto t = run_single_op("Einsum", {a}, {{"equation", std::string("ba")}});
  ASSERT_TRUE(t.status.ok());
  EXPECT_LT(rel_l2(t.outputs[0], ref_einsum("ba->ab", {a})), 1e-7);

  // Ellipsis with broadcasting: [2,1,3,4] x [5,4,6] -> [2,5,3,6].
  Tensor x = random_tensor(DataType::kFloat32, {2, 1, 3, 4}, rng), y = random_tensor(DataType::kFloat32, {5, 4, 6}, rng);
  for (const std::string eq : {"...ij,...jk->...ik", "...ij,...jk"}) {
    auto e = run_single_op("Einsum", {x, y}, {{"equation", eq}});
    ASSERT_TRUE(e.status.ok()) << e.status.to_string();
    Tensor xb = Tensor::allocate(DataType::kFloat32, {2, 5, 3, 4}).value();
    for (int64_t i = 0; i < xb.numel(); ++i) {
      const int64_t p = i / (5 * 12), rest = i % 12;
      xb.data<float>()[i] = x.data<float>()[p * 12 + rest];
    }
    Tensor yb = Tensor::allocate(DataType::kFloat32, {2, 5, 4, 6}).value();
    for (int64_t i = 0; i < yb.numel(); ++i) yb.data<float>()[i] = y.data<float>()[i % (5 * 24)];
    EXPECT_LT(rel_l2(e.outputs[0], ref_einsum("pqij,pqjk->pqik", {xb, yb})), 1e-7) << eq;
  }
  // Ellipsis summed away in explicit mode.
  auto s = run_single_op("Einsum", {x}, {{"equation", std::string("...ij->j")}});
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_LT(rel_l2(s.outputs[0], ref_einsum("pqij->j", {x})), 1e-7);
}

TEST(EinsumTest, ShapeErrors) {
  Tensor a = Tensor::allocate(DataType::kFloat32, {3, 4}).value(), b = Tensor::allocate(DataType::kFloat32, {5, 6}).value();
  auto r = run_single_op("Einsum", {a, b}, {{"equation", std::string("ij,jk->ik")}});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("sizes of label 'j' do not match: 4 vs 5"), std::string::npos) << r.status.message();
  auto p = run_single_op("Einsum", {a}, {{"equation", std::string("ij->k")}});
  EXPECT_EQ(p.status.code(), StatusCode::kShapeError);
  auto q = run_single_op("Einsum", {a}, {{"equation", std::string("ijk->i")}});
  EXPECT_EQ(q.status.code(), StatusCode::kShapeError);
}

}  // namespace
}  // namespace slimrt
