// train_imagenet end to end on a tiny generated ImageFolder: every head trains (the loss falls),
// checkpoints resume and evaluate, a resumed run is bit-identical to an uninterrupted one (also
// from mid-epoch), and bad options fail before any work with one clear message.
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/wait.h>

#include "apps/train_imagenet/trainer.h"
#include "datasets/image.h"
#include "nn/models/model_options.h"
#include "nn/safetensors.h"
#include "nn/weights_file.h"
#include "serialization/torch_file.h"
#include "datasets/warnings.h"
#include "tensor/device_backend.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::train;
namespace fs = std::filesystem;

namespace {

struct TinyData {
  fs::path root;
  TinyData() {
    std::string t = (fs::temp_directory_path() / "dsvd_train_XXXXXX").string();
    root = mkdtemp(t.data());
    // 3 classes told apart by colour, with noise: learnable in a few steps.
    Generator gen(5);
    for (const char* split : {"train", "val"})
      for (int k = 0; k < 3; ++k)
        for (int i = 0; i < (std::string(split) == "train" ? 8 : 3); ++i) {
          Tensor noise = randint(0, 60, {36 * 36 * 3}, DType::Int64, &gen);
          Image img{36, 36, std::vector<uint8_t>(36 * 36 * 3)};
          for (size_t p = 0; p < img.pixels.size(); ++p)
            img.pixels[p] = uint8_t((p % 3 == size_t(k) ? 180 : 40) + noise.data<int64_t>()[p]);
          fs::path dir = root / split / ("class" + std::to_string(k));
          fs::create_directories(dir);
          write_file((dir / ("img" + std::to_string(i) + ".png")).string(), encode_png(img));
        }
  }
  ~TinyData() { fs::remove_all(root); }
};

TrainOptions options(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"train_imagenet"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  bool help = false;
  return parse_train_options(int(argv.size()), argv.data(), &help);
}

std::vector<std::string> tiny_args(const TinyData& d, const std::string& out, const std::string& head) {
  return {"--data", d.root.string(), "--image-size", "24", "--stem", "small", "--width", "0.125", "--head", head,
          "--head-dim", "6", "--batch-size", "6", "--lr", "0.05", "--workers", "2", "--print-freq", "1000",
          "--out", out, "--arch", "resnet18", "--wd", "0"};
}

// TopN gives each dropped direction the floor ε and so a gradient of ½ε^-½ ≈ 3e7, harmless only
// where the direction is a null direction of Σ (the features have no component there). With n = 6
// its default drop of 50 takes every direction and the weights blow up (with ReLU eating NaN this
// once went unseen). Give it what it is made for: 2×2 maps at the head (16² images, layer4 stride
// 2), rank ≤ 3, and drop the 3 null directions.
std::vector<std::string> head_extra_args(const std::string& head) {
  if (head == "svd-topn") return {"--drop", "3", "--image-size", "16", "--last-stride", "2"};
  return {};
}

// Every tensor of a trained model, for bit-for-bit comparisons of two runs.
std::vector<std::vector<double>> final_weights(Trainer& t) {
  std::vector<std::vector<double>> w;
  for (const auto& [name, tensor] : t.model().state_dict()) w.push_back(to_vector(tensor));
  return w;
}

std::vector<double> csv_column(const std::string& path, int column) {
  std::ifstream in(path);
  std::vector<double> values;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::string cell;
    for (int c = 0; c <= column; ++c) std::getline(s, cell, ',');
    values.push_back(std::stod(cell));
  }
  return values;
}

}  // namespace

