#include "slimrt/shape.h"

#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <map>

namespace slimrt {

Dim::Dim(int64_t value) : constant_(value) {}

Dim Dim::symbol(std::string name) {
  Dim d;
  d.terms_.push_back({1, {{std::move(name), 1}}});
  return d;
}

Dim Dim::from_terms(std::vector<Term> terms) {
  std::map<Factors, int64_t> sum;
  for (Term& t : terms) sum[std::move(t.factors)] += t.coeff;
  Dim d;
  for (auto& [factors, coeff] : sum) {
    if (coeff != 0) d.terms_.push_back({coeff, factors});
  }
  if (d.terms_.size() == 1 && d.terms_[0].factors.empty()) {
    d.constant_ = d.terms_[0].coeff;
    d.terms_.clear();
  }
  return d;
}

std::vector<Dim::Term> Dim::terms() const {
  if (!terms_.empty()) return terms_;
  if (constant_ == 0) return {};
  return {Term{constant_, {}}};
}

bool Dim::is_static() const { return terms_.empty(); }

std::optional<int64_t> Dim::value() const {
  if (terms_.empty()) return constant_;
  return std::nullopt;
}

std::optional<std::string> Dim::as_symbol() const {
  if (terms_.size() != 1 || terms_[0].coeff != 1 || terms_[0].factors.size() != 1 ||
      terms_[0].factors[0].second != 1)
    return std::nullopt;
  return terms_[0].factors[0].first;
}

std::vector<std::string> Dim::symbols() const {
  std::vector<std::string> out;
  for (const Term& t : terms_) {
    for (const auto& f : t.factors) out.push_back(f.first);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

constexpr int64_t kMinDim = std::numeric_limits<int64_t>::min();

// Product (s = +1) or quotient (s = -1) of two factor lists; exponents that reach 0 drop out.
Dim::Factors merge_factors(const Dim::Factors& a, const Dim::Factors& b, int s) {
  Dim::Factors out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].first < a[i].first) {
      out.push_back({b[j].first, s * b[j].second});
      ++j;
    } else {
      const int e = a[i].second + s * b[j].second;
      if (e != 0) out.push_back({a[i].first, e});
      ++i;
      ++j;
    }
  }
  return out;
}

std::string term_to_string(const Dim::Term& t, bool with_sign) {
  std::string s;
  int64_t c = t.coeff;
  if (with_sign) {
    s = c < 0 ? "-" : "+";
    c = c < 0 ? -c : c;
  }
  std::string body;
  if (t.factors.empty() || c != 1) body = (c == -1 && !t.factors.empty()) ? "-" : std::to_string(c);
  for (const auto& [name, e] : t.factors) {
    for (int k = 0; k < e; ++k) {
      if (!body.empty() && body != "-") body += "*";
      body += name;
    }
  }
  return s + body;
}

}  // namespace

Dim Dim::operator*(const Dim& o) const {
  if (terms_.empty() && o.terms_.empty()) return Dim(constant_ * o.constant_);
  std::vector<Term> out;
  const std::vector<Term> a = terms(), b = o.terms();
  for (const Term& x : a) {
    for (const Term& y : b) out.push_back({x.coeff * y.coeff, merge_factors(x.factors, y.factors, 1)});
  }
  return from_terms(std::move(out));
}

Dim Dim::operator+(const Dim& o) const {
  if (terms_.empty() && o.terms_.empty()) return Dim(constant_ + o.constant_);
  std::vector<Term> out = terms();
  for (Term& t : o.terms()) out.push_back(std::move(t));
  return from_terms(std::move(out));
}

Dim Dim::operator-(const Dim& o) const {
  if (terms_.empty() && o.terms_.empty()) return Dim(constant_ - o.constant_);
  std::vector<Term> out = terms();
  for (Term& t : o.terms()) out.push_back({-t.coeff, std::move(t.factors)});
  return from_terms(std::move(out));
}

