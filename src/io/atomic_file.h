// AtomicFile: write a file so that readers only ever see the old file or the complete new
// one. Bytes go to PATH.tmp-<pid>; commit() fsyncs it, renames it over PATH and fsyncs the
// directory. Destroyed without commit() (e.g. on an exception), it removes the temp file; the
// temp file is registered as a temporary output, so SIGINT removes it too (steer/outputs.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace steer {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws steer::Error naming the path
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // buffered
  uint64_t bytes_written() const { return written_; }
  void commit();

 private:
  void flush_buffer();
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace steer