TEST_CASE("train_imagenet: every head trains on a tiny ImageFolder, checkpoints, resumes and evaluates") {
  set_dataset_warnings_printed(false);
  TinyData data;
  std::vector<std::string> heads = {"gap"};  // and every rule of the table, as --head spells it
  for (SqrtMethod m : all_sqrt_methods()) heads.push_back(nn::head_name(m));
  for (const std::string& head_name : heads) {
    const char* head = head_name.c_str();
    CAPTURE(head_name);
    CHECK(std::string(train_usage()).find(head_name) != std::string::npos);  // --help lists it
    std::string out = (data.root / (std::string("run-") + head)).string();
    auto args = tiny_args(data, out, head);
    args.insert(args.end(), {"--epochs", "4"});
    const std::vector<std::string> extra = head_extra_args(head_name);
    args.insert(args.end(), extra.begin(), extra.end());
    Trainer trainer(options(args));
    RunResult r = trainer.run();
    REQUIRE(r.exit_code == 0);
    auto losses = csv_column(out + "/metrics.csv", 2);
    REQUIRE(losses.size() == 4);
    for (double l : losses) REQUIRE(std::isfinite(l));
    if (std::string(head) != "svd-pi")  // PI passes no gradient to the backbone (as the reference does)
      CHECK(losses.back() < losses.front());
    REQUIRE(fs::exists(out + "/checkpoint.safetensors"));
    REQUIRE(fs::exists(out + "/model_best.safetensors"));
    // --evaluate on the checkpoint gives the last epoch's validation figures.
    auto eval_args = tiny_args(data, out, head);
    eval_args.insert(eval_args.end(), {"--resume", out + "/checkpoint.safetensors", "--evaluate"});
    eval_args.insert(eval_args.end(), extra.begin(), extra.end());
    Trainer evaluator(options(eval_args));
    RunResult e = evaluator.run();
    CHECK(e.last_eval.top1 == doctest::Approx(csv_column(out + "/metrics.csv", 5).back()).epsilon(1e-4));  // csv: 3 decimals
    CHECK(e.last_eval.images == 9);
  }
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet --device cuda: every head trains on the GPU; the checkpoint evaluates the same on the CPU" *
          doctest::skip(device_count(Device::Kind::CUDA) == 0)) {
  set_dataset_warnings_printed(false);
  TinyData data;
  std::vector<std::string> heads = {"gap"};  // and every rule of the table, as --head spells it
  for (SqrtMethod m : all_sqrt_methods()) heads.push_back(nn::head_name(m));
  for (const std::string& head_name : heads) {
    const char* head = head_name.c_str();
    CAPTURE(head_name);
    CHECK(std::string(train_usage()).find(head_name) != std::string::npos);  // --help lists it
    std::string out = (data.root / (std::string("gpu-") + head)).string();
    auto args = tiny_args(data, out, head);
    args.insert(args.end(), {"--epochs", "4", "--device", "cuda"});
    const std::vector<std::string> extra = head_extra_args(head_name);
    args.insert(args.end(), extra.begin(), extra.end());
    Trainer trainer(options(args));
    RunResult r = trainer.run();
    REQUIRE(r.exit_code == 0);
    auto losses = csv_column(out + "/metrics.csv", 2);
    REQUIRE(losses.size() == 4);
    for (double l : losses) REQUIRE(std::isfinite(l));
    if (std::string(head) != "svd-pi") CHECK(losses.back() < losses.front());
    for (const auto& [name, t] : trainer.model().state_dict()) CHECK(t.device().is_cuda());
    // The GPU's checkpoint, evaluated on the CPU, gives the accuracy the GPU run measured (within
    // one of the 9 images: TF32 convolutions on the GPU may flip a near tie).
    auto eval_args = tiny_args(data, out, head);
    eval_args.insert(eval_args.end(), {"--resume", out + "/checkpoint.safetensors", "--evaluate"});
    eval_args.insert(eval_args.end(), extra.begin(), extra.end());
    Trainer evaluator(options(eval_args));
    RunResult e = evaluator.run();
    CHECK(std::fabs(e.last_eval.top1 - csv_column(out + "/metrics.csv", 5).back()) <= 100.0 / 9 + 1e-3);
  }
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet --cuda-graph: on the CPU one line says why, and the run is the eager run") {
  set_dataset_warnings_printed(false);
  TinyData data;
  auto run = [&](bool graph, std::string* printed) {
    const std::string out = (data.root / (graph ? "graph" : "eager")).string();
    auto args = tiny_args(data, out, "svd-pade");
    args.insert(args.end(), {"--no-eval", "--max-steps", "3", "--clip-grad", "5", "--lr-schedule", "cosine"});
    if (graph) args.push_back("--cuda-graph");
    test::CapturedStdout captured;
    Trainer trainer(options(args));
    REQUIRE(trainer.run().exit_code == 0);
    *printed = captured.text();
    return final_weights(trainer);
  };
  std::string with, without;
  CHECK(run(true, &with) == run(false, &without));
  CHECK(with.find("cuda graph: off, the CPU runs each op as it is called") != std::string::npos);
  CHECK(without.find("cuda graph") == std::string::npos);
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet --channels-last: on the CPU (whose kernels take NCHW) the run is the NCHW run bit for bit") {
  set_dataset_warnings_printed(false);
  TinyData data;
  auto run = [&](bool channels_last) {
    const std::string out = (data.root / (channels_last ? "cl" : "nchw")).string();
    auto args = tiny_args(data, out, "svd-pade");
    args.insert(args.end(), {"--max-steps", "3"});
    if (channels_last) args.push_back("--channels-last");
    test::CapturedStdout captured;
    Trainer trainer(options(args));
    REQUIRE(trainer.run().exit_code == 0);
    return std::make_pair(final_weights(trainer), csv_column(out + "/metrics.csv", 5));  // and val_top1
  };
  CHECK(run(true) == run(false));
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet --device cuda --channels-last: trains as the NCHW run (eager, replayed, bf16)" *
          doctest::skip(device_count(Device::Kind::CUDA) == 0)) {
  set_dataset_warnings_printed(false);
  TinyData data;
  auto run = [&](const std::vector<std::string>& extra, const std::string& name) {
    const std::string out = (data.root / name).string();
    auto args = tiny_args(data, out, "svd-pade");
    args.insert(args.end(), {"--device", "cuda", "--no-eval", "--epochs", "2", "--tf32", "none"});
    args.insert(args.end(), extra.begin(), extra.end());
    test::CapturedStdout captured;
    Trainer trainer(options(args));
    REQUIRE(trainer.run().exit_code == 0);
    return csv_column(out + "/metrics.csv", 2);  // each epoch's mean training loss
  };
  const auto nchw = run({}, "nchw");
  for (const auto& extra : std::vector<std::vector<std::string>>{{"--channels-last"}, {"--channels-last", "--cuda-graph"}}) {
    const auto cl = run(extra, extra.back());
    REQUIRE(cl.size() == nchw.size());
    for (size_t e = 0; e < cl.size(); ++e) CHECK(cl[e] == doctest::Approx(nchw[e]).epsilon(1e-3));
  }
  const auto bf16 = run({"--amp", "bf16"}, "bf16"), bf16_cl = run({"--amp", "bf16", "--channels-last"}, "bf16-cl");
  for (size_t e = 0; e < bf16.size(); ++e) CHECK(bf16_cl[e] == doctest::Approx(bf16[e]).epsilon(3e-2));
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet --device cuda --cuda-graph: replayed steps train as eager steps, also across batch shapes" *
          doctest::skip(device_count(Device::Kind::CUDA) == 0)) {
  set_dataset_warnings_printed(false);
  TinyData data;
  // 24 images in batches of 5: four of 5 and one of 4 per epoch, so both shapes are recorded
  // (the 4 at the second epoch) and replayed (at the third).
  auto run = [&](const std::string& head, bool graph, std::string* printed) {
    const std::string out = (data.root / (head + (graph ? "-graph" : "-eager"))).string();
    auto args = tiny_args(data, out, head);
    args.insert(args.end(), {"--device", "cuda", "--no-eval", "--epochs", "3", "--batch-size", "5", "--clip-grad", "5",
                             "--lr-schedule", "cosine", "--momentum", "0.9"});
    if (graph) args.push_back("--cuda-graph");
    test::CapturedStdout captured;
    Trainer trainer(options(args));
    REQUIRE(trainer.run().exit_code == 0);
    *printed = captured.text();
    return std::make_pair(final_weights(trainer), csv_column(out + "/metrics.csv", 2));
  };
  for (const std::string head : {"gap", "svd-pade"}) {
    CAPTURE(head);
    std::string printed, ignored;
    const auto eager = run(head, false, &ignored), again = run(head, false, &ignored);
    const auto replayed = run(head, true, &printed);
    CHECK(printed.find("cuda graph: each step recorded once per batch shape") != std::string::npos);
    CHECK(printed.find("could not be recorded") == std::string::npos);
    if (eager == again) {
      CHECK(replayed == eager);  // weights and every epoch's mean training loss, bit for bit
    } else {
      MESSAGE("eager GPU training is not bit-repeatable here; comparing the losses within its own spread");
      for (size_t e = 0; e < eager.second.size(); ++e)
        CHECK(replayed.second[e] == doctest::Approx(eager.second[e]).epsilon(1e-3));
    }
  }
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet: a resumed run is bit-identical to an uninterrupted one") {
  set_dataset_warnings_printed(false);
  TinyData data;
  std::string straight = (data.root / "straight").string();
  auto a = tiny_args(data, straight, "svd-pade");
  a.insert(a.end(), {"--epochs", "2"});
  Trainer t1(options(a));
  REQUIRE(t1.run().exit_code == 0);

  // One epoch (4 steps of 6 images), then resume for the second.
  std::string split = (data.root / "split").string();
  auto b = tiny_args(data, split, "svd-pade");
  b.insert(b.end(), {"--epochs", "2", "--max-steps", "4"});
  Trainer t2(options(b));
  REQUIRE(t2.run().exit_code == 0);
  auto c = tiny_args(data, split, "svd-pade");
  c.insert(c.end(), {"--epochs", "2", "--resume", split + "/checkpoint.safetensors"});
  Trainer t3(options(c));
  REQUIRE(t3.run().exit_code == 0);
  CHECK(final_weights(t3) == final_weights(t1));

  // Stopped mid-epoch (after 5 steps: epoch 1, batch 1), then resumed.
  std::string mid = (data.root / "mid").string();
  auto d = tiny_args(data, mid, "svd-pade");
  d.insert(d.end(), {"--epochs", "2", "--max-steps", "5"});
  Trainer t4(options(d));
  REQUIRE(t4.run().exit_code == 0);
  auto e = tiny_args(data, mid, "svd-pade");
  e.insert(e.end(), {"--epochs", "2", "--resume", mid + "/checkpoint.safetensors"});
  Trainer t5(options(e));
  REQUIRE(t5.run().exit_code == 0);
  CHECK(final_weights(t5) == final_weights(t1));

  // Hybrid training: resume the iSQRT-COV run's checkpoint with an SVD head.
  auto f = tiny_args(data, straight, "svd-taylor");
  f.insert(f.end(), {"--epochs", "3", "--resume", straight + "/checkpoint.safetensors"});
  Trainer t6(options(f));
  CHECK(t6.run().exit_code == 0);
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet --amp: bf16 and fp16 train like float32; fp16's scaler state resumes bit-identically") {
  set_dataset_warnings_printed(false);
  TinyData data;
  std::map<std::string, std::vector<double>> losses;
  for (const std::string amp : {"off", "bf16", "fp16"}) {
    CAPTURE(amp);
    const std::string out = (data.root / ("amp-" + amp)).string();
    auto args = tiny_args(data, out, "svd-pade");
    args.insert(args.end(), {"--epochs", "3", "--amp", amp});
    Trainer t(options(args));
    REQUIRE(t.run().exit_code == 0);
    // Weights and momentum stay float32 whatever the mode.
    for (const auto& [name, tensor] : t.model().named_parameters()) CHECK(tensor.dtype() == DType::Float32);
    losses[amp] = csv_column(out + "/metrics.csv", 2);
    REQUIRE(losses[amp].size() == 3);
    CHECK(losses[amp].back() < losses[amp].front());
    const auto scale = csv_column(out + "/metrics.csv", 16), skipped = csv_column(out + "/metrics.csv", 17);
    CHECK(scale.back() == (amp == "fp16" ? 65536.0 : 1.0));  // 12 finite steps: no change
    CHECK(skipped.back() == 0);
  }
  // 16-bit products move the loss a little, not the training: within 5% of float32's each epoch.
  for (const std::string amp : {"bf16", "fp16"})
    for (size_t e = 0; e < 3; ++e) CHECK(std::fabs(losses[amp][e] - losses["off"][e]) <= 0.05 * losses["off"][e]);

  // fp16 stopped mid-epoch and resumed (the loss scale and its growth count come back) equals the
  // uninterrupted fp16 run bit for bit.
  auto straight_args = tiny_args(data, (data.root / "fp16-straight").string(), "svd-pade");
  straight_args.insert(straight_args.end(), {"--epochs", "2", "--amp", "fp16"});
  Trainer straight(options(straight_args));
  REQUIRE(straight.run().exit_code == 0);
  const std::string split = (data.root / "fp16-split").string();
  auto first = tiny_args(data, split, "svd-pade");
  first.insert(first.end(), {"--epochs", "2", "--amp", "fp16", "--max-steps", "5"});
  Trainer t1(options(first));
  REQUIRE(t1.run().exit_code == 0);
  CHECK(nn::load_safetensors(split + "/checkpoint.safetensors").tensors.back().first == "grad_scaler.growth_tracker");
  auto rest = tiny_args(data, split, "svd-pade");
  rest.insert(rest.end(), {"--epochs", "2", "--amp", "fp16", "--resume", split + "/checkpoint.safetensors"});
  Trainer t2(options(rest));
  REQUIRE(t2.run().exit_code == 0);
  CHECK(final_weights(t2) == final_weights(straight));
  // The checkpoint read as weights (predict --weights, --pretrained): the optimizer's and the
  // scaler's entries are left out, every weight loads.
  const auto summary = nn::load_weights_file(split + "/checkpoint.safetensors", t2.model(), false);
  CHECK(summary.loaded == int64_t(t2.model().state_dict().size()));
  CHECK(summary.layout.find("training checkpoint") != std::string::npos);
  // A plain weights file with such a name is still refused (not a checkpoint: nothing is skipped).
  auto weights = t2.model().state_dict();
  weights.emplace_back("grad_scaler.scale", scalar_tensor(1.0, DType::Float64));
  nn::save_safetensors(split + "/weights.safetensors", weights, {});
  CHECK_THROWS_WITH(nn::load_weights_file(split + "/weights.safetensors", t2.model(), false),
                    doctest::Contains("unexpected tensor 'grad_scaler.scale'"));
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet: bad options fail with one clear line before any work") {
  TinyData data;
  auto fails = [](const std::vector<std::string>& args, const char* text) {
    try {
      Trainer t(options(args));
    } catch (const Error& e) {
      std::string message = std::string(e.what()) + " (expected: " + text + ")";
    CHECK_MESSAGE(std::string(e.what()).find(text) != std::string::npos, message);
      return;
    }
    FAIL("no error for ", text);
  };
  fails({"--arch", "vgg16"}, "unknown --arch 'vgg16'");
  fails({"--arch", "resnet19"}, "unknown --arch 'resnet19'");
  fails({"--batch-size", "0"}, "--batch-size must be >= 1");
  fails({"-b", "0"}, "--batch-size must be >= 1");
  fails({"--data", "/nonexistent/imagenet"}, "is not a folder");
  fails({"--data", data.root.string() + "/train"}, "has no train/ folder");
  fails({"--head", "svd-cholesky"}, "unknown head 'svd-cholesky' (gap, svd-original");
  if (device_count(Device::Kind::CUDA) == 0) fails({"--device", "cuda"}, "--device cuda: no CUDA device can be used here");
  fails({"--evaluate"}, "--evaluate needs --resume");
  fails({"--tf32", "matmul"}, "--tf32 must be conv, all or none");
  fails({"--amp", "fp8"}, "--amp must be off, bf16 or fp16, got 'fp8'");
  fails({"--lr-schedule", "exponential"}, "unknown");
  fails({"--bogus", "1"}, "unknown option --bogus");
  fails({"--data", data.root.string(), "--transform", "flowers"}, "unknown --transform 'flowers' (imagenet, cub, cars");
  fails({"--transform", "cub"}, "--transform cub is for ImageFolder data");
  fails({"--recipe", "seb-birds"}, "unknown --recipe 'seb-birds'");
  // A checkpoint of another architecture.
  std::string out = (data.root / "r").string();
  auto args = tiny_args(data, out, "gap");
  args.insert(args.end(), {"--epochs", "1", "--max-steps", "1"});
  Trainer t(options(args));
  t.run();
  auto other = tiny_args(data, out, "gap");
  other[other.size() - 3] = "resnet34";  // --arch
  other.insert(other.end(), {"--resume", out + "/checkpoint.safetensors"});
  fails(other, "is a checkpoint of resnet18, not --arch resnet34");
}

