#include "core/npy_header.h"

#include <fmt/core.h>

#include <limits>
#include <optional>
#include <utility>

namespace slimrt::npy {

namespace {

// A value of the Python literal subset a header may hold.
struct Literal {
  enum class Kind { kString, kBool, kNone, kInt, kTuple, kList };
  Kind kind = Kind::kNone;
  std::string text;            // kString: the contents; kInt: the digits, '-' first when negative
  bool flag = false;           // kBool
  std::vector<Literal> items;  // kTuple, kList
};

std::string_view kind_name(Literal::Kind k) {
  switch (k) {
    case Literal::Kind::kString: return "a string";
    case Literal::Kind::kBool: return "a bool";
    case Literal::Kind::kNone: return "None";
    case Literal::Kind::kInt: return "an integer";
    case Literal::Kind::kTuple: return "a tuple";
    case Literal::Kind::kList: return "a list";
  }
  return "a value";
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<std::vector<std::pair<std::string, Literal>>> dict() {
    std::vector<std::pair<std::string, Literal>> entries;
    skip_space();
    if (!eat('{')) return error("expected '{' (a .npy header is a Python dict literal)");
    skip_space();
    while (!eat('}')) {
      if (at_end()) return error("the dict is not closed with '}'");
      if (peek() != '\'' && peek() != '"') return error("expected a key in quotes");
      SLIMRT_ASSIGN_OR_RETURN(Literal key, value(0));
      skip_space();
      if (!eat(':')) return error(fmt::format("expected ':' after the key '{}'", printable(key.text)));
      SLIMRT_ASSIGN_OR_RETURN(Literal v, value(0));
      entries.emplace_back(std::move(key.text), std::move(v));
      skip_space();
      if (eat(',')) {
        skip_space();
      } else if (peek() != '}') {
        return error("expected ',' or '}' after a dict entry");
      }
    }
    skip_space();
    if (!at_end()) return error("unexpected text after the dict");
    return entries;
  }

 private:
  static constexpr int kMaxDepth = 16;

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  bool eat(char c) {
    if (peek() != c || at_end()) return false;
    ++pos_;
    return true;
  }
  void skip_space() {
    while (!at_end() && is_space(s_[pos_])) ++pos_;
  }
  Status error(const std::string& what) const {
    if (at_end()) return invalid_argument(what + " at the end of the header");
    return invalid_argument(fmt::format("{} at character {} ('{}')", what, pos_, printable(s_.substr(pos_, 1))));
  }

  Result<Literal> value(int depth) {
    skip_space();
    if (depth > kMaxDepth) return error("values nested too deeply");
    const char c = peek();
    if (at_end()) return error("expected a value");
    if (c == '\'' || c == '"') return string();
    if (c == '(' || c == '[') return sequence(depth);
    if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return integer();
    if (is_name_char(c)) return name();
    return error("unexpected character");
  }

  Result<Literal> string() {
    const char quote = s_[pos_++];
    Literal lit;
    lit.kind = Literal::Kind::kString;
    while (true) {
      if (at_end() || peek() == '\n') return error("the string is not closed");
      const char c = s_[pos_];
      if (c == '\\') return error("escape sequences in strings are not supported");
      ++pos_;
      if (c == quote) break;
      lit.text += c;
    }
    return lit;
  }

  Result<Literal> integer() {
    const size_t start = pos_;
    Literal lit;
    lit.kind = Literal::Kind::kInt;
    if (peek() == '-' || peek() == '+') {
      if (s_[pos_] == '-') lit.text = "-";
      ++pos_;
    }
    size_t end = pos_;
    while (end < s_.size() && (is_name_char(s_[end]) || s_[end] == '.')) ++end;
    const std::string_view token = s_.substr(pos_, end - pos_);
    if (token.empty() || token.find_first_not_of("0123456789") != std::string_view::npos) {
      pos_ = start;
      return error(fmt::format("'{}' is not a decimal integer", printable(s_.substr(start, end - start))));
    }
    if (token.size() > 1 && token[0] == '0') {
      pos_ = start;
      return error(fmt::format("the integer '{}' has a leading zero", token));
    }
    lit.text += token;
    pos_ = end;
    return lit;
  }

  Result<Literal> name() {
    const size_t start = pos_;
    while (!at_end() && is_name_char(s_[pos_])) ++pos_;
    const std::string_view n = s_.substr(start, pos_ - start);
    Literal lit;
    if (n == "True" || n == "False") {
      lit.kind = Literal::Kind::kBool;
      lit.flag = n == "True";
      return lit;
    }
    if (n == "None") return lit;
    pos_ = start;
    return error(fmt::format("'{}' is not a literal (True, False, None, a number, a string or a tuple)", n));
  }

  // A tuple or list. `(x)` without a comma is x itself, as in Python; `(x,)` is a one-element tuple.
  Result<Literal> sequence(int depth) {
    const char open = s_[pos_++];
    const char close = open == '(' ? ')' : ']';
    Literal lit;
    lit.kind = open == '(' ? Literal::Kind::kTuple : Literal::Kind::kList;
    bool comma = false;
    skip_space();
    while (!eat(close)) {
      SLIMRT_ASSIGN_OR_RETURN(Literal item, value(depth + 1));
      lit.items.push_back(std::move(item));
      skip_space();
      if (eat(',')) {
        comma = true;
        skip_space();
      } else if (peek() != close) {
        return error(fmt::format("expected ',' or '{}'", close));
      }
    }
    if (open == '(' && lit.items.size() == 1 && !comma) return std::move(lit.items.front());
    return lit;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// A dim of 'shape': a non-negative integer that fits in int64.
Result<int64_t> dim_value(const Literal& lit, size_t index) {
  if (lit.kind != Literal::Kind::kInt)
    return invalid_argument(fmt::format("'shape' dim {} is {}, not an integer", index, kind_name(lit.kind)));
  if (lit.text[0] == '-') {
    if (lit.text == "-0") return 0;
    return invalid_argument(fmt::format("'shape' dim {} is negative ({})", index, lit.text));
  }
  int64_t v = 0;
  for (char c : lit.text) {
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) {
      return invalid_argument(fmt::format("'shape' dim {} ({}) is out of range: a dim is at most {} (2^63-1)", index,
                                          lit.text, std::numeric_limits<int64_t>::max()));
    }
  }
  return v;
}

}  // namespace

Result<Header> parse_header(std::string_view text) {
  SLIMRT_ASSIGN_OR_RETURN(auto entries, Parser(text).dict());
  std::optional<Literal> descr, fortran, shape;
  for (auto& [key, value] : entries) {
    std::optional<Literal>* slot = key == "descr" ? &descr : key == "fortran_order" ? &fortran : key == "shape" ? &shape : nullptr;
    if (slot == nullptr) {
      return invalid_argument(fmt::format("unexpected key '{}' (a .npy header has exactly 'descr', 'fortran_order' "
                                          "and 'shape')",
                                          printable(key)));
    }
    if (slot->has_value()) return invalid_argument(fmt::format("the key '{}' appears twice", key));
    *slot = std::move(value);
  }
  for (const auto& [key, slot] : {std::pair{"descr", &descr}, {"fortran_order", &fortran}, {"shape", &shape}}) {
    if (!slot->has_value()) return invalid_argument(fmt::format("the key '{}' is missing", key));
  }
  Header h;
  if (descr->kind == Literal::Kind::kList)
    return unsupported("'descr' is a list: structured dtypes are not supported");
  if (descr->kind != Literal::Kind::kString)
    return invalid_argument(fmt::format("'descr' is {}, not a string", kind_name(descr->kind)));
  h.descr = descr->text;
  if (fortran->kind != Literal::Kind::kBool)
    return invalid_argument(fmt::format("'fortran_order' is {}, not True or False", kind_name(fortran->kind)));
  h.fortran_order = fortran->flag;
  if (shape->kind == Literal::Kind::kInt) {
    return invalid_argument(fmt::format("'shape' is the integer {}, not a tuple (one dim is written ({},))",
                                        shape->text, shape->text));
  }
  if (shape->kind != Literal::Kind::kTuple)
    return invalid_argument(fmt::format("'shape' is {}, not a tuple of integers", kind_name(shape->kind)));
  for (size_t i = 0; i < shape->items.size(); ++i) {
    SLIMRT_ASSIGN_OR_RETURN(int64_t d, dim_value(shape->items[i], i));
    h.shape.push_back(d);
  }
  return h;
}

Result<DataType> dtype_of_descr(const std::string& descr) {
  struct Entry {
    const char* code;
    DataType dtype;
  };
  static constexpr Entry kCodes[] = {
      {"f4", DataType::kFloat32}, {"f2", DataType::kFloat16}, {"f8", DataType::kFloat64},
      {"i1", DataType::kInt8},    {"u1", DataType::kUInt8},   {"i4", DataType::kInt32},
      {"i8", DataType::kInt64},   {"b1", DataType::kBool},
  };
  const std::string supported = "float32/16/64, int8/32/64, uint8, bool";
  if (descr.size() >= 2 && std::string_view("<>|=").find(descr[0]) != std::string_view::npos) {
    const std::string code = descr.substr(1);
    for (const Entry& e : kCodes) {
      if (code != e.code) continue;
      const bool one_byte = dtype_size(e.dtype) == 1;
      if (one_byte || descr[0] == '<' || descr[0] == '=') return e.dtype;
      if (descr[0] == '>')
        return unsupported(fmt::format(".npy dtype '{}' is big-endian; slimrt reads little-endian data", descr));
      return invalid_argument(fmt::format(".npy dtype '{}': '|' (no byte order) is only for one-byte types", descr));
    }
  }
  return unsupported(fmt::format(".npy dtype '{}' is not supported ({})", printable(descr), supported));
}

std::string printable_header(std::string_view text) {
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  constexpr size_t kMax = 200;
  if (text.size() > kMax) return printable(text.substr(0, kMax)) + "...";
  return printable(text);
}

}  // namespace slimrt::npy
