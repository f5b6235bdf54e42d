#include "slimrt/shape.h"

#include <algorithm>

namespace slimrt {

Dim Dim::symbol(std::string name) {
  Dim d(1);
  d.factors_.push_back({std::move(name), 1});
  return d;
}

std::optional<int64_t> Dim::value() const {
  if (!factors_.empty()) return std::nullopt;
  return coeff_;
}

namespace {
// Merges two sorted factor lists, adding exponents with sign `s` for the second.
std::vector<std::pair<std::string, int>> merge_factors(const std::vector<std::pair<std::string, int>>& a,
                                                       const std::vector<std::pair<std::string, int>>& b,
                                                       int s) {
  std::vector<std::pair<std::string, int>> out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].first < a[i].first) {
      out.push_back({b[j].first, s * b[j].second});
      ++j;
    } else {
      int e = a[i].second + s * b[j].second;
      if (e != 0) out.push_back({a[i].first, e});
      ++i;
      ++j;
    }
  }
  return out;
}
}  // namespace

Dim Dim::operator*(const Dim& o) const {
  Dim d(coeff_ * o.coeff_);
  if (d.coeff_ != 0) d.factors_ = merge_factors(factors_, o.factors_, 1);
  return d;
}

std::optional<Dim> Dim::divide(const Dim& o) const {
  if (o.coeff_ == 0) return std::nullopt;
  if (coeff_ % o.coeff_ != 0) return std::nullopt;
  Dim d(coeff_ / o.coeff_);
  if (d.coeff_ == 0) return d;
  d.factors_ = merge_factors(factors_, o.factors_, -1);
  for (const auto& f : d.factors_) {
    if (f.second < 0) return std::nullopt;
  }
  return d;
}

Dim Dim::operator+(const Dim& o) const {
  if (factors_ == o.factors_) {
    Dim d(coeff_ + o.coeff_);
    if (d.coeff_ != 0) d.factors_ = factors_;
    return d;
  }
  if (coeff_ == 0) return o;
  if (o.coeff_ == 0) return *this;
  std::string a = to_string(), b = o.to_string();
  if (b < a) std::swap(a, b);  // commutative: the same sum gets the same name
  return Dim::symbol("(" + a + "+" + b + ")");
}

Dim Dim::operator-(const Dim& o) const {
  if (factors_ == o.factors_) {
    Dim d(coeff_ - o.coeff_);
    if (d.coeff_ != 0) d.factors_ = factors_;
    return d;
  }
  if (o.coeff_ == 0) return *this;
  return Dim::symbol("(" + to_string() + "-" + o.to_string() + ")");
}

std::string Dim::to_string() const {
  if (factors_.empty()) return std::to_string(coeff_);
  std::string s;
  if (coeff_ != 1) s = std::to_string(coeff_);
  for (const auto& [name, e] : factors_) {
    for (int k = 0; k < e; ++k) {
      if (!s.empty()) s += "*";
      s += name;
    }
  }
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
  Dim out(d.coeff());
  for (const auto& [name, e] : d.factors()) {
    auto it = std::find_if(bindings.begin(), bindings.end(), [&](const auto& b) { return b.first == name; });
    for (int k = 0; k < e; ++k) out = out * (it != bindings.end() ? Dim(it->second) : Dim::symbol(name));
  }
  return out;
}

}  // namespace slimrt