// The fine-grained recipes carry the TPAMI scripts' rows (docs/models-and-training.md §7) and
// their pipelines; explicit options still override them; a run trains with each pipeline.
TEST_CASE("train_imagenet: the fine-grained recipes and --transform") {
  TinyData data;
  const std::string root = data.root.string();
  TrainOptions cub = options({"--data", root, "--recipe", "seb-cub"});
  CHECK(cub.arch == "resnet50");
  CHECK(cub.model.head == "seb");
  CHECK(cub.model.head_dim == 0);  // no reduction block: the SEB head sees the 2048 channels
  CHECK(cub.transform == "cub");
  CHECK(cub.image_size == 448);
  CHECK(cub.batch_size == 10);
  CHECK(cub.epochs == 200);
  CHECK(cub.lr_schedule == "multistep:50,100");
  CHECK(cub.weight_decay == 1e-4);
  CHECK(cub.classifier_factor == 20);
  CHECK(cub.model.num_classes == 0);  // the data's class count
  TrainOptions air = options({"--data", root, "--recipe", "seb-aircraft", "--transform", "cars", "-b", "4"});
  CHECK(air.batch_size == 4);
  CHECK(air.transform == "cars");
  CHECK(air.epochs == 50);
  CHECK(air.lr_schedule == "multistep:21,40");
  CHECK(air.weight_decay == 1e-3);
  CHECK(air.classifier_factor == 5);
  CHECK(options({"--data", root, "--recipe", "seb-cars"}).classifier_factor == 10);
  CHECK(options({"--data", root, "--recipe", "dsvd-fgvc"}).transform == "cub");
  for (const std::string transform : {"cub", "cars", "aircraft"}) {
    CAPTURE(transform);
    const std::string out = (data.root / transform).string();
    auto args = tiny_args(data, out, "gap");
    args.insert(args.end(), {"--transform", transform, "--max-steps", "2", "--val-limit", "6"});
    Trainer trainer(options(args));
    RunResult r = trainer.run();
    CHECK(r.exit_code == 0);
    CHECK(r.steps == 2);
    CHECK(r.last_eval.images == 6);  // one validation batch
  }
}

