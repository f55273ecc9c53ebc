// SGD against the update rule of torch.optim.SGD written out by hand, the LR schedules against
// their formulas, gradient clipping, and a small ResNet that overfits 64 random images.
#include <array>
#include <cmath>

#include "nn/covariance_head.h"
#include "nn/models/model_options.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/sgd.h"
#include "ops/nn_ops.h"
#include "ops/optim.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::nn;

namespace {

// Runs 3 steps of SGD on p (1-D, float64) with fixed gradients and returns p.
std::vector<double> run_sgd(SgdOptions o, const std::vector<std::vector<double>>& grads, std::vector<double> start,
                            bool as_matrix = false) {
  Tensor p = from_vector(start, as_matrix ? Shape{int64_t(start.size()), 1} : Shape{int64_t(start.size())}).requires_grad_();
  Sgd opt({{"p", p}}, o);
  for (const auto& g : grads) {
    p.set_grad(from_vector(g, p.sizes()));
    opt.step();
  }
  return to_vector(p);
}

SgdDeviceScalars scalars(const Tensor& lr, const Tensor& skip, const Tensor& started) {
  SgdDeviceScalars s;
  s.lr = lr;
  s.skip = skip;
  s.started = started;
  return s;
}

}  // namespace

TEST_CASE("sgd: momentum, dampening, Nesterov and weight decay follow torch.optim.SGD") {
  const std::vector<std::vector<double>> grads = {{1.0, -2.0}, {0.5, 0.5}, {-1.0, 2.0}};
  const std::vector<double> start = {1.0, 2.0};
  SgdOptions o{0.1, 0.9, 0.1, 0.01, false, false};
  // By hand, element by element: d = g + wd·p; b = d (first) else μb + (1−τ)d; p −= lr·b.
  std::vector<double> p = start, b(2, 0.0);
  for (size_t s = 0; s < grads.size(); ++s)
    for (int i = 0; i < 2; ++i) {
      double d = grads[s][size_t(i)] + 0.01 * p[size_t(i)];
      b[size_t(i)] = s == 0 ? d : 0.9 * b[size_t(i)] + 0.9 * d;
      p[size_t(i)] -= 0.1 * b[size_t(i)];
    }
  CHECK_CLOSE(from_vector(run_sgd(o, grads, start), {2}), p, 1e-15, 1e-14);
  // Nesterov: p −= lr·(d + μb).
  SgdOptions n{0.1, 0.9, 0.0, 0.0, true, false};
  std::vector<double> q = start, c(2, 0.0);
  for (size_t s = 0; s < grads.size(); ++s)
    for (int i = 0; i < 2; ++i) {
      double d = grads[s][size_t(i)];
      c[size_t(i)] = s == 0 ? d : 0.9 * c[size_t(i)] + d;
      q[size_t(i)] -= 0.1 * (d + 0.9 * c[size_t(i)]);
    }
  CHECK_CLOSE(from_vector(run_sgd(n, grads, start), {2}), q, 1e-15, 1e-14);
  // Plain SGD.
  CHECK_CLOSE(from_vector(run_sgd({0.5}, {{1, 1}}, start), {2}), std::vector<double>{0.5, 1.5});
  // Weight decay exclusion skips 1-D parameters (BN, biases) but not matrices.
  SgdOptions ex{1.0, 0.0, 0.0, 0.5, false, true};
  CHECK_CLOSE(from_vector(run_sgd(ex, {{0, 0}}, start), {2}), start);
  CHECK_CLOSE(from_vector(run_sgd(ex, {{0, 0}}, start, true), {2}), std::vector<double>{0.5, 1.0});
  CHECK_THROWS_WITH_AS(Sgd({}, SgdOptions{0.1, 0.0, 0.0, 0.0, true}), doctest::Contains("Nesterov"), Error);
}

