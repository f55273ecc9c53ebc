#include "ops/matfn/newton_schulz.h"

#include "ops/ops.h"

namespace dsvd {
namespace {

Tensor three_identity(int64_t n, DType dtype, Device device) { return mul(eye(n, dtype, device), 3.0); }

// ⟨X, Y⟩_F per sample, shaped (B, 1, 1).
Tensor frobenius_inner(const Tensor& x, const Tensor& y) { return sum(mul(x, y), {1, 2}, true); }

}  // namespace

NewtonSchulzState newton_schulz_forward(const Tensor& sigma, int iterations) {
  DSVD_CHECK(iterations >= 1, "Newton–Schulz: iterations must be >= 1, got ", iterations);
  DSVD_CHECK(sigma.dim() == 3 && sigma.size(1) == sigma.size(2), "Newton–Schulz: expects (B, n, n), got shape ",
             shape_str(sigma.sizes()));
  const int64_t n = sigma.size(1);
  Tensor i3 = three_identity(n, sigma.dtype(), sigma.device());
  NewtonSchulzState s;
  s.iterations = iterations;
  s.trace = sum(mul(sigma, eye(n, sigma.dtype(), sigma.device())), {1, 2}, true);
  s.a = div(sigma, s.trace);
  if (iterations < 2) {
    s.y_final = mul(matmul(s.a, sub(i3, s.a)), 0.5);
    return s;
  }
  Tensor t = mul(sub(i3, s.a), 0.5);
  s.y.push_back(matmul(s.a, t));
  s.z.push_back(t);
  for (int k = 1; k <= iterations - 2; ++k) {
    t = mul(sub(i3, matmul(s.z.back(), s.y.back())), 0.5);
    Tensor y_next = matmul(s.y.back(), t);
    Tensor z_next = matmul(t, s.z.back());
    s.y.push_back(y_next);
    s.z.push_back(z_next);
  }
  s.y_final = mul(matmul(s.y.back(), sub(i3, matmul(s.z.back(), s.y.back()))), 0.5);
  return s;
}

Tensor newton_schulz_output(const NewtonSchulzState& state) { return mul(state.y_final, sqrt(state.trace)); }

Tensor newton_schulz_backward(const Tensor& grad_out, const Tensor& sigma, const NewtonSchulzState& s) {
  const int64_t n = sigma.size(1);
  const int N = s.iterations;
  Tensor i3 = three_identity(n, sigma.dtype(), sigma.device());
  Tensor root_trace = sqrt(s.trace);
  Tensor p = mul(grad_out, root_trace);
  Tensor aux = div(frobenius_inner(grad_out, s.y_final), mul(root_trace, 2.0));
  Tensor d;
  if (N < 2) {
    d = mul(sub(matmul(p, sub(i3, s.a)), matmul(s.a, p)), 0.5);
  } else {
    const Tensor& y_last = s.y[size_t(N - 2)];
    const Tensor& z_last = s.z[size_t(N - 2)];
    Tensor dy = mul(sub(matmul(p, sub(i3, matmul(y_last, z_last))), matmul(matmul(z_last, y_last), p)), 0.5);
    Tensor dz = mul(matmul(matmul(y_last, p), y_last), -0.5);
    for (int k = N - 3; k >= 0; --k) {
      const Tensor& yk = s.y[size_t(k)];
      const Tensor& zk = s.z[size_t(k)];
      Tensor e = sub(i3, matmul(yk, zk));
      Tensor f = matmul(zk, yk);
      Tensor dy_next = mul(sub(sub(matmul(dy, e), matmul(matmul(zk, dz), zk)), matmul(f, dy)), 0.5);
      Tensor dz_next = mul(sub(sub(matmul(e, dz), matmul(matmul(yk, dy), yk)), matmul(dz, f)), 0.5);
      dy = dy_next;
      dz = dz_next;
    }
    d = mul(sub(sub(matmul(dy, sub(i3, s.a)), dz), matmul(s.a, dy)), 0.5);
  }
  d = d.transpose(1, 2);
  Tensor scale = sub(aux, div(frobenius_inner(d, sigma), mul(s.trace, s.trace)));
  return add(div(d, s.trace), mul(eye(n, sigma.dtype(), sigma.device()), scale));
}

std::vector<Saved> newton_schulz_saved(const NewtonSchulzState& s) {
  std::vector<Saved> out = {{"ns_a", s.a}, {"ns_y_final", s.y_final}, {"ns_trace", s.trace}};
  for (size_t k = 0; k < s.y.size(); ++k) {
    out.push_back({"ns_y" + std::to_string(k), s.y[k]});
    out.push_back({"ns_z" + std::to_string(k), s.z[k]});
  }
  return out;
}

NewtonSchulzState newton_schulz_from_saved(const FunctionNode& node, int iterations) {
  NewtonSchulzState s;
  s.iterations = iterations;
  s.a = node.saved_tensor("ns_a");
  s.y_final = node.saved_tensor("ns_y_final");
  s.trace = node.saved_tensor("ns_trace");
  for (int k = 0; k <= iterations - 2; ++k) {  // Y_0..Y_{N−2}; none when N < 2
    s.y.push_back(node.saved_tensor("ns_y" + std::to_string(k)));
    s.z.push_back(node.saved_tensor("ns_z" + std::to_string(k)));
  }
  return s;
}

}  // namespace dsvd
