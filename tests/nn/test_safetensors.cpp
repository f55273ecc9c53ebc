// safetensors: bit-identical round trips, a file assembled byte by byte, one error per defect
// the format forbids, weight loading that names the first mismatch, and atomic writes that keep
// the previous file when the disk is full.
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>

#include "nn/models/model_options.h"
#include "nn/safetensors.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::nn;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "dsvd_st_XXXXXX").string();
    path = mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const char* n) const { return (path / n).string(); }
};

// An 8-byte length, the header, then the data.
std::string assemble(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char(n >> (8 * i));
  return out + header + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string s;
  for (float v : values) s.append(reinterpret_cast<const char*>(&v), 4);
  return s;
}

}  // namespace

TEST_CASE("safetensors: round trips are bit-identical for every dtype and a whole model") {
  TempDir dir;
  Generator g(61);
  NamedTensors tensors = {{"a", randn({3, 4}, DType::Float32, &g)},     {"b.c", randn({2}, DType::Float64, &g)},
                          {"i", randint(-5, 5, {7}, DType::Int64, &g)}, {"u", randint(0, 256, {2, 2, 2}, DType::UInt8, &g)},
                          {"scalar", scalar_tensor(3.5)},              {"empty", zeros({0, 3})}};
  save_safetensors(dir.file("t.safetensors"), tensors, {{"epoch", "3"}, {"note", "quote \" and \\ backslash"}});
  SafetensorsFile back = load_safetensors(dir.file("t.safetensors"));
  REQUIRE(back.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CHECK(back.tensors[i].first == tensors[i].first);
    CHECK(back.tensors[i].second.sizes() == tensors[i].second.sizes());
    CHECK(back.tensors[i].second.dtype() == tensors[i].second.dtype());
    CHECK(to_vector(back.tensors[i].second) == to_vector(tensors[i].second));
  }
  CHECK(back.metadata.at("epoch") == "3");
  CHECK(back.metadata.at("note") == "quote \" and \\ backslash");

  manual_seed(5);
  ModelOptions o;
  o.num_classes = 10;
  o.width = 0.25;
  auto a = make_model("resnet18", o);
  manual_seed(6);
  auto b = make_model("resnet18", o);
  save_weights(dir.file("m.safetensors"), *a);
  load_weights(dir.file("m.safetensors"), *b);
  auto sa = a->state_dict(), sb = b->state_dict();
  for (size_t i = 0; i < sa.size(); ++i) REQUIRE(to_vector(sa[i].second) == to_vector(sb[i].second));
}

TEST_CASE("safetensors: reads a file assembled byte by byte") {
  std::string header = R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}})";
  SafetensorsFile f = parse_safetensors(assemble(header, floats({1.5f, -2.0f, 7.0f})), "hand.safetensors");
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].first == "w");
  CHECK_CLOSE(f.tensors[0].second, std::vector<double>{1.5, -2.0});
  CHECK(f.tensors[1].second.dim() == 0);
  CHECK(f.tensors[1].second.item() == 7.0);
  CHECK(f.metadata.at("format") == "pt");
}

TEST_CASE("safetensors: every defect the format forbids is rejected with the entry named") {
  auto err = [](const std::string& header, const std::string& data) {
    try {
      parse_safetensors(assemble(header, data), "bad.safetensors");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string d8 = floats({1, 2});
  CHECK(err(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8).find("holds 8 bytes but shape [3]") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", d8).find("dtype 'C64'") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", d8).find("outside the 8 data bytes") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d8)
            .find("overlaps") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8).find("leaves a hole") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d8).find("belong to no tensor") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8)
            .find("duplicate key") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,8]}})", d8).find("overflows") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", d8).find("non-negative") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", d8).find("outside") != std::string::npos);
  CHECK(err(R"({"w":{"dtype":"F32","shape":[2]}})", d8).find("needs \"dtype\"") != std::string::npos);
  CHECK(err(R"({"w": [1, 2)", d8).find("invalid JSON") != std::string::npos);
  CHECK(err(R"(["w"])", d8).find("not a JSON object") != std::string::npos);
  // Header lengths beyond the file or over 100 MB.
  std::string lying = assemble("{}", "");
  lying[0] = char(200);
  CHECK_THROWS_WITH_AS(parse_safetensors(lying, "short.safetensors"), doctest::Contains("runs past the end"), Error);
  std::string huge(8, '\0');
  uint64_t n = 200ull * 1000 * 1000;
  for (int i = 0; i < 8; ++i) huge[size_t(i)] = char(n >> (8 * i));
  CHECK_THROWS_WITH_AS(parse_safetensors(huge, "huge.safetensors"), doctest::Contains("100 MB"), Error);
  CHECK_THROWS_WITH_AS(parse_safetensors("abc", "tiny.safetensors"), doctest::Contains("shorter than"), Error);
  std::string deep(200, '[');
  CHECK_THROWS_WITH_AS(parse_safetensors(assemble(deep, ""), "deep.safetensors"), doctest::Contains("nesting"), Error);
}

TEST_CASE("safetensors: loading weights names the first missing, unexpected or mis-shaped tensor") {
  TempDir dir;
  ModelOptions o;
  o.num_classes = 10;
  o.width = 0.25;
  auto model = make_model("resnet18", o);
  NamedTensors sd = model->state_dict();
  NamedTensors missing(sd.begin() + 1, sd.end());
  save_safetensors(dir.file("missing.st"), missing);
  CHECK_THROWS_WITH_AS(load_weights(dir.file("missing.st"), *model), doctest::Contains("missing tensor 'conv1.weight'"), Error);
  NamedTensors extra = sd;
  extra.emplace_back("head.bias", zeros({3}));
  save_safetensors(dir.file("extra.st"), extra);
  CHECK_THROWS_WITH_AS(load_weights(dir.file("extra.st"), *model), doctest::Contains("unexpected tensor 'head.bias'"), Error);
  NamedTensors shaped = sd;
  shaped.back().second = zeros({11});  // fc.bias
  save_safetensors(dir.file("shape.st"), shaped);
  CHECK_THROWS_WITH_AS(load_weights(dir.file("shape.st"), *model), doctest::Contains("'fc.bias' has shape [11]"), Error);
  // Nothing was changed by the failed loads.
  auto after = model->state_dict();
  for (size_t i = 0; i < sd.size(); ++i) REQUIRE(after[i].second.shares_storage_with(sd[i].second));
  CHECK_THROWS_WITH_AS(load_weights(dir.file("none.st"), *model), doctest::Contains("cannot open"), Error);
  // A truncated file.
  save_weights(dir.file("ok.st"), *model);
  fs::resize_file(dir.file("ok.st"), fs::file_size(dir.file("ok.st")) - 10);
  CHECK_THROWS_AS(load_weights(dir.file("ok.st"), *model), Error);
}

TEST_CASE("safetensors: a write that fails (file-size limit) keeps the previous file intact") {
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"x", ones({4})}});
  auto before = fs::file_size(path);
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  auto previous_handler = signal(SIGXFSZ, SIG_IGN);  // make an over-limit write fail with EFBIG instead
  struct rlimit small = old;
  small.rlim_cur = 4096;
  setrlimit(RLIMIT_FSIZE, &small);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"x", ones({100000})}}), doctest::Contains("failed"), Error);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, previous_handler);
  CHECK(fs::file_size(path) == before);
  CHECK_CLOSE(load_safetensors(path).tensors[0].second, std::vector<double>(4, 1.0));
  for (const auto& e : fs::directory_iterator(dir.path)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}