TEST_CASE("sgd: a learning rate set between steps, and a factor, step as the formula says; the rate read from memory "
          "equals the rate given as a number bit for bit") {
  // set_lr writes the rate into a tensor that the update reads when it runs (a replayed graph
  // steps with the current rate): a change between steps must reach the next step only.
  Tensor p = from_vector(std::vector<double>{1.0, -3.0}, {2}).requires_grad_();
  Tensor q = from_vector(std::vector<double>{0.5}, {1}).requires_grad_();
  Sgd opt({{"body.p", p}, {"fc.q", q}}, SgdOptions{0.1, 0.9});
  CHECK(opt.set_lr_factor("fc.", 10.0) == 1);
  double pp[2] = {1.0, -3.0}, bp[2] = {0, 0}, qq = 0.5, bq = 0;
  const double lrs[3] = {0.1, 0.05, 0.3}, g[3] = {1.0, -0.5, 2.0};
  for (int s = 0; s < 3; ++s) {
    if (s > 0) opt.set_lr(lrs[s]);
    p.set_grad(from_vector(std::vector<double>{g[s], 2 * g[s]}, {2}));
    q.set_grad(from_vector(std::vector<double>{-g[s]}, {1}));
    opt.step();
    for (int i = 0; i < 2; ++i) {
      const double d = (i + 1) * g[s];
      bp[i] = s == 0 ? d : 0.9 * bp[i] + d;
      pp[i] -= lrs[s] * bp[i];
    }
    bq = s == 0 ? -g[s] : 0.9 * bq - g[s];
    qq -= lrs[s] * 10.0 * bq;
  }
  CHECK_CLOSE(p, std::vector<double>{pp[0], pp[1]}, 1e-15, 1e-14);
  CHECK_CLOSE(q, std::vector<double>{qq}, 1e-15, 1e-14);
  CHECK_THROWS_WITH_AS(opt.set_lr(-1), doctest::Contains("learning rate"), Error);
  // The op itself: the rate as a float64 tensor times a factor, against the same product given as
  // a number (float32 parameters: one rounding of lr·factor either way).
  for (DType dt : {DType::Float32, DType::Float64}) {
    Generator gen(3);
    Tensor w1 = randn({37}, dt, &gen), grad = randn({37}, dt, &gen), b1 = randn({37}, dt, &gen);
    Tensor w2 = w1.clone(), b2 = b1.clone();
    const double lr = 0.037, factor = 3.0;
    sgd_update_(w1, grad, b1, lr * factor, 0.9, 0.1, 1e-3, false, false);
    sgd_update_(w2, grad, b2, scalars(full({}, lr, DType::Float64), {}, {}), factor, 0.9, 0.1, 1e-3, false, false);
    CHECK(to_vector(w1) == to_vector(w2));
    CHECK(to_vector(b1) == to_vector(b2));
    // skip != 0 leaves both alone; skip == 0 is the plain update; started == 0 is a first update.
    const SgdDeviceScalars skip = scalars(full({}, lr, DType::Float64), full({}, 1.0, DType::Float64), {});
    sgd_update_(w2, grad, b2, skip, factor, 0.9, 0.1, 1e-3, false, false);
    CHECK(to_vector(w2) == to_vector(w1));
    CHECK(to_vector(b2) == to_vector(b1));
    Tensor w3 = w1.clone(), b3 = b1.clone();
    sgd_update_(w1, grad, b1, lr * factor, 0.9, 0.1, 1e-3, false, /*first=*/true);
    sgd_update_(w3, grad, b3, scalars({}, full({}, 0.0, DType::Float64), full({}, 0.0, DType::Float64)),
                lr * factor, 0.9, 0.1, 1e-3, false, /*first=*/false);
    CHECK(to_vector(w3) == to_vector(w1));
    CHECK(to_vector(b3) == to_vector(b1));
    CHECK_THROWS_WITH_AS(
        sgd_update_(w2, grad, b2, scalars(full({}, lr, DType::Float32), {}, {}), 1.0, 0.9, 0, 0, false, false),
        doctest::Contains("learning rate tensor"), Error);
  }
}