TEST_CASE("train_imagenet: a non-finite loss stops the run; a stop request checkpoints and exits") {
  set_dataset_warnings_printed(false);
  TinyData data;
  std::string out = (data.root / "nan").string();
  auto args = tiny_args(data, out, "gap");
  args.insert(args.end(), {"--epochs", "3", "--lr", "3e38"});  // the first update overflows the weights
  Trainer exploding(options(args));
  RunResult r = exploding.run();
  CHECK(r.exit_code == 3);
  CHECK(r.steps >= 1);

  std::string stop = (data.root / "stop").string();
  auto s = tiny_args(data, stop, "svd-pade");
  s.insert(s.end(), {"--epochs", "2"});
  Trainer interrupted(options(s));
  stop_requested() = true;  // as the SIGINT handler does
  RunResult rs = interrupted.run();
  stop_requested() = false;
  CHECK(rs.exit_code == 0);
  CHECK(rs.steps == 1);  // the current step finishes, then the run stops
  CHECK(fs::exists(stop + "/checkpoint.safetensors"));
  set_dataset_warnings_printed(true);
}

// On a GPU every read of a tensor value by the host waits for the device; a training step makes
// none (the loss, top-1, the head's condition numbers and repairs add up on the device and are
// read at progress lines and the end of the epoch). Counted here as runs of 1 and 3 steps that
// differ only in their length: the same number of reads.
TEST_CASE("train_imagenet: a training step reads no tensor value back to the host") {
  set_dataset_warnings_printed(false);
  TinyData data;
  auto reads_of_run = [&](const std::string& steps, const std::vector<std::string>& extra) {
    const std::string out = (data.root / ("reads" + steps)).string();
    auto args = tiny_args(data, out, "svd-pade");
    args.insert(args.end(), {"--no-eval", "--max-steps", steps, "--clip-grad", "5"});
    args.insert(args.end(), extra.begin(), extra.end());
    Trainer trainer(options(args));
    const uint64_t before = host_value_reads();
    RunResult r = trainer.run();
    REQUIRE(r.exit_code == 0);
    REQUIRE(r.steps == std::stoll(steps));
    CHECK(std::isfinite(r.first_train_loss));
    CHECK(std::isfinite(r.last_train_loss));
    fs::remove_all(out);
    return host_value_reads() - before;
  };
  CHECK(reads_of_run("1", {}) == reads_of_run("3", {}));
  CHECK(reads_of_run("1", {"--amp", "bf16"}) == reads_of_run("3", {"--amp", "bf16"}));
  // float16's scaler decides on the device.
  CHECK(reads_of_run("1", {"--amp", "fp16"}) == reads_of_run("3", {"--amp", "fp16"}));
  // The count sees reads: a progress line every step reads the figures each time.
  CHECK(reads_of_run("1", {"--print-freq", "1"}) < reads_of_run("3", {"--print-freq", "1"}));
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet: an output folder that cannot be created ends with one error line naming it, exit 2") {
  TinyData data;
  // /proc refuses new folders, even to root.
  const std::string log = (data.root / "log.txt").string();
  const std::string command = test::train_imagenet_program() + " --data " + data.root.string() +
                              " --arch resnet18 --stem small --width 0.125 --image-size 24 -b 4 --workers 1 --head gap"
                              " --max-steps 1 --out /proc/dsvd-forbidden > " + log + " 2>&1";
  const int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CAPTURE(text);
  CHECK(text.find("train_imagenet: error: cannot use '/proc/dsvd-forbidden") != std::string::npos);
  CHECK(text.find("terminate called") == std::string::npos);
}

