// OpenSSL 3 deprecates the SHA256_* block functions in favour of EVP, whose per-call copies
// are what this file avoids; they are still part of libcrypto 3 (Debian 12), used here only.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "daemon/cluster/hmac_sha256.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

namespace exo::daemon::cluster {

struct HmacSha256::Pads {
  SHA256_CTX inner, outer;
  ~Pads() { OPENSSL_cleanse(this, sizeof(*this)); }  // As good as the key: not left in freed memory.
};

HmacSha256::HmacSha256(std::string_view key) {
  unsigned char block[SHA256_CBLOCK] = {};
  if (key.size() > sizeof(block)) {  // A key longer than a block is hashed first.
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
  for (size_t i = 0; i < sizeof(block); ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  auto pads = std::make_unique<Pads>();
  SHA256_Init(&pads->inner);
  SHA256_Update(&pads->inner, ipad, sizeof(ipad));
  SHA256_Init(&pads->outer);
  SHA256_Update(&pads->outer, opad, sizeof(opad));
  pads_ = std::move(pads);
  OPENSSL_cleanse(block, sizeof(block));
  OPENSSL_cleanse(ipad, sizeof(ipad));
  OPENSSL_cleanse(opad, sizeof(opad));
}

HmacSha256::~HmacSha256() = default;

std::array<unsigned char, 32> HmacSha256::operator()(std::string_view data) const {
  SHA256_CTX inner = pads_->inner;
  unsigned char inner_hash[SHA256_DIGEST_LENGTH];
  SHA256_Update(&inner, data.data(), data.size());
  SHA256_Final(inner_hash, &inner);
  SHA256_CTX outer = pads_->outer;
  std::array<unsigned char, 32> out;
  SHA256_Update(&outer, inner_hash, sizeof(inner_hash));
  SHA256_Final(out.data(), &outer);
  return out;
}

}  // namespace exo::daemon::cluster
