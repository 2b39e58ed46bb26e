#include "store/head_signature.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace exo::store {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
struct MdFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string RawPublic(EVP_PKEY* key) {
  unsigned char pub[32];
  size_t len = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != 32) return "";
  return std::string(reinterpret_cast<char*>(pub), len);
}

}  // namespace

std::string SignedHeadMessage(const std::string& node_id, const exoroute::v1::ChainHead& head) {
  return absl::StrCat("exoroute-chain-head/v1 ", node_id, " ", head.sequence(), " ",
                      absl::BytesToHexString(head.hash()));
}

absl::StatusOr<std::unique_ptr<HeadSigner>> HeadSigner::LoadOrCreate(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    Key key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    if (!key) return absl::InternalError("cannot generate an Ed25519 key (OpenSSL)");
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp";
    const mode_t old = umask(077);  // Owner only, from the first byte.
    FILE* f = std::fopen(tmp.c_str(), "w");
    umask(old);
    if (f == nullptr) return absl::PermissionDeniedError(absl::StrCat("cannot write the chain signing key ", tmp));
    const bool ok = PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed) return absl::InternalError(absl::StrCat("cannot write the chain signing key ", tmp));
    std::filesystem::rename(tmp, path, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot write the chain signing key ", path, ": ", ec.message()));
  }
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return absl::PermissionDeniedError(absl::StrCat("cannot read the chain signing key ", path));
  Key key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::FailedPreconditionError(
        absl::StrCat("chain signing key ", path, ": not an Ed25519 private key in PEM (move it away to make a new one)"));
  }
  std::string pub = RawPublic(key.get());
  if (pub.empty()) return absl::InternalError(absl::StrCat("chain signing key ", path, ": no public key"));
  return std::unique_ptr<HeadSigner>(new HeadSigner(key.release(), std::move(pub)));
}

HeadSigner::~HeadSigner() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

std::string HeadSigner::SignText(const std::string& text) const {
  unsigned char sig[64];
  size_t len = sizeof sig;
  std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
  // Ed25519 signs the message itself (no digest to choose).
  if (ctx && EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(key_)) == 1 &&
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1) {
    return std::string(reinterpret_cast<char*>(sig), len);
  }
  return "";
}

exoroute::v1::SignedChainHead HeadSigner::Sign(const std::string& node_id,
                                               const exoroute::v1::ChainHead& head) const {
  exoroute::v1::SignedChainHead out;
  out.set_node_id(node_id);
  *out.mutable_head() = head;
  out.set_public_key(public_key_);
  out.set_signature(SignText(SignedHeadMessage(node_id, head)));
  return out;
}

std::string TreeHeadMessage(const std::string& node_id, uint64_t tree_size, const std::string& root) {
  return absl::StrCat("exoroute-tree-head/v1 ", node_id, " ", tree_size, " ", absl::BytesToHexString(root));
}

absl::Status VerifyEd25519(const std::string& public_key, const std::string& signature, const std::string& text,
                           const std::string& pinned_key, const std::string& what) {
  if (public_key.size() != 32) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": public_key must be 32 bytes (Ed25519), got ", public_key.size()));
  }
  if (!pinned_key.empty() && pinned_key != public_key) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": signed by key ", absl::BytesToHexString(public_key),
                                                      ", not the expected ", absl::BytesToHexString(pinned_key)));
  }
  Key key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                      reinterpret_cast<const unsigned char*>(public_key.data()), 32));
  if (!key) return absl::FailedPreconditionError(absl::StrCat(what, ": public_key is not a valid Ed25519 key"));
  std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                   signature.size(), reinterpret_cast<const unsigned char*>(text.data()),
                                   text.size()) == 1;
  if (!ok) return absl::FailedPreconditionError(absl::StrCat(what, ": the signature does not verify"));
  return absl::OkStatus();
}

absl::Status VerifySignedHead(const exoroute::v1::SignedChainHead& h, const std::string& pinned_key) {
  if (h.head().hash().size() != 32) {
    return absl::FailedPreconditionError(absl::StrCat("signed head: head.hash must be 32 bytes, got ", h.head().hash().size()));
  }
  absl::Status s = VerifyEd25519(h.public_key(), h.signature(), SignedHeadMessage(h.node_id(), h.head()), pinned_key,
                                 "signed head");
  if (!s.ok() && absl::StrContains(s.message(), "does not verify")) {
    return absl::FailedPreconditionError(absl::StrCat("signed head: the signature does not verify for node ",
                                                      h.node_id(), " at sequence ", h.head().sequence()));
  }
  return s;
}

}  // namespace exo::store