TEST_CASE("train_imagenet: --max-steps writes the metrics row of the stopped epoch; --val-limit and --no-eval") {
  TinyData data;
  auto count_lines = [](const std::string& path) {
    std::ifstream in(path);
    int64_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  };
  // Stopped mid-epoch: a row (validation on 3 of 9 images with --val-limit), a checkpoint.
  std::string out = (data.root / "limited").string();
  auto args = tiny_args(data, out, "gap");
  args.insert(args.end(), {"--epochs", "2", "--max-steps", "2", "--val-limit", "3", "--batch-size", "3"});
  Trainer t(options(args));
  RunResult r = t.run();
  CHECK(r.steps == 2);
  CHECK(r.last_eval.images == 3);
  CHECK(count_lines(out + "/metrics.csv") == 2);  // header and the stopped epoch
  CHECK(csv_column(out + "/metrics.csv", 14).back() == 2);  // steps
  CHECK(csv_column(out + "/metrics.csv", 15).back() == 3);  // val_images
  CHECK(fs::exists(out + "/checkpoint.safetensors"));
  // --no-eval: empty validation columns, no model_best.
  std::string quiet = (data.root / "quiet").string();
  auto q = tiny_args(data, quiet, "gap");
  q.insert(q.end(), {"--epochs", "1", "--no-eval"});
  Trainer tq(options(q));
  RunResult rq = tq.run();
  CHECK(rq.last_eval.images == 0);
  std::ifstream in(quiet + "/metrics.csv");
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  CHECK(row.find(",,,") != std::string::npos);  // val_loss, val_top1, val_top5 empty
  CHECK(!fs::exists(quiet + "/model_best.safetensors"));
  CHECK(fs::exists(quiet + "/checkpoint.safetensors"));
  // A covariance head: the largest per-sample condition number, with its step and sample.
  std::string cov = (data.root / "cov").string();
  auto c = tiny_args(data, cov, "svd-pade");
  c.insert(c.end(), {"--epochs", "1", "--max-steps", "3", "--no-eval", "--batch-size", "4"});
  Trainer tc(options(c));
  tc.run();
  const double mean = csv_column(cov + "/metrics.csv", 9).back(), largest = csv_column(cov + "/metrics.csv", 11).back();
  CHECK(mean > 1);
  CHECK(largest >= mean);
  const double step = csv_column(cov + "/metrics.csv", 12).back(), sample = csv_column(cov + "/metrics.csv", 13).back();
  CHECK((step >= 0 && step <= 2));
  CHECK((sample >= 0 && sample <= 3));
}