TEST_CASE("sgd: the many-parameter update equals one update per parameter, bit for bit") {
  // 50 parameters of both float dtypes and odd sizes, with and without buffers, first or not,
  // their own factors and weight decays; a strided gradient among them.
  Generator gen(21);
  std::vector<SgdParamUpdate> many;
  std::vector<std::array<Tensor, 3>> single;  // param, grad, buffer
  for (int k = 0; k < 50; ++k) {
    const DType dt = k % 3 == 0 ? DType::Float64 : DType::Float32;
    const int64_t n = 1 + (k * 37) % 101;
    Tensor w = randn({n}, dt, &gen), g = randn({n, 2}, dt, &gen).select(1, 1), b = randn({n}, dt, &gen);
    const bool with_buffer = k % 4 != 0;
    many.push_back({w.clone(), g, with_buffer ? b.clone() : Tensor(), 1.0 + 0.5 * (k % 3), 1e-3 * (k % 2), k % 5 == 0});
    single.push_back({w.clone(), g, with_buffer ? b.clone() : Tensor()});
  }
  const SgdDeviceScalars s = scalars(full({}, 0.07, DType::Float64), full({}, 0.0, DType::Float64), {});
  sgd_update_many_(many, s, 0.9, 0.25, false);
  for (size_t k = 0; k < many.size(); ++k) {
    sgd_update_(single[k][0], single[k][1], single[k][2], s, many[k].lr_factor, 0.9, 0.25, many[k].weight_decay, false,
                many[k].first);
    CHECK(to_vector(many[k].param) == to_vector(single[k][0]));
    if (many[k].buffer.defined()) CHECK(to_vector(many[k].buffer) == to_vector(single[k][2]));
  }
  // A skip flag set leaves all of them alone.
  const std::vector<double> before = to_vector(many[7].param);
  sgd_update_many_(many, scalars({}, full({}, 1.0, DType::Float64), {}), 0.9, 0.25, false);
  CHECK(to_vector(many[7].param) == before);
  std::vector<SgdParamUpdate> bad = {many[0]};
  bad[0].grad = zeros({3}, DType::Float32);
  CHECK_THROWS_WITH_AS(sgd_update_many_(bad, s, 0.9, 0, false), doctest::Contains("share a float dtype"), Error);
}

TEST_CASE("sgd: step(skip) decides on the device; a skipped first step leaves the momentum to the next one") {
  // dampening 0.5 tells a first update (b = d) from a later one (b = μb + ½d).
  const SgdOptions o{0.1, 0.9, 0.5, 0.01};
  const std::vector<double> start = {1.0, -2.0};
  auto make = [&] { return from_vector(start, {2}).requires_grad_(); };
  Tensor p = make(), q = make();
  Sgd skipping({{"p", p}}, o), plain({{"q", q}}, o);
  const Tensor yes = full({}, 1.0, DType::Float64), no = full({}, 0.0, DType::Float64);
  const std::vector<std::vector<double>> grads = {{9.0, 9.0}, {1.0, 2.0}, {-0.5, 0.25}, {7.0, 7.0}, {0.3, -0.1}};
  const bool skipped[] = {true, false, false, true, false};
  const uint64_t reads = host_value_reads();
  for (size_t s = 0; s < grads.size(); ++s) {
    p.set_grad(from_vector(grads[s], {2}));
    skipping.step(skipped[s] ? yes : no);
    if (s == 0) {
      CHECK(host_value_reads() == reads);
      CHECK(skipping.state().empty());  // the skipped first step left no momentum to save (one read)
      CHECK(host_value_reads() == reads + 1);
      continue;
    }
    if (skipped[s]) continue;
    q.set_grad(from_vector(grads[s], {2}));
    plain.step();
  }
  CHECK(host_value_reads() == reads + 1);  // the verdicts were never read by the host
  CHECK(to_vector(p) == to_vector(q));
  CHECK(to_vector(skipping.state()[0].second) == to_vector(plain.state()[0].second));
}

