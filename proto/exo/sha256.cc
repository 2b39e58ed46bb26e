#include "exo/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace exo {

struct Sha256::Impl {
  EVP_MD* md = nullptr;
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(new Impl) {
  impl_->md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->md == nullptr || impl_->ctx == nullptr) {
    std::fprintf(stderr, "fatal: OpenSSL SHA-256 unavailable\n");
    std::abort();
  }
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(impl_->ctx);
  EVP_MD_free(impl_->md);
  delete impl_;
}

Digest Sha256::Hash(std::initializer_list<std::string_view> parts) {
  Digest out{};
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex(impl_->ctx, impl_->md, nullptr) == 1;
  for (std::string_view p : parts) {
    ok = ok && EVP_DigestUpdate(impl_->ctx, p.data(), p.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) == 1;
  if (!ok || len != out.size()) {
    std::fprintf(stderr, "fatal: SHA-256 failed\n");
    std::abort();
  }
  return out;
}

Digest Sha256Of(std::string_view data) {
  thread_local Sha256 h;  // Fetching the digest costs more than hashing a short input.
  return h.Hash({data});
}

std::string DigestToString(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string ToHex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace exo
