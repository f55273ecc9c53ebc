// DataLoader: the same batches in the same order for 0, 1 and 4 workers and across runs; labels
// that always match their images; unreadable files skipped, named and counted; drop_last,
// shuffling per epoch, and a clean early stop.
#include "datasets/data_loader.h"
#include "datasets/warnings.h"
#include "tests/datasets/dataset_test_util.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {

constexpr int kClassValue[3] = {20, 100, 180};  // each class's images are flat in this gray

// 3 classes x 8 images of assorted sizes (PNG and JPEG), plus a truncated JPEG and a text file
// named .jpg, which the loader must skip.
std::string make_folder(const TempDir& dir) {
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < 8; ++i) {
      Image img = uniform_image(30 + 7 * i, 24 + 5 * ((i + k) % 4), kClassValue[k]);
      std::string name = "train/class" + std::to_string(k) + "/img" + std::to_string(i);
      if (i % 2) write_file(dir.sub(name + ".jpg"), encode_jpeg(img));
      else write_file(dir.sub(name + ".png"), encode_png(img));
    }
  std::string jpeg = encode_jpeg(uniform_image(64, 64, 100));
  write_file(dir.sub("train/class1/truncated.jpg"), jpeg.substr(0, jpeg.size() / 2));
  write_file(dir.sub("train/class2/readme.jpg"), "this is a text file named .jpg");
  return (dir.path / "train").string();
}

struct EpochRecord {
  std::vector<std::vector<double>> images, labels;
  size_t skipped = 0;
};

EpochRecord run_epoch(std::shared_ptr<const Dataset> data, int workers, uint64_t epoch, size_t batch = 4,
                      bool drop_last = false) {
  DataLoaderOptions opt;
  opt.batch_size = batch;
  opt.shuffle = true;
  opt.seed = 3;
  opt.workers = workers;
  opt.drop_last = drop_last;
  DataLoader loader(data, opt);
  loader.start_epoch(epoch);
  EpochRecord r;
  while (auto b = loader.next()) {
    r.images.push_back(to_vector(b->images));
    r.labels.push_back(to_vector(b->labels));
  }
  r.skipped = loader.skipped_this_epoch();
  return r;
}

}  // namespace

