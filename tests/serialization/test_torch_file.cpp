// torch.save files read natively (serialization/, nn/weights_file.h), against fixtures written by
// PyTorch itself (tests/fixtures/make_torch_checkpoints.py): values, strides and shared storages, both
// formats, zip64, every name layout, logits equal to PyTorch's, and malicious files refused by name.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "nn/models/model_options.h"
#include "nn/optim/torch_sgd_state.h"
#include "nn/safetensors.h"
#include "nn/weights_file.h"
#include "ops/ops.h"
#include "serialization/rebuild_tensor.h"
#include "serialization/torch_file.h"
#include "serialization/unpickler.h"
#include "serialization/zip_reader.h"
#include "tensor/npy.h"
#include "tests/test_util.h"

using namespace dsvd;
using serialization::Value;

namespace {

std::string fixture(const std::string& name) { return test::fixture_path("torch/" + name); }

const Value& entry(const Value& dict, const std::string& key) {
  const Value* v = dict.find(key);
  REQUIRE_MESSAGE(v != nullptr, "no key " << key);
  return *v;
}

// dsvd's logits on the fixture's input against PyTorch's.
void check_logits(nn::Module& model, const std::string& input, const std::string& expected) {
  model.eval();
  NoGradGuard no_grad;
  Tensor logits = model.forward(load_npy(fixture(input)));
  Tensor reference = load_npy(fixture(expected));
  const double scale = max(abs(reference)).item();
  CHECK(max(abs(sub(logits, reference))).item() <= 1e-5 * scale);
}

// The fixtures' models: width 1/16 of torchvision's, `classes` outputs, and a head.
nn::ModelOptions fixture_options(int64_t classes, const std::string& head = "gap", int64_t head_dim = 0) {
  nn::ModelOptions o;
  o.width = 0.0625;
  o.num_classes = classes;
  o.head = head;
  if (head_dim > 0) o.head_dim = head_dim;
  return o;
}

serialization::UnpickleResult unpickle_bytes(const std::string& bytes) {
  return serialization::unpickle(bytes, 0, "test pickle", nullptr);
}

}  // namespace

