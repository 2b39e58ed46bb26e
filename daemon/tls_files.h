// TlsFiles: the certificate files a gRPC port serves, re-read while the daemon runs.
//
// The configured files (tls.cert_file, tls.key_file, tls.ca_file, or the development ones) are
// the operator's; the port serves a checked copy of them under <data_dir>/tls/ that gRPC
// re-reads (its file watcher, every tls.reload_interval_s). Each Refresh reads the operator's
// files and, when they changed and make a usable set — the certificate chain and the CA parse,
// the key is the certificate's, the certificate is within its validity — replaces the copy:
// the key and the chain in one file (one rename: gRPC never reads a new key with an old
// certificate) and the CA in another. A set that is not usable (a half-written file, a key for
// another certificate, an expired certificate) is refused with the reason and the port goes on
// serving the last good set: gRPC's watcher alone would drop its identity on a failed read and
// refuse every new connection.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/tls_certificate_provider.h"

namespace exo::daemon {

struct TlsSources {
  std::string cert_file, key_file, ca_file;
};

// Whether `sources` make a set a port can serve (what Create and Refresh check), without
// writing anything: the served certificate's end of validity, or what is wrong, naming the file.
absl::StatusOr<int64_t> CheckTlsFiles(const TlsSources& sources);

class TlsFiles {
 public:
  // Checks `sources` and writes the first copy under `live_dir`; an unusable set is an error
  // naming the file and what is wrong (start-up refuses it).
  static absl::StatusOr<TlsFiles> Create(TlsSources sources, const std::string& live_dir);

  // Re-reads the sources; replaces the copy when they changed and are usable. Returns whether
  // it replaced it, or why the changed files were refused (the copy stays).
  absl::StatusOr<bool> Refresh();

  // What gRPC reads: the key followed by the certificate chain, and the CA bundle.
  const std::string& identity_file() const { return identity_file_; }
  const std::string& ca_file() const { return live_ca_file_; }
  // The served certificate's end of validity (Unix seconds).
  int64_t not_after_s() const { return not_after_s_; }

 private:
  TlsFiles() = default;
  TlsSources sources_;
  std::string identity_file_, live_ca_file_;
  std::string served_;  // The sources' bytes the copy was made from.
  int64_t not_after_s_ = 0;
};

// Refreshes a TlsFiles every `interval_s` on a thread of its own, logging what it replaced or
// refused; what it serves is readable from any thread (Status).
class TlsReloader {
 public:
  TlsReloader(TlsFiles files, int64_t interval_s);
  ~TlsReloader();
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  // The checked copy as gRPC reads it: the key and chain, and the CA, re-read as often.
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> Watched() const;
  struct State {
    int64_t not_after_s = 0;  // The served certificate's end of validity.
    uint64_t reloads = 0;     // Sets replaced since start.
    std::string refused;      // Why the files on disk now are not served ("" if they are).
  };
  State state() const;
  // One refresh now (the thread's step).
  void RefreshNow();

 private:
  TlsFiles files_;  // Touched by RefreshNow only, under mu_.
  const int64_t interval_s_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  State state_;
  std::thread thread_;
};

}  // namespace exo::daemon
