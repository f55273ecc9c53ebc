// .npy: round trips for every dtype and layout, files written by numpy (tests/fixtures, made by
// make_npy_fixtures.py), and one error per defect, each naming the file.
#include <filesystem>
#include <fstream>

#include "tensor/npy.h"
#include "tests/test_util.h"

using namespace dsvd;
namespace fs = std::filesystem;

namespace {

std::string fixture(const char* name) { return test::fixture_path(name); }

struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "dsvd_npy_XXXXXX").string();
    path = mkdtemp(templ.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

std::string read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("npy: save then load gives back shape, dtype and values for every dtype") {
  TempDir dir;
  Generator g(11);
  std::vector<Tensor> cases = {
      randn({3, 5}, DType::Float32, &g), randn({2, 3, 4}, DType::Float64, &g),
      randint(-1000000000000LL, 1000000000000LL, {7}, DType::Int64, &g), randint(0, 256, {4, 4}, DType::UInt8, &g),
      scalar_tensor(-3.5, DType::Float64), zeros({0, 3}, DType::Float32),
      randn({4, 6}, DType::Float64, &g).t().narrow(0, 1, 4),  // non-contiguous: written in C order
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    std::string p = dir.file("t.npy");
    save_npy(p, cases[i]);
    Tensor back = load_npy(p);
    CHECK(back.dtype() == cases[i].dtype());
    CHECK(back.sizes() == cases[i].sizes());
    CHECK(to_vector(back) == to_vector(cases[i]));
    CHECK(read_bytes(p).size() % 64 == (size_t(back.numel()) * itemsize(back.dtype())) % 64);  // aligned header
    CHECK(!fs::exists(p + ".tmp"));
  }
}

TEST_CASE("npy: files written by numpy load with the same values") {
  Tensor f32 = load_npy(fixture("f32_3x4.npy"));
  CHECK(f32.dtype() == DType::Float32);
  CHECK(f32.sizes() == Shape{3, 4});
  std::vector<double> e32;
  for (int i = 0; i < 12; ++i) e32.push_back(0.5 * i - 3);
  CHECK_CLOSE(f32, e32);

  Tensor f64 = load_npy(fixture("f64_2x3x2.npy"));
  CHECK(f64.sizes() == Shape{2, 3, 2});
  std::vector<double> e64;
  for (int i = 0; i < 12; ++i) e64.push_back(1.0 / (i + 1));
  CHECK(to_vector(f64) == e64);  // bit-exact: the same IEEE division

  Tensor i64 = load_npy(fixture("i64_7.npy"));
  CHECK(i64.dtype() == DType::Int64);
  CHECK_CLOSE(i64, std::vector<double>{-5, -4, -1, 4, 11, 20, 31});

  Tensor u8 = load_npy(fixture("u8_4x5.npy"));
  CHECK(u8.dtype() == DType::UInt8);
  std::vector<double> e8;
  for (int i = 0; i < 20; ++i) e8.push_back((37 * i) % 256);
  CHECK_CLOSE(u8, e8);

  Tensor s = load_npy(fixture("f64_scalar.npy"));
  CHECK(s.dim() == 0);
  CHECK(s.item() == 2.5);

  Tensor v2 = load_npy(fixture("f32_v2.npy"));
  CHECK_CLOSE(v2, std::vector<double>{0, 0.25, 0.5, 0.75, 1.0});
}

TEST_CASE("npy: unsupported or malformed files give an error naming the file and the defect") {
  CHECK_THROWS_WITH_AS(load_npy(fixture("c64_bad.npy")), doctest::Contains("unsupported dtype '<c8'"), Error);
  CHECK_THROWS_WITH_AS(load_npy(fixture("c64_bad.npy")), doctest::Contains("c64_bad.npy"), Error);
  CHECK_THROWS_WITH_AS(load_npy(fixture("f64_fortran_bad.npy")), doctest::Contains("Fortran-order"), Error);
  CHECK_THROWS_WITH_AS(load_npy(fixture("f32_bigendian_bad.npy")), doctest::Contains("big-endian"), Error);
  CHECK_THROWS_WITH_AS(load_npy("/nonexistent/x.npy"), doctest::Contains("/nonexistent/x.npy: cannot open"), Error);

  TempDir dir;
  std::string good = read_bytes(fixture("f32_3x4.npy"));
  std::string p = dir.file("bad.npy");
  write_bytes(p, "PK\x03\x04 this is a zip, not an npy");
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("bad magic"), Error);
  write_bytes(p, good.substr(0, good.size() - 5));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("truncated data"), Error);
  write_bytes(p, good.substr(0, 40));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("truncated .npy header"), Error);
  write_bytes(p, good.substr(0, 7));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("bad magic"), Error);
  std::string version9 = good;
  version9[6] = 9;
  write_bytes(p, version9);
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("unsupported .npy version 9"), Error);
  std::string broken = good;
  broken.replace(broken.find("'shape'"), 7, "'shapo'");
  write_bytes(p, broken);
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("malformed .npy header"), Error);
  std::string huge = good;
  huge.replace(huge.find("(3, 4)"), 6, "(9999999999, 99999999999)");
  huge.erase(huge.find('\n') - 19, 19);  // keep the header length unchanged
  write_bytes(p, huge);
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("more elements than fit"), Error);
  CHECK_THROWS_WITH_AS(save_npy("/nonexistent/dir/x.npy", zeros({2})), doctest::Contains("cannot open"), Error);
}
