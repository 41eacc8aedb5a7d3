// MappedFile: a whole file mapped read-only into memory (RAII: unmapped when destroyed).
// Both model readers (GGUF, safetensors) sit on it, so a 500 MB model costs no copy and
// no read time until a tensor is touched. Not for files that change while mapped.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace steer {

class MappedFile {
 public:
  // Maps `path` read-only. Throws steer::Error naming the file when it cannot be opened,
  // is not a regular file, or cannot be mapped. An empty file maps to size() == 0.
  static std::unique_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace steer
