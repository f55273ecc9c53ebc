// Printing looks like numpy's and elides large tensors.
#include "tests/test_util.h"

using namespace dsvd;

TEST_CASE("print: small tensors print every element, aligned") {
  CHECK(from_vector({1, -2.5, 3.25, 4}, {2, 2}, DType::Float32).str() ==
        "tensor([[ 1.0000, -2.5000],\n        [ 3.2500,  4.0000]], dtype=float32)");
  CHECK(arange(4).str() == "tensor([0, 1, 2, 3], dtype=int64)");
  CHECK(from_vector({1, 2}, {2}).str() == "tensor([1., 2.], dtype=float64)");
  CHECK(scalar_tensor(0.5).str() == "tensor(0.5000, dtype=float32)");
  CHECK(arange(0.0, 8.0, 1.0, DType::Int64).reshape({2, 2, 2}).str() ==
        "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]], dtype=int64)");
  CHECK(from_vector({1e-6, 1}, {2}).str() == "tensor([1.0000e-06, 1.0000e+00], dtype=float64)");
}

TEST_CASE("print: large tensors are elided with their shape") {
  std::string s = arange(0.0, 2000.0, 1.0, DType::Int64).reshape({40, 50}).str();
  CHECK(s.find("...") != std::string::npos);
  CHECK(s.find("shape=[40, 50]") != std::string::npos);
  CHECK(s.find("1999") != std::string::npos);  // the last element is shown
  CHECK(s.find("1000") == std::string::npos);  // a middle one is not
}
