// HMAC-SHA256 (RFC 2104) keyed once and evaluated without allocating.
//
// The masks of a cluster round are two of these per peer and per λ answered. OpenSSL's
// EVP_MAC copies its keyed state through its provider layer on every call (~0.55 µs here);
// keeping the SHA-256 states after the key's inner and outer pads and copying those plain
// structs costs ~0.13 µs (SHA-NI). Same bytes as any HMAC-SHA256 (tested on RFC 4231's vectors).
#pragma once

#include <array>
#include <memory>
#include <string_view>

namespace exo::daemon::cluster {

class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // HMAC-SHA256(key, data). Const and reentrant: one keyed object serves every thread.
  std::array<unsigned char, 32> operator()(std::string_view data) const;

 private:
  struct Pads;  // The SHA-256 states after the inner and outer key pads.
  std::unique_ptr<const Pads> pads_;
};

}  // namespace exo::daemon::cluster