TEST_CASE("train_imagenet: a metrics.csv from an earlier version is extended, a foreign one refused before training") {
  set_dataset_warnings_printed(false);
  TinyData data;
  const std::string out = (data.root / "old").string();
  fs::create_directories(out);
  const std::string old_header =
      "epoch,lr,train_loss,train_top1,val_loss,val_top1,val_top5,seconds,images_per_s,head_condition_mean,"
      "head_repairs_per_step,head_condition_max,head_condition_max_step,head_condition_max_sample,steps,val_images";
  write_file(out + "/metrics.csv", old_header + "\n0,0.1,1.5,40,1.2,50,100,3.0,100,0,0,0,-1,-1,4,9\n");
  auto args = tiny_args(data, out, "gap");
  args.insert(args.end(), {"--epochs", "1"});
  Trainer t(options(args));
  REQUIRE(t.run().exit_code == 0);
  std::ifstream in(out + "/metrics.csv");
  std::string header, old_row, new_row;
  std::getline(in, header);
  std::getline(in, old_row);
  std::getline(in, new_row);
  CHECK(header == old_header + ",amp_loss_scale,amp_skipped_steps");
  CHECK(old_row == "0,0.1,1.5,40,1.2,50,100,3.0,100,0,0,0,-1,-1,4,9,,");
  CHECK(std::count(new_row.begin(), new_row.end(), ',') == 17);
  CHECK(csv_column(out + "/metrics.csv", 2).size() == 2);

  const std::string foreign = (data.root / "foreign").string();
  fs::create_directories(foreign);
  write_file(foreign + "/metrics.csv", "step,loss\n1,2.0\n");
  Trainer f(options(tiny_args(data, foreign, "gap")));
  CHECK_THROWS_WITH(f.run(), doctest::Contains("are not the start of this version's; move it away"));
  CHECK(!fs::exists(foreign + "/checkpoint.safetensors"));  // refused before any training
  set_dataset_warnings_printed(true);
}

TEST_CASE("train_imagenet: the final line lists only the files that exist, and steps count from 0") {
  TinyData data;
  const std::string out = (data.root / "final").string(), log = (data.root / "final.txt").string();
  const std::string command = test::train_imagenet_program() + " --data " + data.root.string() +
                              " --arch resnet18 --stem small --width 0.125 --image-size 24 -b 4 --workers 1 --head gap"
                              " --max-steps 3 --no-eval --out " + out + " > " + log + " 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CAPTURE(text);
  CHECK(text.find("stopped after training step 2 (3 steps run; --max-steps)") != std::string::npos);
  const size_t final_at = text.find("final: no validation (--no-eval); wrote ");
  REQUIRE(final_at != std::string::npos);
  const std::string final_line = text.substr(final_at, text.find('\n', final_at) - final_at);
  CHECK(final_line.find("metrics.csv") != std::string::npos);
  CHECK(final_line.find("checkpoint.safetensors") != std::string::npos);
  CHECK(final_line.find("model_best") == std::string::npos);
}

