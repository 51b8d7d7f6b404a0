#ifndef QUANTD_CLIENT_IMAGE_FOLDER_H_
#define QUANTD_CLIENT_IMAGE_FOLDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quantd::client {

// The images of a folder in upload order. In the ImageFolder convention
// (every image one level down, in a folder per class) the class folders,
// sorted by name, give the labels; a flat folder gives none.
struct ImageFolder {
  std::vector<std::string> files;    // sorted by path
  std::vector<std::string> classes;  // empty for a flat folder
  std::vector<int32_t> labels;       // empty, or one class index per file
};

// Scans `root` recursively for image files (by extension: png, jpg, jpeg,
// bmp: the formats the server decodes; hidden files skipped). INVALID_ARGUMENT
// telling the user how to arrange the folder when it holds no images or mixes
// loose images with class folders or nests deeper than one level.
absl::StatusOr<ImageFolder> ScanImageFolder(const std::string& root);

// The image indices a server message names ("image 3 is ..." or
// "images 3, 17 are ..."), so the client can say which files they are.
std::vector<int64_t> ImageIndicesInMessage(const std::string& message);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_IMAGE_FOLDER_H_
