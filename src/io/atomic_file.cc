// AtomicFile: temp file + fsync + rename + directory fsync (POSIX).
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "steer/error.h"
#include "steer/outputs.h"

namespace steer {

namespace {
constexpr size_t kBufferSize = 4u << 20;

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmp_path_ = path_ + ".tmp-" + std::to_string(::getpid());
  register_temporary_output(tmp_path_);  // SIGINT removes it (steer/outputs.h)
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    unregister_temporary_output(tmp_path_);
    fail("cannot create '" + tmp_path_ + "' to write '" + path_ + "': " + std::strerror(err),
         err == ENOENT ? "the output directory does not exist; create it first" : "check the output directory's permissions");
  }
  buffer_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(tmp_path_.c_str());
    unregister_temporary_output(tmp_path_);
  }
}

void AtomicFile::flush_buffer() {
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      fail("cannot write '" + tmp_path_ + "': " + std::strerror(err),
           err == ENOSPC ? "the disk is full" : "");
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicFile::write(const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  written_ += n;
  while (n > 0) {
    const size_t take = std::min(n, kBufferSize - buffer_.size());
    buffer_.insert(buffer_.end(), p, p + take);
    p += take;
    n -= take;
    if (buffer_.size() == kBufferSize) flush_buffer();
  }
}

void AtomicFile::commit() {
  if (committed_) fail("AtomicFile::commit called twice for '" + path_ + "'");
  flush_buffer();
  if (::fsync(fd_) != 0) {
    const int err = errno;
    fail("cannot fsync '" + tmp_path_ + "': " + std::strerror(err));
  }
  if (::close(fd_) != 0) {
    const int err = errno;
    fd_ = -1;
    fail("cannot close '" + tmp_path_ + "': " + std::strerror(err));
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    fail("cannot rename '" + tmp_path_ + "' to '" + path_ + "': " + std::strerror(err));
  }
  committed_ = true;
  unregister_temporary_output(tmp_path_);
  // Make the rename itself durable. Failure here is not fatal: the data is complete.
  const int dfd = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace steer
