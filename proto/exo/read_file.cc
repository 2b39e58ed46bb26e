#include "exo/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace exo {
namespace {

absl::Status Failed(const std::string& path, int err) {
  const absl::StatusCode code = err == ENOENT                  ? absl::StatusCode::kNotFound
                                : err == EACCES || err == EPERM ? absl::StatusCode::kPermissionDenied
                                                                : absl::StatusCode::kFailedPrecondition;
  return absl::Status(code, absl::StrCat(path, ": ", std::strerror(err)));
}

}  // namespace

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failed(path, errno);
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;  // (EISDIR for a directory.)
      ::close(fd);
      return Failed(path, err);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace exo