TEST_CASE("sgd: state round trip keeps the momentum") {
  Tensor p = from_vector({1, 2}, {2}).requires_grad_();
  Sgd a({{"w", p}}, {0.1, 0.9});
  p.set_grad(from_vector({1, 1}, {2}));
  a.step();
  auto state = a.state();
  REQUIRE(state.size() == 1);
  CHECK(state[0].first == "momentum_buffer.w");
  Tensor p2 = p.clone().detach().requires_grad_();
  Sgd b({{"w", p2}}, {0.1, 0.9});
  b.load_state(state);
  p.set_grad(from_vector({2, 0}, {2}));
  p2.set_grad(from_vector({2, 0}, {2}));
  a.step();
  b.step();
  CHECK(to_vector(p) == to_vector(p2));
}

TEST_CASE("sgd: load_matching_state takes the buffers whose parameter exists with the same shape") {
  Tensor w = from_vector({1, 2}, {2}).requires_grad_();
  Tensor v = from_vector({1, 2, 3}, {3}).requires_grad_();
  Sgd a({{"w", w}, {"v", v}}, {0.1, 0.9});
  w.set_grad(from_vector({1, 1}, {2}));
  v.set_grad(from_vector({1, 1, 1}, {3}));
  a.step();
  // A model whose "v" has another shape and that has no "w" ("u" instead) loads nothing; one with
  // a same-shaped "v" loads its buffer.
  Tensor u = from_vector({0, 0}, {2}).requires_grad_();
  Tensor v4 = from_vector({0, 0, 0, 0}, {4}).requires_grad_();
  Sgd b({{"u", u}, {"v", v4}}, {0.1, 0.9});
  CHECK(b.load_matching_state(a.state()) == 0);
  CHECK(b.state().empty());
  Tensor v3 = from_vector({1, 2, 3}, {3}).requires_grad_();
  Sgd c({{"v", v3}}, {0.1, 0.9});
  CHECK(c.load_matching_state(a.state()) == 1);
  REQUIRE(c.state().size() == 1);
  CHECK(to_vector(c.state()[0].second) == to_vector(a.state()[1].second));
}

