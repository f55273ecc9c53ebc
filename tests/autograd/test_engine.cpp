// The backward engine: scalar and explicit-gradient roots, accumulation, shared subgraphs,
// retain_graph, grad mode, detach, and its error messages.
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "tests/test_util.h"

using namespace dsvd;

TEST_CASE("engine: d/dx of sum(x*x + 3x) is 2x + 3") {
  Tensor x = from_vector({1, -2, 0.5}, {3}).requires_grad_();
  Tensor y = sum(add(mul(x, x), mul(x, 3.0)));
  CHECK(y.requires_grad());
  CHECK(!y.is_leaf());
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->name() == "sum");
  y.backward();
  CHECK_CLOSE(x.grad(), std::vector<double>{5, -1, 4});
}

TEST_CASE("engine: an explicit gradient for a non-scalar root; a diamond graph sums both paths") {
  Tensor x = from_vector({1, 2}, {2}).requires_grad_();
  Tensor a = exp(x);
  Tensor y = add(mul(a, x), a);  // a used twice: y = e^x (x + 1), dy/dx = e^x (x + 2)
  y.backward(from_vector({1, 10}, {2}));
  CHECK_CLOSE(x.grad(), std::vector<double>{std::exp(1.0) * 3, 10 * std::exp(2.0) * 4}, 1e-12, 1e-14);
}

TEST_CASE("engine: gradients accumulate over backward calls until zero_grad") {
  Tensor w = from_vector({2}, {1}).requires_grad_();
  sum(mul(w, 5.0)).backward();
  sum(mul(w, 5.0)).backward();
  CHECK_CLOSE(w.grad(), std::vector<double>{10});
  w.zero_grad();
  CHECK(!w.grad().defined());
  sum(mul(w, w)).backward();
  CHECK_CLOSE(w.grad(), std::vector<double>{4});
}

TEST_CASE("engine: a freed graph cannot be run twice; retain_graph keeps it") {
  Tensor x = from_vector({3}, {1}).requires_grad_();
  Tensor y = sum(mul(x, x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  CHECK_CLOSE(x.grad(), std::vector<double>{12});
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("already freed"), Error);
}

TEST_CASE("engine: errors for roots that cannot be differentiated") {
  Tensor x = from_vector({1, 2}, {2});
  CHECK_THROWS_WITH_AS(sum(x).backward(), doctest::Contains("does not require grad"), Error);
  Tensor w = from_vector({1, 2}, {2}).requires_grad_();
  CHECK_THROWS_WITH_AS(mul(w, 2.0).backward(), doctest::Contains("only for a one-element tensor"), Error);
  CHECK_THROWS_WITH_AS(mul(w, 2.0).backward(zeros({3}, DType::Float64)), doctest::Contains("gradient of shape [3]"), Error);
}

TEST_CASE("engine: NoGradGuard and detach stop recording") {
  Tensor w = from_vector({1, 2}, {2}).requires_grad_();
  {
    NoGradGuard guard;
    Tensor y = mul(w, 2.0);
    CHECK(!y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK(grad_mode_enabled());
  Tensor d = mul(w, 2.0).detach();
  CHECK(!d.requires_grad());
  // Gradient flows only through the non-detached path: y = w * detach(w) -> dy/dw = w.
  sum(mul(w, w.detach())).backward();
  CHECK_CLOSE(w.grad(), std::vector<double>{1, 2});
}

TEST_CASE("engine: broadcast inputs get their gradient summed back to their own shape") {
  Tensor a = ones({2, 3}, DType::Float64).requires_grad_();
  Tensor b = from_vector({1, 2, 3}, {3}).requires_grad_();
  Tensor c = from_vector({5}, {}).requires_grad_();
  sum(mul(mul(a, b), c)).backward();
  CHECK(b.grad().sizes() == Shape{3});
  CHECK_CLOSE(b.grad(), std::vector<double>{10, 10, 10});
  CHECK(c.grad().dim() == 0);
  CHECK_CLOSE(c.grad(), std::vector<double>{12});
  CHECK_CLOSE(a.grad(), std::vector<double>{5, 10, 15, 5, 10, 15});
}

TEST_CASE("engine: a float32 leaf used in float64 arithmetic receives a float32 gradient") {
  Tensor w = from_vector({1.5, -1}, {2}, DType::Float32).requires_grad_();
  Tensor x = from_vector({2, 4}, {2}, DType::Float64);
  Tensor y = sum(mul(w, x));
  CHECK(y.dtype() == DType::Float64);
  y.backward();
  CHECK(w.grad().dtype() == DType::Float32);
  CHECK_CLOSE(w.grad(), std::vector<double>{2, 4});
}

TEST_CASE("engine: a long chain frees its graph and does not recurse") {
  Tensor x = from_vector({1}, {1}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = mul(y, 1.0);
  sum(y).backward();
  CHECK_CLOSE(x.grad(), std::vector<double>{1});
}

TEST_CASE("engine: a leaf's gradient never aliases a tensor someone else holds") {
  Tensor x = randn({5}, DType::Float64).requires_grad_();
  Tensor up = randn({5}, DType::Float64);
  const std::vector<double> expected = to_vector(up);
  x.clone().backward(up);  // clone's backward hands `up` itself on to the leaf
  CHECK(!x.grad().shares_storage_with(up));
  up.data<double>()[0] += 1.0;  // the caller's tensor changes; the gradient must not
  CHECK(to_vector(x.grad()) == expected);
  // A fresh gradient nobody else holds is adopted, and later gradients accumulate out of place.
  Tensor w = randn({4}, DType::Float64).requires_grad_();
  sum(mul(w, 3.0)).backward();
  Tensor first = w.grad();
  sum(mul(w, 2.0)).backward();
  CHECK(to_vector(first) == std::vector<double>(4, 3.0));
  CHECK(to_vector(w.grad()) == std::vector<double>(4, 5.0));
}

TEST_CASE("engine: a backward may free a saved tensor early on its last use, and keeps it when the graph is retained") {
  // y = 3x saves a large tensor `big`; its backward drops it, then reports whether its memory is gone.
  auto run = [](bool retain) {
    Tensor x = ones({4}).requires_grad_();
    std::weak_ptr<Storage> big_storage;
    std::vector<int> freed;  // per backward: 1 when `big` was freed inside it
    Tensor y;
    {
      Tensor big = zeros({1000});
      big_storage = big.impl()->storage;
      Tensor out = mul(x.detach(), 3.0);
      y = record_op("scale_with_saved", {out}, {x}, {{"big", big}}, [&](const std::vector<Tensor>& g, FunctionNode& n) {
        n.drop_saved_if_last_use("big");
        freed.push_back(big_storage.expired() ? 1 : 0);
        return std::vector<Tensor>{mul(g[0], 3.0)};
      })[0];
    }
    Tensor loss = sum(y);
    loss.backward(Tensor(), retain);
    if (retain) loss.backward();  // the saved tensor is still there for a second backward
    CHECK(to_vector(x.grad()) == std::vector<double>(4, retain ? 6.0 : 3.0));
    return freed;
  };
  CHECK(run(false) == std::vector<int>{1});
  CHECK(run(true) == std::vector<int>{0, 1});
}
