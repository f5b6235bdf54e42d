// slimrt/shape.h: shapes whose dimensions may be symbolic.
//
//   Shape s = {Dim::symbol("batch"), Dim::symbol("seq"), Dim(768)};
//   Dim heads_dim = s[2] / Dim(12);           // 64
//   Dim tokens = s[0] * s[1];                 // batch*seq
//   (tokens / s[1]) == s[0]                   // true: symbols cancel exactly
//
// A Dim is a polynomial over named symbols with integer coefficients: a sum of terms, each an
// integer times a product of symbols (batch*seq, 12*seq, past+seq, seq-2, 768). Sums, differences
// and products stay exact, and a quotient is exact when the divisor divides every term, so the
// shape arithmetic of Reshape(-1), Flatten, attention head splits and KV caches
// ((past+seq)-past == seq) resolves symbolically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "slimrt/status.h"

namespace slimrt {

class Dim {
 public:
  using Factors = std::vector<std::pair<std::string, int>>;  // sorted by name, exponents > 0
  struct Term {
    int64_t coeff;
    Factors factors;
    bool operator==(const Term& o) const { return coeff == o.coeff && factors == o.factors; }
  };

  Dim() = default;                                   // 0
  Dim(int64_t value);                                // NOLINT: implicit by design
  static Dim symbol(std::string name);

  bool is_static() const;
  // The value when static; nullopt when symbolic.
  std::optional<int64_t> value() const;
  // The name when this Dim is exactly one symbol ("batch"), else nullopt.
  std::optional<std::string> as_symbol() const;
  // Every symbol that appears, sorted, without repeats.
  std::vector<std::string> symbols() const;
  // Terms sorted by their factors, none with coefficient 0; empty for the value 0.
  std::vector<Term> terms() const;

  Dim operator*(const Dim& o) const;
  Dim operator+(const Dim& o) const;
  Dim operator-(const Dim& o) const;
  // Exact division: nullopt unless the quotient is a polynomial with integer coefficients that
  // slimrt can find (a divisor of one term dividing every term, or a multiple of the divisor).
  std::optional<Dim> divide(const Dim& o) const;

  bool operator==(const Dim& o) const { return constant_ == o.constant_ && terms_ == o.terms_; }
  bool operator!=(const Dim& o) const { return !(*this == o); }

  // "768", "batch", "12*seq", "batch*seq", "past+seq", "seq-2".
  std::string to_string() const;

 private:
  // Sums equal factors, drops zero terms and keeps a polynomial without symbols as constant_.
  static Dim from_terms(std::vector<Term> terms);
  // Most dims are static: they are a number, with no allocation to copy or compare them.
  int64_t constant_ = 0;      // the value when static; 0 when symbolic
  std::vector<Term> terms_;   // every term (constant included) when symbolic; empty when static
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

// Parses dims written as on the command line, "1x3x224x224" (an empty text is a scalar). Each dim
// is a decimal integer from 0 to 2^63-1 and their product must fit in int64; the kInvalidArgument
// error quotes the text and says which dim is wrong and why.
Result<std::vector<int64_t>> parse_dims_text(std::string_view text);

// Replaces symbols by the values given in `bindings` (name -> value). Symbols that are not bound
// are kept.
Dim dim_substitute(const Dim& d, const std::vector<std::pair<std::string, int64_t>>& bindings);

}  // namespace slimrt