TEST_CASE("lr schedules and gradient clipping") {
  LrSchedule step = parse_lr_schedule("step:30:0.1");
  CHECK(step.lr_at(0.1, 29) == doctest::Approx(0.1));
  CHECK(step.lr_at(0.1, 30) == doctest::Approx(0.01));
  CHECK(step.lr_at(0.1, 65) == doctest::Approx(0.001));
  LrSchedule ms = parse_lr_schedule("multistep:10,20");  // the DSVD AlexNet recipe
  CHECK(ms.lr_at(0.0794, 9) == doctest::Approx(0.0794));
  CHECK(ms.lr_at(0.0794, 10) == doctest::Approx(0.00794));
  CHECK(ms.lr_at(0.0794, 29) == doctest::Approx(0.000794));
  LrSchedule cos = parse_lr_schedule("cosine:10");
  CHECK(cos.lr_at(1.0, 0) == doctest::Approx(1.0));
  CHECK(cos.lr_at(1.0, 5) == doctest::Approx(0.5));
  CHECK(cos.lr_at(1.0, 10) == doctest::Approx(0.0));
  LrSchedule warm = parse_lr_schedule("constant");
  warm.warmup_epochs = 4;
  CHECK(warm.lr_at(0.4, 0) == doctest::Approx(0.1));
  CHECK(warm.lr_at(0.4, 3) == doctest::Approx(0.4));
  CHECK_THROWS_WITH_AS(parse_lr_schedule("exponential:3"), doctest::Contains("unknown"), Error);
  CHECK_THROWS_WITH_AS(parse_lr_schedule("step:x"), doctest::Contains("not a number"), Error);

  Tensor a = from_vector({3, 0}, {2}).requires_grad_(), b = from_vector({4}, {1}).requires_grad_();
  a.set_grad(from_vector({3, 0}, {2}));
  b.set_grad(from_vector({4}, {1}));
  const uint64_t reads = host_value_reads();
  Tensor norm = clip_grad_norm({a, b}, 1.0);
  CHECK(host_value_reads() == reads);  // the norm stays a tensor: no wait for a device
  CHECK(norm.dtype() == DType::Float64);
  CHECK(norm.item() == doctest::Approx(5.0));
  CHECK(to_vector(a.grad())[0] == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(to_vector(b.grad())[0] == doctest::Approx(0.8).epsilon(1e-6));
  CHECK(clip_grad_norm({a, b}, 5.0).item() == doctest::Approx(1.0).epsilon(1e-5));  // below: unchanged
  CHECK(to_vector(b.grad())[0] == doctest::Approx(0.8).epsilon(1e-6));

  // float32 gradients scale by the coefficient rounded to float32, as PyTorch's do: the closed
  // form computed here in plain C++.
  Tensor c = from_vector({0.1, -2.5, 7.25}, {3}, DType::Float32).requires_grad_();
  c.set_grad(from_vector({0.1, -2.5, 7.25}, {3}, DType::Float32));
  const std::vector<float> g = {0.1f, -2.5f, 7.25f};
  double sq = 0;
  for (float v : g) sq += double(v) * double(v);
  const float coef = float(0.5 / (std::sqrt(sq) + 1e-6));
  CHECK(clip_grad_norm({c}, 0.5).item() == std::sqrt(sq));
  auto clipped = to_vector(c.grad());
  for (size_t i = 0; i < g.size(); ++i) CHECK(clipped[i] == double(g[i] * coef));

  // A strided gradient is replaced by a contiguous one and clipped with the rest.
  Tensor d = zeros({2, 2}).requires_grad_();
  d.set_grad(from_vector({0, 6, 0, 8}, {2, 2}).transpose(0, 1));
  CHECK(clip_grad_norm({d}, 5.0).item() == doctest::Approx(10.0));
  CHECK(d.grad().is_contiguous());
  const std::vector<double> dg = to_vector(d.grad());
  CHECK(dg[0] == 0.0);
  CHECK(dg[1] == 0.0);
  CHECK(dg[2] == doctest::Approx(3.0).epsilon(1e-6));
  CHECK(dg[3] == doctest::Approx(4.0).epsilon(1e-6));
}

TEST_CASE("training: a small ResNet overfits 64 random images to 100% training accuracy") {
  manual_seed(11);
  ModelOptions o;
  o.num_classes = 4;
  o.small_stem = true;
  o.width = 0.125;  // 8-16-32-64 channels
  auto model = make_model("resnet18", o);
  Tensor images = randn({64, 3, 12, 12});
  Tensor labels = randint(0, 4, {64});
  Sgd opt(model->named_parameters(), {0.05, 0.9, 0.0, 0.0});
  double accuracy = 0;
  for (int epoch = 0; epoch < 60 && accuracy < 1.0; ++epoch) {
    model->train();
    for (int b = 0; b < 4; ++b) {
      Tensor x = images.narrow(0, b * 16, 16), y = labels.narrow(0, b * 16, 16);
      opt.zero_grad();
      cross_entropy(model->forward(x), y).backward();
      opt.step();
    }
    model->eval();
    NoGradGuard no_grad;
    accuracy = double(topk_correct(model->forward(images), labels, {1})[0]) / 64.0;
  }
  CHECK(accuracy == 1.0);
}

TEST_CASE("training: the covariance head (svd-pade) trains end to end and its report is filled") {
  manual_seed(12);
  ModelOptions o;
  o.num_classes = 4;
  o.small_stem = true;
  o.width = 0.125;
  o.head = "svd-pade";
  o.head_dim = 8;  // L = 36
  auto model = make_model("resnet18", o);
  Tensor images = randn({32, 3, 12, 12});
  Tensor labels = randint(0, 4, {32});
  Sgd opt(model->named_parameters(), {0.05, 0.9});
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy(model->forward(images), labels);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  CHECK(std::isfinite(last));
  CHECK(last < 0.5 * first);
  for (const auto& [name, m] : model->named_modules())
    if (name == "representation") {
      auto head = std::dynamic_pointer_cast<CovarianceHead>(m);
      REQUIRE(head != nullptr);
      REQUIRE(head->last_report()->eigenvalues.defined());
      CHECK(head->last_report()->eigenvalues.sizes() == Shape{32, 8});
      CHECK(head->last_report()->backward_calls == 1);
    }
}
