// IDX: the real Fashion-MNIST files from the Debian package, and errors for damaged files.
#include <zlib.h>

#include <fstream>
#include <iterator>

#include "datasets/idx.h"
#include "tests/datasets/dataset_test_util.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {
std::string idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s = {0, 0, char(type), char(dims.size())};
  for (uint32_t d : dims) s += {char(d >> 24), char(d >> 16), char(d >> 8), char(d)};
  return s + data;
}
void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}
}  // namespace

TEST_CASE("idx: Fashion-MNIST train and test sets load with the real set's shape and class counts") {
  REQUIRE_MESSAGE(std::filesystem::exists(kFashionMnistDefaultRoot),
                  "Fashion-MNIST is missing: run tools/bootstrap (installs dataset-fashion-mnist)");
  FashionMnistSplit train = load_fashion_mnist(kFashionMnistDefaultRoot, true);
  CHECK(train.images.sizes() == Shape{60000, 28, 28});
  CHECK(train.images.dtype() == DType::UInt8);
  CHECK(train.labels.sizes() == Shape{60000});
  std::vector<int> counts(10, 0);
  const int64_t* l = train.labels.data<int64_t>();
  for (int64_t i = 0; i < 60000; ++i) counts[size_t(l[i])]++;
  CHECK(counts == std::vector<int>(10, 6000));
  // Real images: pixel mean of the training set is about 0.286 of full scale.
  double mean = 0;
  const uint8_t* p = train.images.data<uint8_t>();
  for (int64_t i = 0; i < train.images.numel(); ++i) mean += p[i];
  mean /= double(train.images.numel()) * 255.0;
  CHECK(mean == doctest::Approx(0.2860).epsilon(0.01));
  FashionMnistSplit test = load_fashion_mnist(kFashionMnistDefaultRoot, false);
  CHECK(test.images.sizes() == Shape{10000, 28, 28});
}

TEST_CASE("idx: plain and gzip files read the same; damaged files give clear errors") {
  TempDir dir;
  std::string good = idx_bytes(0x08, {2, 3}, std::string("\x01\x02\x03\x04\x05\x06", 6));
  write_file(dir.sub("a.idx"), good);
  write_gzip(dir.sub("a.idx.gz"), good);
  CHECK_CLOSE(read_idx(dir.sub("a.idx")), std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK_CLOSE(read_idx(dir.sub("a.idx.gz")), std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(read_idx(dir.sub("a.idx")).sizes() == Shape{2, 3});
  // Big-endian int32 and float32.
  write_file(dir.sub("i.idx"), idx_bytes(0x0C, {2}, std::string("\xff\xff\xff\xfe\x00\x00\x01\x00", 8)));
  CHECK_CLOSE(read_idx(dir.sub("i.idx")), std::vector<double>{-2, 256});
  write_file(dir.sub("f.idx"), idx_bytes(0x0D, {1}, std::string("\x3f\xc0\x00\x00", 4)));
  CHECK_CLOSE(read_idx(dir.sub("f.idx")), std::vector<double>{1.5});

  write_file(dir.sub("magic.idx"), std::string("\x01\x00\x08\x01\x00\x00\x00\x01\x05", 9));
  CHECK_THROWS_WITH_AS(read_idx(dir.sub("magic.idx")), doctest::Contains("bad magic"), Error);
  write_file(dir.sub("type.idx"), idx_bytes(0x42, {1}, "x"));
  CHECK_THROWS_WITH_AS(read_idx(dir.sub("type.idx")), doctest::Contains("unknown IDX data type 0x42"), Error);
  write_file(dir.sub("short.idx"), good.substr(0, good.size() - 2));
  CHECK_THROWS_WITH_AS(read_idx(dir.sub("short.idx")), doctest::Contains("truncated data"), Error);
  write_gzip(dir.sub("short.idx.gz"), good.substr(0, good.size() - 2));
  CHECK_THROWS_WITH_AS(read_idx(dir.sub("short.idx.gz")), doctest::Contains("short.idx.gz: truncated data"), Error);
  // A gzip stream cut in the middle.
  std::string gz;
  {
    write_gzip(dir.sub("full.gz"), idx_bytes(0x08, {4096}, std::string(4096, '\x07')));
    std::ifstream in(dir.sub("full.gz"), std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file(dir.sub("cut.gz"), gz.substr(0, gz.size() / 2));
  CHECK_THROWS_AS(read_idx(dir.sub("cut.gz")), Error);
  write_file(dir.sub("long.idx"), good + "zz");
  CHECK_THROWS_WITH_AS(read_idx(dir.sub("long.idx")), doctest::Contains("2 unexpected bytes"), Error);
  CHECK_THROWS_WITH_AS(read_idx(dir.sub("absent.idx")), doctest::Contains("does not exist"), Error);
  CHECK_THROWS_WITH_AS(load_fashion_mnist(dir.path.string(), true), doctest::Contains("dataset-fashion-mnist"), Error);
}

TEST_CASE("idx: inputs found by fuzzing (tests/fixtures/fuzz) give errors, not crashes") {
  // a zero dimension next to sizes whose product overflows: the strides did (undefined behaviour)
  const std::string bytes = read_fixture("fuzz/idx_zero_dim_stride_overflow.idx");
  CHECK_THROWS_WITH_AS(parse_idx(bytes, "crash.idx"), doctest::Contains("too large"), Error);
  // a tensor API user meets the same check
  CHECK_THROWS_WITH_AS(empty({0, int64_t(1) << 40, int64_t(1) << 40}), doctest::Contains("too large"), Error);
}
