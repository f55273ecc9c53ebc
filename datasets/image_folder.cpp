#include "datasets/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "datasets/warnings.h"
#include "tensor/error.h"

namespace dsvd {
namespace fs = std::filesystem;
namespace {

std::string lowercase_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool has_undecodable_extension(const std::string& path) {
  std::string ext = lowercase_extension(path);
  return ext == ".tif" || ext == ".tiff" || ext == ".webp";
}

std::vector<std::string> class_folders(const std::string& root) {
  std::error_code ec;
  DSVD_CHECK(fs::exists(root, ec), "ImageFolder: ", root, " does not exist");
  DSVD_CHECK(fs::is_directory(root, ec), "ImageFolder: ", root, " is not a folder");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(root, fs::directory_options::follow_directory_symlink, ec))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  DSVD_CHECK(!ec, "ImageFolder: cannot list ", root, " (", ec.message(), ")");
  std::sort(names.begin(), names.end());
  DSVD_CHECK(!names.empty(), "ImageFolder: ", root, " has no class sub-folders (expected ", root,
             "/<class>/<image files>)");
  return names;
}

}  // namespace

bool has_image_extension(const std::string& path) {
  static const std::set<std::string> kTaken = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm"};
  return kTaken.count(lowercase_extension(path)) > 0;
}

ImageFolder::ImageFolder(const std::string& root) : root_(root) {
  classes_ = class_folders(root);
  scan(classes_);
}

ImageFolder::ImageFolder(const std::string& root, const std::vector<std::string>& classes)
    : root_(root), classes_(classes) {
  std::vector<std::string> present = class_folders(root);
  for (const auto& name : present)
    DSVD_CHECK(std::binary_search(classes_.begin(), classes_.end(), name) ||
                   std::find(classes_.begin(), classes_.end(), name) != classes_.end(),
               "ImageFolder: ", (fs::path(root) / name).string(), " is not one of the ", classes_.size(),
               " classes of the training split; its images would get no label");
  scan(present);
}

void ImageFolder::scan(const std::vector<std::string>& folders_present) {
  std::set<std::string> present(folders_present.begin(), folders_present.end());
  for (size_t label = 0; label < classes_.size(); ++label) {
    const std::string& name = classes_[label];
    fs::path dir = fs::path(root_) / name;
    if (!present.count(name)) {
      dataset_warning("ImageFolder: class '" + name + "' has no folder in " + root_);
      continue;
    }
    std::vector<std::string> files;
    size_t undecodable = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file()) continue;
      std::string p = it->path().string();
      if (has_image_extension(p)) files.push_back(p);
      else if (has_undecodable_extension(p)) ++undecodable;
    }
    DSVD_CHECK(!ec, "ImageFolder: cannot list ", dir.string(), " (", ec.message(), ")");
    std::sort(files.begin(), files.end());
    if (undecodable)
      dataset_warning("ImageFolder: " + std::to_string(undecodable) + " .tif/.tiff/.webp file(s) in " + dir.string() +
                      " ignored (dsvd decodes jpg, jpeg, png, bmp, ppm, pgm)");
    if (files.empty()) dataset_warning("ImageFolder: class folder " + dir.string() + " holds no images");
    for (auto& f : files) samples_.push_back({std::move(f), int64_t(label)});
  }
}

}  // namespace dsvd
