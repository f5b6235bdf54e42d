// The .npy header grammar (src/core/npy_header.h): Python's dict literal, strictly.
#include <gtest/gtest.h>

#include "core/npy_header.h"

namespace slimrt {
namespace {

std::vector<int64_t> shape_of(const std::string& shape_text) {
  auto h = npy::parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }");
  EXPECT_TRUE(h.ok()) << shape_text << ": " << h.status().to_string();
  return h.ok() ? h->shape : std::vector<int64_t>{-42};
}

std::string error_of(const std::string& header) {
  auto h = npy::parse_header(header);
  EXPECT_FALSE(h.ok()) << header;
  return h.ok() ? std::string() : h.status().message();
}

TEST(NpyHeader, TuplesFollowPythonsCommaRules) {
  EXPECT_EQ(shape_of("()"), (std::vector<int64_t>{}));
  EXPECT_EQ(shape_of("(5,)"), (std::vector<int64_t>{5}));
  EXPECT_EQ(shape_of("(2, 3)"), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(shape_of("(2, 3,)"), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(shape_of("((2, 3))"), (std::vector<int64_t>{2, 3}));  // parentheses around a tuple
  EXPECT_EQ(shape_of("( 0 ,\n 9223372036854775807 )"), (std::vector<int64_t>{0, INT64_MAX}));
  const std::string base = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
  EXPECT_NE(error_of(base + "(5)}").find("'shape' is the integer 5, not a tuple (one dim is written (5,))"), std::string::npos);
  EXPECT_NE(error_of(base + "(,)}").find("unexpected character"), std::string::npos);
  EXPECT_NE(error_of(base + "(1,,2)}").find("unexpected character"), std::string::npos);
  EXPECT_NE(error_of(base + "(1, (2, 3))}").find("dim 1 is a tuple"), std::string::npos);
  EXPECT_NE(error_of(base + "(True, 2)}").find("dim 0 is a bool"), std::string::npos);
  EXPECT_NE(error_of(base + "(9223372036854775808,)}").find("out of range"), std::string::npos);
  EXPECT_NE(error_of(base + "(1e3,)}").find("'1e3' is not a decimal integer"), std::string::npos);
  EXPECT_NE(error_of(base + "(" + std::string(40, '(') + "1,)" + std::string(40, ')') + "}").find("nested too deeply"),
            std::string::npos);
}

TEST(NpyHeader, DictIsExact) {
  EXPECT_TRUE(npy::parse_header("{'descr':'|u1','fortran_order':True,'shape':(3,)}").ok());
  EXPECT_TRUE(npy::parse_header("  {\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}  \n").ok());
  EXPECT_NE(error_of("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} x").find("after the dict"), std::string::npos);
  EXPECT_NE(error_of("{'descr': '<\\x66', 'fortran_order': False, 'shape': (3,)}").find("escape"), std::string::npos);
  EXPECT_NE(error_of("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)").find("at the end of the header"), std::string::npos);
  EXPECT_NE(error_of("{'descr' '<f4'}").find("expected ':' after the key 'descr'"), std::string::npos);
  EXPECT_NE(error_of("{descr: '<f4'}").find("expected a key in quotes"), std::string::npos);
  EXPECT_NE(error_of("").find("expected '{'"), std::string::npos);
  auto structured = npy::parse_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}");
  EXPECT_EQ(structured.status().code(), StatusCode::kUnsupported);
}

TEST(NpyHeader, Descrs) {
  EXPECT_EQ(npy::dtype_of_descr("<f4").value(), DataType::kFloat32);
  EXPECT_EQ(npy::dtype_of_descr("=i8").value(), DataType::kInt64);
  EXPECT_EQ(npy::dtype_of_descr("|u1").value(), DataType::kUInt8);
  EXPECT_EQ(npy::dtype_of_descr("<b1").value(), DataType::kBool);
  EXPECT_EQ(npy::dtype_of_descr(">f4").status().code(), StatusCode::kUnsupported);
  EXPECT_NE(npy::dtype_of_descr(">f4").status().message().find("big-endian"), std::string::npos);
  EXPECT_FALSE(npy::dtype_of_descr("|f4").ok());
  EXPECT_FALSE(npy::dtype_of_descr("<c8").ok());
  EXPECT_FALSE(npy::dtype_of_descr("").ok());
  EXPECT_EQ(npy::printable_header("{'a\x01': 1}   \n"), "{'a\\x01': 1}");
}

}  // namespace
}  // namespace slimrt
