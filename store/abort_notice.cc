#include "store/abort_notice.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace exo::store {
namespace {

std::mutex mu;
int alive = 0;                  // AbortNotices alive. Guarded by mu.
struct sigaction previous;      // The handler before the first. Guarded by mu.
char notice[1024];              // The latest notice (written under mu, read by the handler).
volatile size_t notice_length = 0;

void OnAbort(int sig, siginfo_t* info, void* context) {
  // Async-signal-safe: one write(2), then the handler that was there before (a crash reporter,
  // a sanitizer's); returning lets abort(3) go on and stop the process.
  const ssize_t ignored = ::write(2, notice, notice_length);
  (void)ignored;
  if ((previous.sa_flags & SA_SIGINFO) != 0) {
    if (previous.sa_sigaction != nullptr) previous.sa_sigaction(sig, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN && previous.sa_handler != nullptr) {
    previous.sa_handler(sig);
  }
}

}  // namespace

AbortNotice::AbortNotice(const std::string& path) {
  const std::string text = absl::StrCat(
      "\nexoroute: the process stopped while opening the database at ", path,
      ": RocksDB asserted on one of its files, which is damaged in a way its checksums do not catch. "
      "The database cannot be opened as it is: restore the node's data directory from a backup "
      "(docs/deployment.md, Backups).\n");
  std::lock_guard<std::mutex> lock(mu);
  notice_length = 0;
  const size_t n = std::min(text.size(), sizeof(notice));
  std::memcpy(notice, text.data(), n);
  notice_length = n;
  if (alive++ == 0) {
    struct sigaction sa {};
    sa.sa_sigaction = &OnAbort;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, &previous);
  }
}

AbortNotice::~AbortNotice() {
  std::lock_guard<std::mutex> lock(mu);
  if (--alive == 0) sigaction(SIGABRT, &previous, nullptr);
}

}  // namespace exo::store
