// MappedFile: POSIX open + fstat + mmap(PROT_READ, MAP_PRIVATE). O_NONBLOCK: opening a FIFO
// for reading would otherwise wait forever for a writer; fstat then refuses it.
#include "io/mmap_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "steer/error.h"

namespace steer {

std::unique_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    fail("cannot open '" + path + "': " + std::strerror(err),
         err == ENOENT ? "check the path (it is resolved from the current directory)" : "");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail("cannot stat '" + path + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("'" + path + "' is not a regular file" + (S_ISDIR(st.st_mode) ? " (a directory)" : " (a pipe, socket or device)"),
         "pass the path of a model or vector file saved on disk");
  }
  size_t size = static_cast<size_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      fail("cannot memory-map '" + path + "' (" + std::to_string(size) + " bytes): " + std::strerror(err));
    }
    data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps its own reference to the file
  return std::unique_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace steer