TEST_CASE("data loader: identical batches for 0, 1 and 4 workers and across runs; labels match images") {
  set_dataset_warnings_printed(false);
  take_dataset_warnings();
  TempDir dir;
  auto data = std::make_shared<ImageFolderDataset>(ImageFolder(make_folder(dir)), imagenet_train_transform(16));
  REQUIRE(data->size() == 26);

  EpochRecord one = run_epoch(data, 1, 2);
  EpochRecord four = run_epoch(data, 4, 2);
  EpochRecord again = run_epoch(data, 4, 2);
  EpochRecord inline_ = run_epoch(data, 0, 2);
  CHECK(one.images == four.images);
  CHECK(one.labels == four.labels);
  CHECK(four.images == again.images);
  CHECK(one.images == inline_.images);
  CHECK(one.skipped == 2);

  size_t examples = 0;
  for (size_t b = 0; b < one.labels.size(); ++b) {
    size_t n = one.labels[b].size();
    examples += n;
    REQUIRE(one.images[b].size() == n * 3 * 16 * 16);
    for (size_t i = 0; i < n; ++i) {
      // The image's first value identifies its class: (v/255 - 0.485) / 0.229 for gray v.
      double v = one.images[b][i * 3 * 16 * 16];
      int label = int(one.labels[b][i]);
      double expected = (kClassValue[label] / 255.0 - 0.485) / 0.229;
      CHECK(std::fabs(v - expected) < 3.0 / 255.0 / 0.229);  // JPEG may move a flat gray by a level or two
    }
  }
  CHECK(examples == 24);

  auto warnings = take_dataset_warnings();
  auto mentions = [&](const std::string& text) {
    for (const auto& w : warnings)
      if (w.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(mentions("truncated.jpg"));
  CHECK(mentions("readme.jpg"));
  CHECK(mentions("epoch 2: 2 unreadable example(s) skipped"));
  set_dataset_warnings_printed(true);
}

TEST_CASE("data loader: batch counts, drop_last, per-epoch shuffling, early stop") {
  set_dataset_warnings_printed(false);
  FashionMnistOptions fo;
  fo.train = false;  // 10,000 test images: quick to load
  auto mnist = std::make_shared<FashionMnistDataset>(fo);
  DataLoaderOptions opt;
  opt.batch_size = 64;
  opt.workers = 2;
  opt.shuffle = true;
  opt.seed = 1;
  {
    DataLoader loader(mnist, opt);
    CHECK(loader.num_batches() == 157);  // ceil(10000 / 64)
    loader.start_epoch(0);
    std::vector<size_t> order0 = loader.order();
    auto b = loader.next();
    REQUIRE(b.has_value());
    CHECK(b->images.sizes() == Shape{64, 1, 28, 28});
    CHECK(b->labels.dtype() == DType::Int64);
    // Labels are those of the permuted examples.
    for (int i = 0; i < 64; ++i)
      CHECK(b->labels.data<int64_t>()[i] == mnist->data().labels.data<int64_t>()[order0[size_t(i)]]);
    loader.start_epoch(1);  // abandons epoch 0 mid-way
    CHECK(loader.order() != order0);
    std::vector<size_t> sorted = loader.order();
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) REQUIRE(sorted[i] == i);  // a permutation
    size_t count = 0, last = 0;
    while (auto batch = loader.next()) {
      ++count;
      last = size_t(batch->labels.numel());
    }
    CHECK(count == 157);
    CHECK(last == 10000 - 156 * 64);
    loader.start_epoch(2);
    loader.next();
    // Destroying the loader with batches in flight must not hang.
  }
  opt.drop_last = true;
  opt.workers = 0;
  DataLoader dropping(mnist, opt);
  CHECK(dropping.num_batches() == 156);
  fo.channels = 3;
  fo.random_flip = true;
  auto rgb = std::make_shared<FashionMnistDataset>(fo);
  SampleRng rng(0, 0, 5);
  Example e = rgb->get(5, rng);
  CHECK(e.image.sizes() == Shape{3, 28, 28});
  CHECK(to_vector(e.image.select(0, 0)) == to_vector(e.image.select(0, 2)));
  CHECK_THROWS_WITH_AS(DataLoader(mnist, DataLoaderOptions{0}), doctest::Contains("batch_size must be positive"), Error);
  DataLoader unstarted(mnist, opt);
  CHECK_THROWS_WITH_AS(unstarted.next(), doctest::Contains("start_epoch"), Error);
  set_dataset_warnings_printed(true);
}

TEST_CASE("data loader: shards as PyTorch's DistributedSampler, padded for training, exact for validation") {
  set_dataset_warnings_printed(false);
  FashionMnistOptions fo;
  fo.train = false;  // 10,000 examples: 3 ranks do not divide it
  auto mnist = std::make_shared<FashionMnistDataset>(fo);
  DataLoaderOptions opt;
  opt.batch_size = 100;
  opt.workers = 0;
  opt.shuffle = true;
  opt.seed = 4;
  DataLoader whole(mnist, opt);
  whole.start_epoch(3);
  const std::vector<size_t> order = whole.order();
  for (bool pad : {true, false}) {
    CAPTURE(pad);
    std::vector<size_t> seen;
    std::vector<size_t> sizes;
    for (size_t rank = 0; rank < 3; ++rank) {
      DataLoaderOptions o = opt;
      o.replicas = 3;
      o.rank = rank;
      o.pad_shards = pad;
      DataLoader shard(mnist, o);
      shard.start_epoch(3);
      // Example k of the common order goes to rank k mod 3 (the padding repeats the order's start).
      for (size_t i = 0; i < shard.order().size(); ++i) CHECK(shard.order()[i] == order[(3 * i + rank) % order.size()]);
      CHECK(shard.shard_size() == shard.order().size());
      sizes.push_back(shard.order().size());
      seen.insert(seen.end(), shard.order().begin(), shard.order().end());
    }
    std::sort(seen.begin(), seen.end());
    if (pad) {
      CHECK(sizes == std::vector<size_t>{3334, 3334, 3334});
      CHECK(seen.size() == 10002);  // two examples twice
      CHECK(std::unique(seen.begin(), seen.end()) - seen.begin() == 10000);
    } else {
      CHECK(sizes == std::vector<size_t>{3334, 3333, 3333});
      for (size_t i = 0; i < seen.size(); ++i) REQUIRE(seen[i] == i);  // disjoint, and all of it
    }
  }
  DataLoaderOptions bad = opt;
  bad.replicas = 2;
  bad.rank = 2;
  CHECK_THROWS_WITH_AS(DataLoader(mnist, bad), doctest::Contains("rank 2 of 2 replicas"), Error);
}

TEST_CASE("data loader: an epoch resumes after any number of examples, for any rank count and batch size") {
  set_dataset_warnings_printed(false);
  FashionMnistOptions fo;
  fo.train = false;  // 10,000 examples
  auto mnist = std::make_shared<FashionMnistDataset>(fo);
  DataLoaderOptions opt;
  opt.batch_size = 100;
  opt.workers = 0;
  opt.shuffle = true;
  opt.seed = 4;
  DataLoader whole(mnist, opt);
  whole.start_epoch(3);
  const std::vector<size_t> order = whole.order();
  auto shard_loader = [&](size_t replicas, size_t rank) {
    DataLoaderOptions o = opt;
    o.replicas = replicas;
    o.rank = rank;
    return std::make_unique<DataLoader>(mnist, o);
  };
  SUBCASE("a job of 2 ranks x batch 7 stopped after 5 steps (70 examples) goes on in 3 ranks x batch 100") {
    std::vector<size_t> rest(order.size() - 70);
    size_t total = 0;
    for (size_t rank = 0; rank < 3; ++rank) {
      auto loader = shard_loader(3, rank);
      loader->resume_epoch(3, 70);
      const auto& mine = loader->order();
      // 9,930 examples left: 3,310 per rank, interleaved as the whole epoch's shards are.
      CHECK(mine.size() == 3310);
      CHECK(loader->batches_this_epoch() == 34);
      CHECK(loader->num_batches() == 34);  // a whole epoch of this layout: 3,334 / 100 rounded up
      for (size_t i = 0; i < mine.size(); ++i) REQUIRE(mine[i] == order[70 + 3 * i + rank]);
      for (size_t i = 0; i < mine.size(); ++i) rest[3 * i + rank] = mine[i];
      total += mine.size();
    }
    // The examples done and the rest: every example of the epoch exactly once, in its order.
    CHECK(total == order.size() - 70);
    CHECK(std::equal(rest.begin(), rest.end(), order.begin() + 70));
  }
  SUBCASE("a whole number of this layout's steps: the same batches as start_epoch from that batch") {
    for (size_t rank = 0; rank < 3; ++rank) {
      auto resumed = shard_loader(3, rank), started = shard_loader(3, rank);
      resumed->resume_epoch(3, 600);  // 2 steps of 3 x 100
      started->start_epoch(3, 2);
      CHECK(resumed->batches_this_epoch() == started->batches_this_epoch() - 2);
      const auto& a = resumed->order();
      const auto& b = started->order();
      REQUIRE(a.size() == b.size() - 200);
      CHECK(std::equal(a.begin(), a.end(), b.begin() + 200));  // padding included
      auto x = resumed->next(), y = started->next();
      REQUIRE(x.has_value());
      REQUIRE(y.has_value());
      CHECK(x->index == 0);
      CHECK(y->index == 2);
      CHECK(to_vector(x->labels) == to_vector(y->labels));
    }
  }
  SUBCASE("inside the padding the epoch is over; past it is an error") {
    auto loader = shard_loader(3, 1);
    CHECK(loader->global_epoch_size() == 10002);
    loader->resume_epoch(3, 10001);
    CHECK(loader->batches_this_epoch() == 0);
    CHECK_FALSE(loader->next().has_value());
    CHECK_THROWS_WITH_AS(loader->resume_epoch(3, 10003), doctest::Contains("10003 examples done, but an epoch has 10002"),
                         Error);
  }
}
