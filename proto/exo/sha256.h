// SHA-256 through OpenSSL's EVP interface, with the digest fetched once and the context reused
// (about 2x faster than one-shot EVP_Digest on 200-byte inputs; see docs/BENCHMARKS.md).
// A Sha256 object is not thread-safe; make one per thread or per owner.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace exo {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Hash of the concatenation of `parts`.
  Digest Hash(std::initializer_list<std::string_view> parts);

 private:
  struct Impl;
  Impl* impl_;
};

// One-off convenience (a context kept per thread).
Digest Sha256Of(std::string_view data);

std::string DigestToString(const Digest& d);  // 32 raw bytes.
std::string ToHex(std::string_view bytes);

}  // namespace exo
