// bfloat16 and float16 storage: dsvd's bit-level rounding against PyTorch's (a committed table
// written by tests/fixtures/make_reduced_float_fixtures.py), and the dtype rules around them.
#include <cmath>
#include <fstream>

#include "tests/test_util.h"

using namespace dsvd;

namespace {

struct RoundingCase {
  uint32_t f32;
  uint16_t bf16, f16;
};

std::vector<RoundingCase> rounding_table() {
  std::ifstream in(test::fixture_path("reduced_float_rounding.txt"));
  REQUIRE_MESSAGE(in.good(), "missing fixture reduced_float_rounding.txt");
  std::vector<RoundingCase> cases;
  std::string a, b, c;
  while (in >> a >> b >> c)
    cases.push_back({uint32_t(std::stoul(a, nullptr, 16)), uint16_t(std::stoul(b, nullptr, 16)),
                     uint16_t(std::stoul(c, nullptr, 16))});
  return cases;
}

float as_float(uint32_t bits) { return reduced_float_bits::bits_float(bits); }

}  // namespace

TEST_CASE("reduced floats: rounding from float32 matches PyTorch bit for bit") {
  const auto cases = rounding_table();
  REQUIRE(cases.size() > 3000);
  int bf16_wrong = 0, f16_wrong = 0;
  for (const auto& k : cases) {
    const float x = as_float(k.f32);
    const uint16_t bf = bfloat16(x).bits, h = float16(x).bits;
    if (std::isnan(x)) {  // NaN payloads are the implementation's; NaN-ness is not
      CHECK(std::isnan(float(bfloat16::from_bits(bf))));
      CHECK(std::isnan(float(float16::from_bits(h))));
      continue;
    }
    bf16_wrong += bf != k.bf16;
    f16_wrong += h != k.f16;
    if (bf != k.bf16 || h != k.f16)
      MESSAGE("float32 bits ", k.f32, ": bfloat16 ", bf, " (PyTorch ", k.bf16, "), float16 ", h, " (PyTorch ", k.f16, ")");
  }
  CHECK(bf16_wrong == 0);
  CHECK(f16_wrong == 0);

  // The copy kernel's conversions of whole tensors (F16C runs for float16 where the CPU has it)
  // round the same way, and widen back exactly.
  std::vector<double> values;
  for (const auto& k : cases) values.push_back(double(as_float(k.f32)));
  Tensor x = from_vector(values, {int64_t(values.size())}, DType::Float32);
  const std::vector<double> as_bf16 = to_vector(x.to(DType::BFloat16)), as_f16 = to_vector(x.to(DType::Float16));
  Tensor back = x.to(DType::Float16).to(DType::Float32);
  const std::vector<double> widened = to_vector(back);
  int tensor_wrong = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (std::isnan(values[i])) {
      tensor_wrong += !std::isnan(as_f16[i]) || !std::isnan(as_bf16[i]);
      continue;
    }
    tensor_wrong += as_bf16[i] != double(float(bfloat16::from_bits(cases[i].bf16)));
    tensor_wrong += as_f16[i] != double(float(float16::from_bits(cases[i].f16)));
    tensor_wrong += widened[i] != as_f16[i];
  }
  CHECK(tensor_wrong == 0);
}

TEST_CASE("reduced floats: widening is exact (every 16-bit pattern round-trips)") {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float bf = float(bfloat16::from_bits(uint16_t(b))), h = float(float16::from_bits(uint16_t(b)));
    if (!std::isnan(bf)) REQUIRE(bfloat16(bf).bits == b);
    if (!std::isnan(h)) REQUIRE(float16(h).bits == b);
  }
  // Closed forms: float16's largest finite, smallest normal and smallest subnormal; bfloat16's 1 + 2^-7.
  CHECK(float(float16::from_bits(0x7BFF)) == 65504.0f);
  CHECK(float(float16::from_bits(0x0400)) == std::ldexp(1.0f, -14));
  CHECK(float(float16::from_bits(0x0001)) == std::ldexp(1.0f, -24));
  CHECK(float(bfloat16::from_bits(0x3F81)) == 1.0f + std::ldexp(1.0f, -7));
}

TEST_CASE("reduced floats: dtypes, promotion, tensors and copies") {
  CHECK(itemsize(DType::BFloat16) == 2);
  CHECK(itemsize(DType::Float16) == 2);
  CHECK(std::string(dtype_name(DType::BFloat16)) == "bfloat16");
  CHECK(dtype_from_name("bf16", "--amp") == DType::BFloat16);
  CHECK(dtype_from_name("float16", "--amp") == DType::Float16);
  CHECK_THROWS_WITH(dtype_from_name("bf8", "--amp"), doctest::Contains("--amp: unknown dtype 'bf8'"));
  CHECK(machine_epsilon(DType::BFloat16) == std::ldexp(1.0, -7));
  CHECK(machine_epsilon(DType::Float16) == std::ldexp(1.0, -10));
  CHECK(is_floating(DType::BFloat16));
  CHECK(is_reduced_float(DType::Float16));
  CHECK(!is_reduced_float(DType::Float32));
  // As PyTorch: a 16-bit float with float32 gives float32, with an integer the 16-bit float, and
  // bfloat16 with float16 float32.
  CHECK(promote_types(DType::BFloat16, DType::Float32) == DType::Float32);
  CHECK(promote_types(DType::Int64, DType::Float16) == DType::Float16);
  CHECK(promote_types(DType::BFloat16, DType::Float16) == DType::Float32);
  CHECK(promote_types(DType::BFloat16, DType::BFloat16) == DType::BFloat16);

  // to(dtype) rounds once, in both directions of a strided copy; item() and printing widen.
  Tensor x = from_vector({1.0, 1.0 + std::ldexp(1.0, -8), 65519.0, 65520.0, -3.0e-8, 1.0 / 3.0}, {2, 3}, DType::Float32);
  Tensor b = x.t().to(DType::BFloat16);
  Tensor h = x.to(DType::Float16);
  CHECK(b.dtype() == DType::BFloat16);
  std::vector<double> got_b = to_vector(b), got_h = to_vector(h);
  const std::vector<double> xs = to_vector(x.t());
  for (size_t i = 0; i < xs.size(); ++i) CHECK(got_b[i] == double(float(bfloat16(float(xs[i])))));
  CHECK(got_h == std::vector<double>{1.0, 1.0 + std::ldexp(1.0, -8), 65504.0, INFINITY, -std::ldexp(1.0, -24), double(float(float16(1.0f / 3)))});
  CHECK(b.to(DType::Float16).to(DType::Float64).t().dtype() == DType::Float64);
  Generator g1(3), g2(3);
  CHECK(to_vector(randn({9}, DType::BFloat16, &g1)) == to_vector(randn({9}, DType::Float32, &g2).to(DType::BFloat16)));
  CHECK(full({}, 0.1, DType::BFloat16).item() == double(float(bfloat16(0.1f))));
  CHECK(full({2}, -2.5, DType::Float16).str().find("-2.5") != std::string::npos);
}
