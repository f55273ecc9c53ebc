// ImageFolder: the ImageNet layout root/<class>/<image>, as torchvision's ImageFolder reads it.
// Classes are the sorted names of root's sub-folders and a label is its class's index; images are
// found recursively inside each class folder, in sorted order, by extension (.jpg .jpeg .png .bmp
// .ppm .pgm, any case). Files with other extensions are ignored; .tif/.tiff/.webp files, which
// torchvision would take but dsvd cannot decode, are counted and reported in a warning.
#pragma once
#include <string>
#include <vector>

namespace dsvd {

class ImageFolder {
 public:
  struct Sample {
    std::string path;
    int64_t label;
  };

  // Discovers the classes of `root`. Throws dsvd::Error naming the path when root is missing,
  // not a folder, or has no class sub-folders. A class folder without images gives a warning.
  explicit ImageFolder(const std::string& root);
  // Reads `root` with a given class list (the train split's), so val labels mean the same
  // classes. A sub-folder of root that is not in `classes` is an error naming it; a class with
  // no folder in root gives a warning.
  ImageFolder(const std::string& root, const std::vector<std::string>& classes);

  const std::string& root() const { return root_; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<Sample>& samples() const { return samples_; }
  size_t size() const { return samples_.size(); }

 private:
  void scan(const std::vector<std::string>& folders_present);
  std::string root_;
  std::vector<std::string> classes_;
  std::vector<Sample> samples_;
};

// True for the extensions ImageFolder takes (case-insensitive).
bool has_image_extension(const std::string& path);

}  // namespace dsvd