TEST_CASE("torch files: strided views, shared storages and int64 read as PyTorch wrote them, zip and zip64") {
  for (const char* name : {"strided.pth", "strided_zip64.pth"}) {
    CAPTURE(name);
    auto file = serialization::load_torch_file(fixture(name));
    CHECK(file.format == "zip");
    const Value& top = *file.object;
    const Tensor& transposed = entry(top, "transposed").tensor;
    CHECK(transposed.sizes() == Shape{4, 3});
    CHECK(transposed.dtype() == DType::Float64);
    CHECK(to_vector(transposed) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
    CHECK(to_vector(entry(top, "row").tensor) == std::vector<double>{4, 5, 6, 7});
    CHECK(to_vector(entry(top, "base").tensor).size() == 12);
    CHECK(entry(top, "int").tensor.dtype() == DType::Int64);
    CHECK(to_vector(entry(top, "int").tensor) == std::vector<double>{0, 1, 2, 3, 4});
  }
}

TEST_CASE("torch files: half and bfloat16 convert exactly") {
  CHECK(serialization::half_to_float(0x3c00) == 1.0f);
  CHECK(serialization::half_to_float(0xc000) == -2.0f);
  CHECK(serialization::half_to_float(0x7bff) == 65504.0f);
  CHECK(serialization::half_to_float(0x0001) == std::ldexp(1.0f, -24));  // the smallest subnormal
  CHECK(serialization::half_to_float(0x8000) == 0.0f);
  CHECK(std::isinf(serialization::half_to_float(0x7c00)));
  CHECK(std::isnan(serialization::half_to_float(0x7e00)));
  CHECK(serialization::bfloat16_to_float(0x3f80) == 1.0f);
  CHECK(serialization::bfloat16_to_float(0xc0a0) == -5.0f);
  // The AlexNet fixture holds a float16 and a bfloat16 copy of two float32 tensors.
  auto file = serialization::load_torch_file(fixture("alexnet_w16.pth"));
  const Tensor& w = entry(*file.object, "classifier.6.weight").tensor;
  const Tensor& half = entry(*file.object, "extra.half").tensor;
  CHECK(half.dtype() == DType::Float32);
  CHECK(max(abs(sub(half, w))).item() <= 1e-3 * max(abs(w)).item());
  const Tensor& b = entry(*file.object, "classifier.6.bias").tensor;
  CHECK(max(abs(sub(entry(*file.object, "extra.bfloat16").tensor, b))).item() <= 1e-2 * max(abs(b)).item());
}

TEST_CASE("weights files: torchvision ResNet-18 in the zip, legacy and DDP layouts gives PyTorch's logits") {
  nn::ModelOptions o = fixture_options(10);
  struct Case {
    const char* file;
    const char* format;
    const char* layout;
    size_t filled;
  };
  for (const Case& c : {Case{"r18_w16.pth", "torch.save zip", "torchvision", 0},
                        Case{"r18_w16_legacy.pth", "torch.save legacy", "torchvision", 20},
                        Case{"r18_w16_ddp.pth.tar", "torch.save zip", "DistributedDataParallel", 0}}) {
    CAPTURE(c.file);
    auto model = nn::make_model("resnet18", o);
    nn::WeightsLoadSummary s = nn::load_weights_file(fixture(c.file), *model);
    CHECK(s.format == c.format);
    CHECK(s.layout == c.layout);
    CHECK(s.filled.size() == c.filled);
    CHECK(s.unused.empty());
    CHECK(s.loaded + int64_t(s.filled.size()) == int64_t(model->state_dict().size()));
    if (c.filled) {
      CHECK(s.line().find("filled 20 num_batches_tracked with 0") != std::string::npos);
      for (const auto& [name, t] : model->state_dict())
        if (name.find("num_batches_tracked") != std::string::npos) CHECK(t.item() == 0);
    }
    check_logits(*model, "r18_w16_input.npy", "r18_w16_logits.npy");
  }
}

TEST_CASE("weights files: a torchvision ResNet-50 without num_batches_tracked gives PyTorch's logits") {
  nn::ModelOptions o = fixture_options(10);
  auto model = nn::make_model("resnet50", o);
  nn::WeightsLoadSummary s = nn::load_weights_file(fixture("r50_w16_nobnt.pth"), *model);
  CHECK(s.layout == "torchvision");
  CHECK(s.filled.size() == 53);  // every BatchNorm of a ResNet-50
  CHECK(s.unused.empty());
  check_logits(*model, "r50_w16_input.npy", "r50_w16_logits.npy");
}

TEST_CASE("weights files: the reference project's ResNet-50 SVD-Pade checkpoint gives PyTorch's logits") {
  nn::ModelOptions o = fixture_options(5, "svd-pade", 16);
  auto model = nn::make_model("resnet50", o);
  nn::WeightsFile file = nn::read_weights_file(fixture("ref_r50_pade.pth.tar"), *model);
  CHECK(file.layout == "reference (features.module.N)");
  // The checkpoint around the state dict: {'epoch', 'arch', 'state_dict', 'best_prec1', 'optimizer'}.
  CHECK(entry(*file.checkpoint, "epoch").integer == 12);
  CHECK(entry(*file.checkpoint, "arch").text == "resnet50");
  CHECK(entry(*file.checkpoint, "best_prec1").tensor.item() == doctest::Approx(71.25));
  CHECK(entry(entry(*file.checkpoint, "optimizer"), "param_groups").items.size() == 3);
  nn::WeightsLoadSummary s = nn::load_weights_into(file, fixture("ref_r50_pade.pth.tar"), *model);
  CHECK(s.unused.empty());
  CHECK(s.filled.empty());
  check_logits(*model, "ref_r50_input.npy", "ref_r50_logits.npy");
}

TEST_CASE("weights files: AlexNet's names as they are; unused, missing and mis-shaped tensors are named") {
  nn::ModelOptions o = fixture_options(7);
  auto model = nn::make_model("alexnet", o);
  nn::WeightsLoadSummary s = nn::load_weights_file(fixture("alexnet_w16.pth"), *model);
  CHECK(s.unused == std::vector<std::string>{"extra.half", "extra.bfloat16"});
  CHECK(s.line().find("unused: extra.half, extra.bfloat16") != std::string::npos);
  // Another class count: an error naming the tensor, and the model unchanged; with fine_tune the
  // classifier keeps its fresh initialisation and is named.
  o.num_classes = 3;
  auto other = nn::make_model("alexnet", o);
  const auto before = to_vector(other->state_dict().front().second);
  CHECK_THROWS_WITH_AS(nn::load_weights_file(fixture("alexnet_w16.pth"), *other),
                       doctest::Contains("tensor 'classifier.6.weight' has shape [7, 256], the model expects [3, 256]"),
                       Error);
  CHECK(to_vector(other->state_dict().front().second) == before);
  nn::WeightsLoadSummary tuned = nn::load_weights_file(fixture("alexnet_w16.pth"), *other, /*fine_tune=*/true);
  CHECK(tuned.reinitialised == std::vector<std::string>{"classifier.6.weight", "classifier.6.bias"});
  CHECK(to_vector(other->state_dict().front().second) != before);
  // A ResNet-18 file into a ResNet-34: the first missing tensor is named.
  o.num_classes = 10;
  auto r34 = nn::make_model("resnet34", o);
  CHECK_THROWS_WITH_AS(nn::load_weights_file(fixture("r18_w16.pth"), *r34), doctest::Contains("missing tensor 'layer1.2."),
                       Error);
}

TEST_CASE("torch files: malicious and corrupted files are refused with an error naming the fault") {
  struct Case {
    const char* file;
    const char* message;
  };
  for (const Case& c : {Case{"evil_os_system.pth", "refuses the global 'posix.system'"},
                        Case{"evil_eval.pth", "refuses the global '__builtin__.eval'"},
                        Case{"evil_oversized.pth", "a tensor of shape [1000, 1000] at offset 0 reads element 999999"},
                        Case{"evil_offset.pth", "at offset 3 reads element 6 of storage '0', which has 4"},
                        Case{"evil_storage_past_entry.pth", "storage '0' claims 400 elements of 4 bytes"}}) {
    CAPTURE(c.file);
    CHECK_THROWS_WITH_AS(serialization::load_torch_file(fixture(c.file)), doctest::Contains(c.message), Error);
  }
  // Truncation anywhere in a real file is an error, never a crash.
  const std::string whole = test::read_fixture("torch/strided.pth");
  for (size_t cut : {size_t(10), whole.size() / 3, whole.size() / 2, whole.size() - 30, whole.size() - 1}) {
    auto bytes = std::make_shared<const std::string>(whole.substr(0, cut));
    CHECK_THROWS_AS(serialization::parse_torch_file(bytes, "cut"), Error);
  }
  // One flipped byte in a storage fails its CRC.
  std::string flipped = whole;
  const size_t data = size_t(serialization::read_zip_directory(whole, "strided.pth").at("strided/data/0").offset) + 5;
  flipped[data] = char(flipped[data] ^ 0x55);
  CHECK_THROWS_WITH_AS(serialization::parse_torch_file(std::make_shared<const std::string>(flipped), "flipped"),
                       doctest::Contains("CRC-32"), Error);
  CHECK_THROWS_WITH_AS(serialization::parse_torch_file(std::make_shared<const std::string>("hello"), "x.pth"),
                       doctest::Contains("x.pth: not a torch.save file"), Error);
}

TEST_CASE("unpickler: memo, marks and containers; cycles, depth, unknown opcodes and bad lengths refused") {
  // {'a': [1, -2, 300, 70000], 'b': (True, None, 2.5), 'c': 'a'} written by Python's pickle, protocol 2.
  const std::string ok(
      "\x80\x02\x7d\x71\x00\x28\x58\x01\x00\x00\x00\x61\x71\x01\x5d\x71\x02\x28\x4b\x01\x4a\xfe\xff"
      "\xff\xff\x4d\x2c\x01\x4a\x70\x11\x01\x00\x65\x58\x01\x00\x00\x00\x62\x71\x03\x88\x4e\x47\x40"
      "\x04\x00\x00\x00\x00\x00\x00\x87\x71\x04\x58\x01\x00\x00\x00\x63\x71\x05\x68\x01\x75\x2e",
      68);
  auto r = unpickle_bytes(ok);
  CHECK(r.consumed == ok.size());
  const Value& d = *r.value;
  REQUIRE(d.kind == Value::Kind::Dict);
  const Value& a = entry(d, "a");
  REQUIRE(a.items.size() == 4);
  CHECK(a.items[0]->integer == 1);
  CHECK(a.items[1]->integer == -2);
  CHECK(a.items[2]->integer == 300);
  CHECK(a.items[3]->integer == 70000);
  const Value& b = entry(d, "b");
  CHECK((b.kind == Value::Kind::Tuple && b.items[0]->boolean && b.items[1]->kind == Value::Kind::None &&
         b.items[2]->number == 2.5));
  CHECK(entry(d, "c").text == "a");
  // LONG1: 2^40 and −1.
  CHECK(unpickle_bytes(std::string("\x80\x02\x8a\x06\x00\x00\x00\x00\x00\x01.", 11)).value->integer == int64_t(1) << 40);
  CHECK(unpickle_bytes(std::string("\x80\x02\x8a\x01\xff.", 6)).value->integer == -1);
  // A list fetched from the memo cannot be changed: l = []; l.append(l) would be a cycle.
  CHECK_THROWS_WITH_AS(unpickle_bytes(std::string("\x80\x02]q\x00h\x00h\x00" "a.", 10)),
                       doctest::Contains("read from the memo"), Error);
  CHECK_THROWS_WITH_AS(unpickle_bytes(std::string("\x80\x02]2a.", 6)), doctest::Contains("opcode 0x32"), Error);  // DUP
  std::string deep = "\x80\x02";
  for (int i = 0; i < 100; ++i) deep += "]";
  for (int i = 0; i < 99; ++i) deep += "a";
  CHECK_THROWS_WITH_AS(unpickle_bytes(deep + "."), doctest::Contains("nested deeper than 64"), Error);
  CHECK_THROWS_WITH_AS(unpickle_bytes(std::string("\x80\x02X\xff\xff\xff\x7f", 7)), doctest::Contains("truncated"),
                       Error);
  CHECK_THROWS_WITH_AS(unpickle_bytes(std::string("\x80\x02h\x05.", 5)), doctest::Contains("never stored"), Error);
  CHECK_THROWS_WITH_AS(unpickle_bytes(std::string("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", 14)),
                       doctest::Contains("at most 8"), Error);
  CHECK_THROWS_WITH_AS(unpickle_bytes(std::string("\x80\x02K\x01K\x02.", 7)), doctest::Contains("2 values on the stack"),
                       Error);
  CHECK_THROWS_WITH_AS(unpickle_bytes("\x80\x02" "cbuiltins\nexec\n."), doctest::Contains("'builtins.exec'"), Error);
  CHECK_THROWS_WITH_AS(unpickle_bytes(std::string("\x80\x02K\x01", 4)), doctest::Contains("without STOP"), Error);
  CHECK_THROWS_WITH_AS(unpickle_bytes(std::string("\x80\x02" "a.", 4)), doctest::Contains("APPEND on an empty stack"),
                       Error);
}

TEST_CASE("weights files: the reference checkpoint's SGD momentum buffers map onto dsvd's parameter names") {
  nn::ModelOptions o = fixture_options(5, "svd-pade", 16);
  auto model = nn::make_model("resnet50", o);
  nn::WeightsFile file = nn::read_weights_file(fixture("ref_r50_pade.pth.tar"), *model);
  nn::NamedTensors state = nn::sgd_state_from_torch(file, "ref");
  CHECK(state.size() == model->named_parameters().size());
  // PyTorch numbers the parameters over the groups: features, representation, classifier. The last
  // two are the classifier's weight and bias, dsvd's fc.
  const Value& buffers = entry(entry(*file.checkpoint, "optimizer"), "state");
  const int64_t last = int64_t(state.size()) - 1;
  const Value* fc_weight = nullptr;
  const Value* first = nullptr;
  for (const auto& [k, v] : buffers.entries) {
    if (k->integer == last - 1) fc_weight = v->find("momentum_buffer");
    if (k->integer == 0) first = v->find("momentum_buffer");
  }
  REQUIRE(fc_weight != nullptr);
  REQUIRE(first != nullptr);
  int matched = 0;
  for (const auto& [name, t] : state) {
    if (name == "momentum_buffer.fc.weight") {
      CHECK(to_vector(t) == to_vector(fc_weight->tensor));
      ++matched;
    }
    if (name == "momentum_buffer.conv1.weight") {
      CHECK(to_vector(t) == to_vector(first->tensor));
      ++matched;
    }
  }
  CHECK(matched == 2);
}

TEST_CASE("weights files: recognised by content, whatever the extension says") {
  nn::ModelOptions o = fixture_options(10);
  auto model = nn::make_model("resnet18", o);
  const std::string dir = std::filesystem::temp_directory_path() / "dsvd_weights_by_content";
  std::filesystem::create_directories(dir);
  // A torch.save file named .safetensors, and dsvd's safetensors named .pth.tar.
  std::filesystem::copy_file(fixture("r18_w16.pth"), dir + "/misnamed.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  CHECK(nn::load_weights_file(dir + "/misnamed.safetensors", *model).format == "torch.save zip");
  nn::save_weights(dir + "/misnamed.pth.tar", *model);
  auto other = nn::make_model("resnet18", o);
  CHECK(nn::load_weights_file(dir + "/misnamed.pth.tar", *other).format == "safetensors");
  CHECK(to_vector(other->state_dict()[0].second) == to_vector(model->state_dict()[0].second));
  // A safetensors file without the num_batches_tracked counters (as converted torchvision files are):
  // the counters are filled with 0, as for a .pth; a tensor the model lacks is still refused.
  nn::NamedTensors no_counters;
  for (const auto& [name, t] : model->state_dict())
    if (name.find("num_batches_tracked") == std::string::npos) no_counters.emplace_back(name, t);
  nn::save_safetensors(dir + "/no_counters.safetensors", no_counters);
  CHECK(nn::load_weights_file(dir + "/no_counters.safetensors", *other).filled.size() == 20);
  no_counters.emplace_back("extra.weight", zeros({2}));
  nn::save_safetensors(dir + "/extra.safetensors", no_counters);
  CHECK_THROWS_WITH_AS(nn::load_weights_file(dir + "/extra.safetensors", *other),
                       doctest::Contains("unexpected tensor 'extra.weight'"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("convert_weights: the reference checkpoint becomes a safetensors file that loads with the same logits") {
  const std::string out = std::filesystem::temp_directory_path() / "dsvd_converted_ref.safetensors";
  const std::string command = test::convert_weights_program() +
                              " --arch resnet50 --width 0.0625 --num-classes 5 --head svd-pade --head-dim 16 " +
                              fixture("ref_r50_pade.pth.tar") + " " + out + " > /dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  nn::ModelOptions o = fixture_options(5, "svd-pade", 16);
  auto model = nn::make_model("resnet50", o);
  CHECK(nn::load_weights_file(out, *model).format == "safetensors");
  check_logits(*model, "ref_r50_input.npy", "ref_r50_logits.npy");
  std::filesystem::remove(out);
  // A wrong architecture fails with the tensor named, and writes nothing.
  const std::string bad = test::convert_weights_program() + " --arch resnet18 --width 0.0625 " +
                          fixture("ref_r50_pade.pth.tar") + " " + out + " 2> /dev/null";
  CHECK(std::system(bad.c_str()) != 0);
  CHECK(!std::filesystem::exists(out));
}
