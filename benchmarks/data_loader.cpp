// data_loader benchmark: images/s of decode + RandomResizedCrop(224) + flip + normalise +
// batching, through dsvd's DataLoader and through torchvision's (benchmarks/pytorch_reference.py)
// on the same generated folder, with 1 and 2 worker threads/processes, in the same run.
//
// The folder holds 500x375 JPEGs (quality 90) of smooth colour fields with noise, like photos in
// size and entropy. Each side times the epochs after a warm-up epoch; rounds alternate dsvd and
// torchvision; the table shows medians and dsvd / torchvision.
#include <cstdio>
#include <filesystem>
#include <vector>

#include "apps/timing.h"
#include "benchmarks/peer.h"
#include "datasets/data_loader.h"
#include "datasets/warnings.h"
#include "tensor/random.h"

using namespace dsvd;
namespace fs = std::filesystem;

namespace {

void generate_folder(const fs::path& root, int images) {
  Generator gen(7);
  for (int i = 0; i < images; ++i) {
    Tensor noise = randint(0, 24, {375 * 500 * 3}, DType::Int64, &gen);
    const int64_t* n = noise.data<int64_t>();
    Image img{500, 375, std::vector<uint8_t>(500 * 375 * 3)};
    for (int y = 0; y < 375; ++y)
      for (int x = 0; x < 500; ++x)
        for (int c = 0; c < 3; ++c) {
          size_t k = (size_t(y) * 500 + size_t(x)) * 3 + size_t(c);
          img.pixels[k] = uint8_t((x * (c + 1) / 4 + y / 3 + 37 * i + int(n[k])) % 256);
        }
    fs::path dir = root / ("class" + std::to_string(i % 4));
    fs::create_directories(dir);
    write_file((dir / ("img" + std::to_string(i) + ".jpg")).string(), encode_jpeg(img, 90));
  }
}

// Writes an input image and dsvd's resizes/crops of it for the peer to recompute with Pillow.
void write_transform_cases(const fs::path& dir) {
  fs::create_directories(dir);
  Generator gen(1);
  Tensor noise = randint(0, 256, {173 * 211 * 3}, DType::Int64, &gen);
  Image img{211, 173, std::vector<uint8_t>(211 * 173 * 3)};
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t(noise.data<int64_t>()[i]);
  auto put = [&](const char* name, const Image& im) { write_file((dir / name).string(), encode_png(im)); };
  put("input.png", img);
  put("resize_224x224.png", resize(img, 224, 224));
  put("resize_50x60.png", resize(img, 50, 60));
  put("resize_300x211.png", resize(img, 300, 211));
  put("resized_crop.png", resize_region(img, {10, 20, 100, 150}, 224, 224));
  put("resize256_center224.png", center_crop(resize_shorter_side(img, 256), 224, 224));
}

double dsvd_images_per_second(const std::string& root, int workers, int epochs) {
  auto data = std::make_shared<ImageFolderDataset>(ImageFolder(root), imagenet_train_transform(224));
  DataLoaderOptions opt;
  opt.batch_size = 32;
  opt.shuffle = true;
  opt.workers = workers;
  DataLoader loader(data, opt);
  std::vector<double> rates;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    double t0 = now_seconds();
    size_t count = 0;
    loader.start_epoch(uint64_t(epoch));
    while (auto b = loader.next()) count += size_t(b->labels.numel());
    if (epoch > 0) rates.push_back(double(count) / (now_seconds() - t0));
  }
  double sum = 0;
  for (double r : rates) sum += r;
  return sum / double(rates.size());
}

}  // namespace

int main(int argc, char** argv) {
  int images = argc > 1 ? std::atoi(argv[1]) : 192;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  std::string script = (fs::path(argv[0]).parent_path() / "../../benchmarks/pytorch_reference.py").string();
  if (const char* s = std::getenv("DSVD_PEER_SCRIPT")) script = s;
  fs::path root = fs::temp_directory_path() / ("dsvd_loader_bench_" + std::to_string(getpid()));
  std::printf("data_loader: %d generated 500x375 JPEGs, RandomResizedCrop(224) + flip + normalise, batch 32\n", images);
  std::printf("dsvd JPEG decoder: %s; peer: torchvision via %s\n\n", jpeg_decoder_name(), peer_python().c_str());
  write_transform_cases(root / "transform_cases");
  auto diff = run_peer(script, "transforms_check --dir " + (root / "transform_cases").string(), "max_abs_diff");
  if (diff) std::printf("resize/crop outputs vs torchvision+Pillow on a 211x173 noise image: max |difference| = %g\n\n", *diff);
  fs::remove_all(root / "transform_cases");
  generate_folder(root, images);
  set_dataset_warnings_printed(true);

  std::printf("%-8s %16s %22s %8s\n", "workers", "dsvd images/s", "torchvision images/s", "ratio");
  for (int workers : {1, 2}) {
    std::vector<double> ours, theirs;
    for (int r = 0; r < rounds; ++r) {
      ours.push_back(dsvd_images_per_second(root.string(), workers, 3));
      auto peer = run_peer(script, "data_loader --root " + root.string() + " --workers " + std::to_string(workers) +
                                       " --epochs 3", "images_per_s");
      if (peer) theirs.push_back(*peer);
    }
    double m_ours = median(ours), m_theirs = theirs.empty() ? 0 : median(theirs);
    if (theirs.empty())
      std::printf("%-8d %16.1f %22s %8s\n", workers, m_ours, "unavailable", "-");
    else
      std::printf("%-8d %16.1f %22.1f %8.2f\n", workers, m_ours, m_theirs, m_ours / m_theirs);
  }
  fs::remove_all(root);
  return 0;
}
