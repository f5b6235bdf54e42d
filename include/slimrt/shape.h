// slimrt/shape.h: shapes whose dimensions may be symbolic.
//
//   Shape s = {Dim::symbol("batch"), Dim::symbol("seq"), Dim(768)};
//   Dim heads_dim = s[2] / Dim(12);           // 64
//   Dim tokens = s[0] * s[1];                 // batch*seq
//   (tokens / s[1]) == s[0]                   // true: symbols cancel exactly
//
// A Dim is a monomial: an integer coefficient times a product of named symbols with integer
// exponents (batch*seq, 12*seq, 768). Products and exact quotients stay exact, so the shape
// arithmetic of Reshape(-1), Flatten and attention head splits resolves symbolically. A sum of
// different monomials (past_seq + seq) becomes an opaque symbol named by its expression, so it
// still compares equal to the same sum computed elsewhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slimrt {

class Dim {
 public:
  Dim() : coeff_(0) {}
  Dim(int64_t value) : coeff_(value) {}  // NOLINT: implicit by design
  static Dim symbol(std::string name);

  bool is_static() const { return factors_.empty(); }
  // The value when static; nullopt when symbolic.
  std::optional<int64_t> value() const;
  int64_t coeff() const { return coeff_; }
  // Sorted by name; exponents are never zero.
  const std::vector<std::pair<std::string, int>>& factors() const { return factors_; }

  Dim operator*(const Dim& o) const;
  // Exact division. Returns nullopt when the quotient is not a monomial with an integer
  // coefficient (e.g. 7/2, or batch/seq where that leaves a negative exponent is allowed only
  // when the caller multiplies it back: callers should check).
  std::optional<Dim> divide(const Dim& o) const;
  Dim operator+(const Dim& o) const;
  Dim operator-(const Dim& o) const;

  bool operator==(const Dim& o) const { return coeff_ == o.coeff_ && factors_ == o.factors_; }
  bool operator!=(const Dim& o) const { return !(*this == o); }

  // "768", "batch", "12*seq", "batch*seq", "(past+seq)".
  std::string to_string() const;

 private:
  int64_t coeff_;
  std::vector<std::pair<std::string, int>> factors_;
};

using Shape = std::vector<Dim>;

std::string shape_to_string(const Shape& s);          // "[batch,seq,768]"
std::string shape_to_string(const std::vector<int64_t>& s);
bool shape_is_static(const Shape& s);
// The product of all dims (possibly symbolic). Empty shape (a scalar) gives 1.
Dim shape_numel(const Shape& s);
// Static dims as int64; nullopt if any dim is symbolic.
std::optional<std::vector<int64_t>> shape_to_static(const Shape& s);
Shape shape_from_static(const std::vector<int64_t>& dims);

// Replaces symbols by the values given in `bindings` (name -> value). Symbols that are not bound
// are kept.
Dim dim_substitute(const Dim& d, const std::vector<std::pair<std::string, int64_t>>& bindings);

}  // namespace slimrt