TEST_CASE("train_imagenet --pretrained: a 10-class PyTorch ResNet-18 fine-tunes into 3 classes, frozen layers unchanged") {
  set_dataset_warnings_printed(false);
  TinyData data;
  const std::string weights = test::fixture_path("torch/r18_w16.pth");
  auto file = serialization::load_torch_file(weights);
  const std::string out = (data.root / "finetune").string();
  Trainer trainer(options({"--data", data.root.string(), "--image-size", "32", "--arch", "resnet18", "--width", "0.0625",
                           "--stem", "standard", "--last-stride", "2", "--head", "gap", "--pretrained", weights, "--freeze-layer", "5", "--classifier-factor", "10",
                           "--epochs", "2", "--batch-size", "6", "--lr", "0.05", "--wd", "1e-3", "--workers", "2",
                           "--print-freq", "1000", "--out", out}));
  RunResult r = trainer.run();
  REQUIRE(r.exit_code == 0);
  CHECK(std::isfinite(r.last_train_loss));
  int64_t frozen = 0, trained = 0;
  for (const auto& [name, p] : trainer.model().named_parameters()) {
    CAPTURE(name);
    const serialization::Value* original = file.object->find(name);
    if (name.rfind("fc.", 0) == 0) {  // re-initialised for 3 classes
      CHECK(p.size(0) == 3);
      continue;
    }
    REQUIRE(original != nullptr);
    const bool same = to_vector(p) == to_vector(original->tensor);
    // The reference's --freeze-layer 5: conv1, bn1, relu, maxpool, layer1.
    const bool should_freeze = name.rfind("conv1.", 0) == 0 || name.rfind("bn1.", 0) == 0 || name.rfind("layer1.", 0) == 0;
    CHECK(same == should_freeze);
    (should_freeze ? frozen : trained) += 1;
  }
  CHECK(frozen == 1 + 2 + 12);  // conv1.weight, bn1's weight and bias, layer1's two blocks of 2 convs + 2 BNs
  CHECK(trained > 0);
  CHECK(std::filesystem::exists(out + "/curves.svg"));  // redrawn after every epoch
  // --evaluate --pretrained: the weights as they are (10 classes; the data has 3, so labels fit).
  Trainer evaluation(options({"--data", data.root.string(), "--image-size", "32", "--arch", "resnet18", "--width",
                              "0.0625", "--stem", "standard", "--last-stride", "2", "--head", "gap", "--num-classes", "10",
                              "--pretrained", weights, "--evaluate", "--out", out + "-eval", "--workers", "2"}));
  RunResult e = evaluation.run();
  CHECK(e.exit_code == 0);
  CHECK(e.last_eval.images == 9);
  CHECK(std::isfinite(e.last_eval.loss));
  // A bad option is refused before any work.
  CHECK_THROWS_WITH_AS(options({"--pretrained", weights, "--resume", weights}), doctest::Contains("contradict"), Error);
  CHECK_THROWS_WITH_AS(options({"--freeze-layer", "-1"}), doctest::Contains("--freeze-layer must be >= 0"), Error);
}

TEST_CASE("train_imagenet --resume: the reference project's PyTorch checkpoint continues with its momentum and epoch") {
  set_dataset_warnings_printed(false);
  TinyData data;
  const std::string checkpoint = test::fixture_path("torch/ref_r50_pade.pth.tar");
  const std::string out = (data.root / "resume-ref").string();
  // The fixture: ResNet-50 at width 1/16, SVD-Padé head of dimension 16, 5 classes, saved at epoch 12.
  auto args = std::vector<std::string>{"--data", data.root.string(), "--image-size", "64", "--arch", "resnet50",
                                       "--width", "0.0625", "--stem", "standard", "--last-stride", "2", "--head", "svd-pade", "--head-dim", "16", "--num-classes", "5",
                                       "--epochs", "13", "--batch-size", "6", "--lr", "0.01", "--workers", "2",
                                       "--print-freq", "1000", "--out", out, "--resume", checkpoint, "--no-eval"};
  Trainer trainer(options(args));
  RunResult r = trainer.run();
  REQUIRE(r.exit_code == 0);
  CHECK(r.steps == 4);  // only epoch 12 (the 13th) was left: 24 images in batches of 6
  auto rows = csv_column(out + "/metrics.csv", 0);
  CHECK(rows == std::vector<double>{12});
}

TEST_CASE("train_imagenet under mpirun -np 2: one log, one metrics.csv, one checkpoint that resumes in 1 rank") {
  if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
    MESSAGE("mpirun not installed (openmpi-bin): skipped");
    return;
  }
  set_dataset_warnings_printed(false);
  TinyData data;
  const std::string out = (data.root / "ddp").string();
  std::string args;
  for (const auto& a : tiny_args(data, out, "svd-pade")) args += " '" + a + "'";
  const std::string command = dsvd::test::kMpiEnvironment + "timeout 300 "
                              "mpirun --oversubscribe -np 2 " + test::train_imagenet_program() + args +
                              " --epochs 2 --workers 1 > " + out + ".log 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream log(out + ".log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(text.find("data parallel: 2 ranks (mpi)") != std::string::npos);
  CHECK(text.find("repair scope: global") != std::string::npos);  // Padé repairs, over the global batch
  // One voice: each epoch line once (rank 1's standard output is silenced).
  size_t lines = 0;
  for (size_t at = text.find("Epoch 1: "); at != std::string::npos; at = text.find("Epoch 1: ", at + 1)) ++lines;
  CHECK(lines == 1);
  auto rows = csv_column(out + "/metrics.csv", 0);
  CHECK(rows == std::vector<double>{0, 1});
  // Validation covered all 9 images once, split over the ranks.
  CHECK(csv_column(out + "/metrics.csv", 15) == std::vector<double>{9, 9});
  // The checkpoint continues in a single process.
  auto resume = tiny_args(data, out, "svd-pade");
  resume.insert(resume.end(), {"--epochs", "3", "--resume", out + "/checkpoint.safetensors"});
  Trainer trainer(options(resume));
  RunResult r = trainer.run();
  CHECK(r.exit_code == 0);
  CHECK(csv_column(out + "/metrics.csv", 0) == std::vector<double>{0, 1, 2});
}

