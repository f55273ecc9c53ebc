// ImageFolder: class discovery and labels, recursive and case-insensitive file discovery,
// warnings for empty classes and undecodable formats, errors naming the path.
#include "datasets/image_folder.h"
#include "datasets/warnings.h"
#include "tests/datasets/dataset_test_util.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {
bool any_contains(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("image folder: classes are sorted folder names, labels their index, files sorted recursively") {
  set_dataset_warnings_printed(false);
  take_dataset_warnings();
  TempDir dir;
  std::string png = encode_png(uniform_image(4, 4, 1));
  write_file(dir.sub("train/b_cat/x.jpeg"), encode_jpeg(uniform_image(8, 8, 200)));
  write_file(dir.sub("train/a_dog/2.png"), png);
  write_file(dir.sub("train/a_dog/sub/1.PNG"), png);
  write_file(dir.sub("train/a_dog/notes.txt"), "not an image");
  write_file(dir.sub("train/b_cat/y.webp"), "RIFF....WEBP");
  std::filesystem::create_directories(dir.path / "train/c_empty");

  ImageFolder f((dir.path / "train").string());
  CHECK(f.classes() == std::vector<std::string>{"a_dog", "b_cat", "c_empty"});
  REQUIRE(f.size() == 3);
  CHECK(f.samples()[0].path.find("a_dog/2.png") != std::string::npos);
  CHECK(f.samples()[1].path.find("a_dog/sub/1.PNG") != std::string::npos);
  CHECK(f.samples()[0].label == 0);
  CHECK(f.samples()[1].label == 0);
  CHECK(f.samples()[2].label == 1);
  auto warnings = take_dataset_warnings();
  CHECK(any_contains(warnings, "c_empty holds no images"));
  CHECK(any_contains(warnings, "1 .tif/.tiff/.webp file(s)"));

  // val/ read with train's classes: same labels; an unknown class folder is an error.
  write_file(dir.sub("val/b_cat/v.png"), png);
  ImageFolder val((dir.path / "val").string(), f.classes());
  REQUIRE(val.size() == 1);
  CHECK(val.samples()[0].label == 1);
  CHECK(any_contains(take_dataset_warnings(), "class 'a_dog' has no folder"));
  write_file(dir.sub("val/zebra/z.png"), png);
  CHECK_THROWS_WITH_AS(ImageFolder((dir.path / "val").string(), f.classes()), doctest::Contains("zebra"), Error);
  set_dataset_warnings_printed(true);
}

TEST_CASE("image folder: a missing root or a split without class folders names the path") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(ImageFolder((dir.path / "nope").string()), doctest::Contains("nope does not exist"), Error);
  write_file(dir.sub("flat/a.png"), "x");
  CHECK_THROWS_WITH_AS(ImageFolder((dir.path / "flat").string()), doctest::Contains("has no class sub-folders"), Error);
  CHECK_THROWS_WITH_AS(ImageFolder((dir.path / "flat/a.png").string()), doctest::Contains("is not a folder"), Error);
  CHECK(has_image_extension("A.JPG"));
  CHECK(has_image_extension("b.Jpeg"));
  CHECK(has_image_extension("c.ppm"));
  CHECK(!has_image_extension("d.gif"));
}
