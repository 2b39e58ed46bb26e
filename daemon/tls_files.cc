#include "daemon/tls_files.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "exo/log.h"
#include "exo/read_file.h"
#include "exo/status_macros.h"

namespace exo::daemon {
namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* c) const { X509_free(c); } };
struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
using Cert = std::unique_ptr<X509, X509Free>;

absl::StatusOr<std::string> Read(const std::string& path) { return ReadWholeFile(path); }

// Every certificate in a PEM bundle, in order.
std::vector<Cert> Certificates(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<Cert> out;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  return out;
}

absl::StatusOr<int64_t> UnixSeconds(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InvalidArgumentError("unreadable time");
  return static_cast<int64_t>(timegm(&tm));
}

// Writes `bytes` to `path` through a temporary file and a rename: a reader sees the old file
// or the new one, whole.
absl::Status WriteReplacing(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot write"));
  ::chmod(tmp.c_str(), 0600);
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !written) return absl::DataLossError(absl::StrCat(tmp, ": write failed"));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(path, ": ", ec.message()));
  return absl::OkStatus();
}

struct Checked {
  int64_t not_after_s = 0;
};

// Whether the set can be served: a chain whose first certificate is the key's, valid now, and
// a CA bundle of at least one certificate.
absl::StatusOr<Checked> Check(const TlsSources& s, const std::string& cert_pem, const std::string& key_pem,
                              const std::string& ca_pem) {
  std::vector<Cert> chain = Certificates(cert_pem);
  if (chain.empty()) return absl::InvalidArgumentError(absl::StrCat(s.cert_file, ": no PEM certificate in it"));
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return absl::InvalidArgumentError(absl::StrCat(s.key_file, ": no PEM private key in it"));
  if (X509_check_private_key(chain[0].get(), key.get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(s.key_file, ": not the private key of the certificate in ", s.cert_file));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(chain[0].get())) > 0) {
    return absl::InvalidArgumentError(absl::StrCat(s.cert_file, ": the certificate is not valid yet"));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(chain[0].get())) <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(s.cert_file, ": the certificate has expired"));
  }
  if (Certificates(ca_pem).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(s.ca_file, ": no PEM certificate in it"));
  }
  Checked out;
  EXO_ASSIGN_OR_RETURN(out.not_after_s, UnixSeconds(X509_get0_notAfter(chain[0].get())));
  return out;
}

}  // namespace

absl::StatusOr<int64_t> CheckTlsFiles(const TlsSources& sources) {
  EXO_ASSIGN_OR_RETURN(std::string cert, Read(sources.cert_file));
  EXO_ASSIGN_OR_RETURN(std::string key, Read(sources.key_file));
  EXO_ASSIGN_OR_RETURN(std::string ca, Read(sources.ca_file));
  EXO_ASSIGN_OR_RETURN(Checked checked, Check(sources, cert, key, ca));
  return checked.not_after_s;
}

absl::StatusOr<TlsFiles> TlsFiles::Create(TlsSources sources, const std::string& live_dir) {
  std::error_code ec;
  std::filesystem::create_directories(live_dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(live_dir, ": ", ec.message()));
  ::chmod(live_dir.c_str(), 0700);
  TlsFiles f;
  f.sources_ = std::move(sources);
  f.identity_file_ = live_dir + "/identity.pem";
  f.live_ca_file_ = live_dir + "/ca.pem";
  EXO_ASSIGN_OR_RETURN(bool replaced, f.Refresh());
  (void)replaced;  // (The first read always writes the copy.)
  return f;
}

absl::StatusOr<bool> TlsFiles::Refresh() {
  EXO_ASSIGN_OR_RETURN(std::string cert, Read(sources_.cert_file));
  EXO_ASSIGN_OR_RETURN(std::string key, Read(sources_.key_file));
  EXO_ASSIGN_OR_RETURN(std::string ca, Read(sources_.ca_file));
  std::string all = absl::StrCat(key, "\n", cert, "\n", ca);
  if (all == served_) return false;
  EXO_ASSIGN_OR_RETURN(Checked checked, Check(sources_, cert, key, ca));
  // The CA first: a client certificate from the new CA is accepted by the time the new
  // identity is served.
  EXO_RETURN_IF_ERROR(WriteReplacing(live_ca_file_, ca));
  EXO_RETURN_IF_ERROR(WriteReplacing(identity_file_, absl::StrCat(key, "\n", cert)));
  served_ = std::move(all);
  not_after_s_ = checked.not_after_s;
  return true;
}

TlsReloader::TlsReloader(TlsFiles files, int64_t interval_s) : files_(std::move(files)), interval_s_(interval_s) {
  state_.not_after_s = files_.not_after_s();
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!wake_.wait_for(lock, std::chrono::seconds(interval_s_), [this] { return stop_; })) {
      lock.unlock();
      RefreshNow();
      lock.lock();
    }
  });
}

TlsReloader::~TlsReloader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface> TlsReloader::Watched() const {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files_.identity_file(), files_.identity_file(), files_.ca_file(), static_cast<unsigned int>(interval_s_));
}

TlsReloader::State TlsReloader::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void TlsReloader::RefreshNow() {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<bool> replaced = files_.Refresh();
  if (!replaced.ok()) {
    const std::string why(replaced.status().message());
    if (why != state_.refused) {
      LogWarning("tls: the certificate files on disk are not served: %s; still serving the last good ones", why);
    }
    state_.refused = why;
    return;
  }
  if (!state_.refused.empty() && !*replaced) LogInfo("tls: the certificate files on disk are served again");
  state_.refused.clear();
  if (!*replaced) return;
  ++state_.reloads;
  state_.not_after_s = files_.not_after_s();
  LogInfo("tls: new certificate files read; new connections get them within %d s", interval_s_);
}

}  // namespace exo::daemon
