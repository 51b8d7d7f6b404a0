#include "client/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace quantd::client {
namespace {

namespace fs = std::filesystem;

bool IsImageFile(const fs::path& path) {
  // The formats the server decodes (engine/data/image_preprocessing.h).
  static const std::set<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp"};
  if (path.filename().string().starts_with(".")) return false;
  return kExtensions.contains(absl::AsciiStrToLower(path.extension().string()));
}

}  // namespace

absl::StatusOr<ImageFolder> ScanImageFolder(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return absl::NotFoundError(absl::StrCat("--images='", root, "' is not a folder"));
  }
  std::vector<fs::path> relative;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && IsImageFile(it->path())) {
      relative.push_back(fs::relative(it->path(), root, ec));
    }
  }
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot read folder '", root, "': ", ec.message()));
  }
  if (relative.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", root, "' holds no .png/.jpg/.jpeg/.bmp images"));
  }
  std::sort(relative.begin(), relative.end());

  size_t flat = 0;
  size_t in_class = 0;
  for (const fs::path& p : relative) {
    const size_t depth = static_cast<size_t>(std::distance(p.begin(), p.end()));
    if (depth == 1) {
      ++flat;
    } else if (depth == 2) {
      ++in_class;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", (fs::path(root) / p).string(),
          "' is nested too deep; put images directly in the folder (no labels) or in one "
          "subfolder per class (labels from the folder names)"));
    }
  }
  if (flat > 0 && in_class > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", root, "' mixes ", flat, " loose images with ", in_class,
        " images in class folders; use either a flat folder (no labels) or one subfolder per "
        "class"));
  }

  ImageFolder folder;
  std::map<std::string, int32_t> class_index;
  if (in_class > 0) {
    for (const fs::path& p : relative) class_index.emplace(p.begin()->string(), 0);
    for (auto& [name, index] : class_index) {
      index = static_cast<int32_t>(folder.classes.size());
      folder.classes.push_back(name);
    }
  }
  for (const fs::path& p : relative) {
    folder.files.push_back((fs::path(root) / p).string());
    if (in_class > 0) folder.labels.push_back(class_index.at(p.begin()->string()));
  }
  return folder;
}

std::vector<int64_t> ImageIndicesInMessage(const std::string& message) {
  std::vector<int64_t> indices;
  size_t pos = message.find("image");
  while (pos != std::string::npos) {
    size_t i = pos + 5;
    if (i < message.size() && message[i] == 's') ++i;
    // A list of numbers separated by ", " follows "image " / "images ".
    bool found = false;
    while (i < message.size() && message[i] == ' ') {
      size_t j = i + 1;
      while (j < message.size() && absl::ascii_isdigit(static_cast<unsigned char>(message[j]))) ++j;
      int64_t index = 0;
      if (j == i + 1 || !absl::SimpleAtoi(message.substr(i + 1, j - i - 1), &index)) break;
      indices.push_back(index);
      found = true;
      i = j;
      if (i < message.size() && message[i] == ',') ++i;
    }
    if (found) return indices;
    pos = message.find("image", pos + 5);
  }
  return indices;
}

}  // namespace quantd::client
