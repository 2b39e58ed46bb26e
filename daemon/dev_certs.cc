#include "daemon/dev_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "exo/log.h"
#include "exo/status_macros.h"

namespace exo::daemon {
namespace {

struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct CertFree { void operator()(X509* c) const { X509_free(c); } };
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

absl::Status SslError(const std::string& what) {
  return absl::InternalError(absl::StrCat("generating dev certificates: ", what, " failed"));
}

absl::StatusOr<Key> NewKey() {
  Key k(EVP_EC_gen("P-256"));
  if (!k) return SslError("EC key generation");
  return k;
}

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

absl::StatusOr<Cert> MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer,
                              EVP_PKEY* issuer_key, bool is_ca, const char* san,
                              const char* usage) {
  Cert c(X509_new());
  if (!c) return SslError("X509_new");
  X509_set_version(c.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 825L * 24 * 3600);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("exoroute dev"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* iss = issuer ? issuer : c.get();
  X509_set_issuer_name(c.get(), X509_get_subject_name(iss));
  bool ok = AddExt(c.get(), iss, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE") &&
            AddExt(c.get(), iss, NID_subject_key_identifier, "hash");
  if (is_ca) {
    ok = ok && AddExt(c.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && AddExt(c.get(), iss, NID_authority_key_identifier, "keyid") &&
         AddExt(c.get(), iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
         AddExt(c.get(), iss, NID_ext_key_usage, usage);
    if (san) ok = ok && AddExt(c.get(), iss, NID_subject_alt_name, san);
  }
  if (!ok) return SslError("adding X509 extensions");
  if (X509_sign(c.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) {
    return SslError("X509_sign");
  }
  return c;
}

absl::Status WritePem(const std::string& path, EVP_PKEY* key, X509* cert) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
  if (key) ::chmod(tmp.c_str(), 0600);
  bool ok = key ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1
                : PEM_write_X509(f, cert) == 1;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  std::filesystem::rename(tmp, path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DevCertPaths> EnsureDevCerts(const std::string& dir, const std::string& node_id) {
  namespace fs = std::filesystem;
  DevCertPaths p{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key", dir + "/client.pem",
                 dir + "/client.key"};
  if (fs::exists(p.ca_cert) && fs::exists(p.server_cert) && fs::exists(p.server_key) &&
      fs::exists(p.client_cert) && fs::exists(p.client_key)) {
    return p;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  EXO_ASSIGN_OR_RETURN(Key ca_key, NewKey());
  EXO_ASSIGN_OR_RETURN(Cert ca, MakeCert(ca_key.get(), "exoroute dev CA", nullptr, nullptr, true,
                                         nullptr, nullptr));
  EXO_ASSIGN_OR_RETURN(Key server_key, NewKey());
  EXO_ASSIGN_OR_RETURN(Cert server,
                       MakeCert(server_key.get(), node_id, ca.get(), ca_key.get(), false,
                                "DNS:localhost,IP:127.0.0.1,IP:::1", "serverAuth,clientAuth"));
  EXO_ASSIGN_OR_RETURN(Key client_key, NewKey());
  EXO_ASSIGN_OR_RETURN(Cert client, MakeCert(client_key.get(), "exoroutectl", ca.get(),
                                             ca_key.get(), false, nullptr, "clientAuth"));
  EXO_RETURN_IF_ERROR(WritePem(p.server_key, server_key.get(), nullptr));
  EXO_RETURN_IF_ERROR(WritePem(p.server_cert, nullptr, server.get()));
  EXO_RETURN_IF_ERROR(WritePem(p.client_key, client_key.get(), nullptr));
  EXO_RETURN_IF_ERROR(WritePem(p.client_cert, nullptr, client.get()));
  EXO_RETURN_IF_ERROR(WritePem(dir + "/ca.key", ca_key.get(), nullptr));
  EXO_RETURN_IF_ERROR(WritePem(p.ca_cert, nullptr, ca.get()));  // Last: marks completion.
  LogInfo("generated development certificates in %s (CA: %s)", dir, p.ca_cert);
  return p;
}

}  // namespace exo::daemon