std::optional<Dim> Dim::divide(const Dim& o) const {
  if (o.terms_.empty()) {
    if (o.constant_ == 0) return std::nullopt;
    if (terms_.empty()) {
      if (constant_ == kMinDim && o.constant_ == -1) return std::nullopt;  // the quotient overflows
      if (constant_ % o.constant_ != 0) return std::nullopt;
      return Dim(constant_ / o.constant_);
    }
  }
  const std::vector<Term> num = terms(), den = o.terms();
  if (num.empty()) return Dim(0);
  if (den.size() == 1) {
    const Term& div = den[0];
    std::vector<Term> q;
    for (const Term& t : num) {
      if (t.coeff == kMinDim && div.coeff == -1) return std::nullopt;  // the quotient overflows
      if (t.coeff % div.coeff != 0) return std::nullopt;
      Factors f = merge_factors(t.factors, div.factors, -1);
      for (const auto& p : f) {
        if (p.second < 0) return std::nullopt;
      }
      q.push_back({t.coeff / div.coeff, std::move(f)});
    }
    return from_terms(std::move(q));
  }
  // A polynomial divisor: try the quotient of the leading terms and check by multiplying back.
  std::optional<Dim> q = from_terms({num.front()}).divide(from_terms({den.front()}));
  if (q && *q * o == *this) return q;
  return std::nullopt;
}

std::string Dim::to_string() const {
  if (terms_.empty()) return std::to_string(constant_);
  // Symbolic terms first (sorted), the constant last: "past+seq", "seq-2".
  std::vector<const Term*> order;
  for (const Term& t : terms_) {
    if (!t.factors.empty()) order.push_back(&t);
  }
  for (const Term& t : terms_) {
    if (t.factors.empty()) order.push_back(&t);
  }
  std::string s;
  for (size_t i = 0; i < order.size(); ++i) s += term_to_string(*order[i], i > 0);
  return s;
}

std::string shape_to_string(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += s[i].to_string();
  }
  return out + "]";
}

std::string shape_to_string(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

bool shape_is_static(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](const Dim& d) { return d.is_static(); });
}

Dim shape_numel(const Shape& s) {
  Dim n(1);
  for (const Dim& d : s) n = n * d;
  return n;
}

std::optional<std::vector<int64_t>> shape_to_static(const Shape& s) {
  std::vector<int64_t> out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    auto v = d.value();
    if (!v) return std::nullopt;
    out.push_back(*v);
  }
  return out;
}

Shape shape_from_static(const std::vector<int64_t>& dims) { return Shape(dims.begin(), dims.end()); }

Dim dim_substitute(const Dim& d, const std::vector<std::pair<std::string, int64_t>>& bindings) {
  Dim out;
  for (const Dim::Term& t : d.terms()) {
    Dim term(t.coeff);
    for (const auto& factor : t.factors) {
      const std::string& name = factor.first;
      auto it = std::find_if(bindings.begin(), bindings.end(), [&](const auto& b) { return b.first == name; });
      for (int k = 0; k < factor.second; ++k) term = term * (it != bindings.end() ? Dim(it->second) : Dim::symbol(name));
    }
    out = out + term;
  }
  return out;
}

Result<std::vector<int64_t>> parse_dims_text(std::string_view text) {
  std::vector<int64_t> dims;
  if (text.empty()) return dims;  // a scalar
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  auto bad = [&](const std::string& why) {
    return invalid_argument(fmt::format("'{}' is not a shape like 1x3x224x224: {}", text, why));
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t x = std::min(text.find('x', pos), text.size());
    const std::string_view part = text.substr(pos, x - pos);
    const size_t i = dims.size();
    if (part.empty()) return bad(fmt::format("dim {} is empty", i));
    if (part.find_first_not_of("0123456789") != std::string_view::npos)
      return bad(fmt::format("dim {} '{}' is not a non-negative decimal integer", i, part));
    int64_t d = 0;
    for (char c : part) {
      if (__builtin_mul_overflow(d, 10, &d) || __builtin_add_overflow(d, c - '0', &d)) {
        return invalid_argument(fmt::format("shape '{}': dim {} ({}) is out of range: a dim is at most {} (2^63-1)",
                                            text, i, part, kMax));
      }
    }
    dims.push_back(d);
    pos = x + 1;
  }
  if (std::find(dims.begin(), dims.end(), 0) == dims.end()) {
    int64_t n = 1;
    for (int64_t d : dims) {
      if (__builtin_mul_overflow(n, d, &n)) {
        return invalid_argument(fmt::format(
            "shape '{}': the product of its dims overflows int64: a tensor has at most {} (2^63-1) elements", text,
            kMax));
      }
    }
  }
  return dims;
}

}  // namespace slimrt