TEST_CASE("train_imagenet: a run stopped mid-epoch by 2 ranks goes on in 1 process with another batch size") {
  if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
    MESSAGE("mpirun not installed (openmpi-bin): skipped");
    return;
  }
  set_dataset_warnings_printed(false);
  TinyData data;  // 24 training images
  const std::string out = (data.root / "midepoch").string();
  auto args = tiny_args(data, out, "gap");
  *(std::find(args.begin(), args.end(), "--batch-size") + 1) = "3";
  *(std::find(args.begin(), args.end(), "--workers") + 1) = "1";
  std::string line;
  for (const auto& a : args) line += " '" + a + "'";
  // 2 steps of 2 ranks x 3: the first 12 examples of epoch 0's order.
  const std::string command = dsvd::test::kMpiEnvironment + "timeout 300 mpirun --oversubscribe -np 2 " +
                              test::train_imagenet_program() + line + " --max-steps 2 --no-eval > " + out + ".log 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  auto meta = nn::load_safetensors(out + "/checkpoint.safetensors").metadata;
  CHECK(meta["epoch"] == "0");
  CHECK(meta["examples"] == "12");
  CHECK(meta["ranks"] == "2");
  const std::string two_ranks = out + "/two_ranks.safetensors";
  fs::copy_file(out + "/checkpoint.safetensors", two_ranks);
  // One process with batches of 5: 12 is no whole number of them, so the epoch goes on by
  // examples: the 12 left are 3 batches (5, 5, 2), then epoch 1 is whole (5 batches).
  *(std::find(args.begin(), args.end(), "--batch-size") + 1) = "5";
  args.insert(args.end(), {"--epochs", "2", "--no-eval", "--resume", two_ranks});
  Trainer trainer(options(args));
  RunResult r = trainer.run();
  CHECK(r.exit_code == 0);
  CHECK(r.steps == 3 + 5);
  // Stopped again after 1 step of the rest: 12 + 5 examples done.
  auto again = args;
  again.insert(again.end(), {"--max-steps", "1"});
  Trainer first_step(options(again));
  REQUIRE(first_step.run().exit_code == 0);
  CHECK(nn::load_safetensors(out + "/checkpoint.safetensors").metadata["examples"] == "17");
}

TEST_CASE("train_imagenet under mpirun -np 2 --sync-bn: the weights of one process with the global batch") {
  if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
    MESSAGE("mpirun not installed (openmpi-bin): skipped");
    return;
  }
  set_dataset_warnings_printed(false);
  TinyData data;
  // The same 3 steps: 2 ranks x 3 images with synchronised batch norm, and 1 process x 6 images.
  // Rank r takes positions r, r + 2, ... of the epoch's order, so each step's global batch is the
  // single process's batch.
  auto args = [&](const std::string& out, const char* batch) {
    auto a = tiny_args(data, out, "gap");
    *(std::find(a.begin(), a.end(), "--batch-size") + 1) = batch;
    *(std::find(a.begin(), a.end(), "--workers") + 1) = "1";
    // A small learning rate: at 0.05 the first steps of this tiny net amplify rounding (the two
    // sides sum in different orders) by about 10^3 per step, which would hide a real difference.
    *(std::find(a.begin(), a.end(), "--lr") + 1) = "0.002";
    a.insert(a.end(), {"--max-steps", "3", "--no-eval"});
    return a;
  };
  const std::string ddp = (data.root / "syncbn").string(), single = (data.root / "single").string();
  std::string line;
  for (const auto& a : args(ddp, "3")) line += " '" + a + "'";
  // --deterministic: convolutions on im2col, whose sums do not depend on how the batch is split
  // (oneDNN's backward-weights does, and the steps would amplify that rounding past the check).
  const std::string command = dsvd::test::kMpiEnvironment + "timeout 300 "
                              "mpirun --oversubscribe -np 2 " + test::train_imagenet_program() + line +
                              " --sync-bn --deterministic > " + ddp + ".log 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  auto single_args = args(single, "6");
  single_args.push_back("--deterministic");
  Trainer trainer(options(single_args));
  REQUIRE(trainer.run().exit_code == 0);
  auto a = nn::load_safetensors(ddp + "/checkpoint.safetensors"), b = nn::load_safetensors(single + "/checkpoint.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  double worst = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    CAPTURE(a.tensors[i].first);
    REQUIRE(a.tensors[i].first == b.tensors[i].first);
    const Tensor x = a.tensors[i].second.to(DType::Float64), y = b.tensors[i].second.to(DType::Float64);
    const double norm = std::sqrt(sum(mul(y, y)).item());
    if (norm == 0) continue;
    worst = std::max(worst, std::sqrt(sum(mul(sub(x, y), sub(x, y))).item()) / norm);
  }
  INFO("worst relative difference " << worst);
  CHECK(worst <= 1e-5);
}
