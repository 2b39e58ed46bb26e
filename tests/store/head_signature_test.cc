// Signed chain heads: the key kept across restarts and private to its owner, signatures over
// the documented text that any Ed25519 verifier accepts, and every kind of tampering refused.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/escaping.h"
#include "store/head_signature.h"
#include "tests/testing/temp_dir.h"

using exo::store::HeadSigner;
using exo::store::VerifySignedHead;
using exoroute::v1::ChainHead;
using exoroute::v1::SignedChainHead;

namespace {

ChainHead Head(uint64_t seq, char fill) {
  ChainHead h;
  h.set_sequence(seq);
  h.set_hash(std::string(32, fill));
  return h;
}

// Verifies with OpenSSL directly over the text docs/replay-and-audit.md specifies.
bool OpenSslVerifies(const SignedChainHead& h, const std::string& text) {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(h.public_key().data()), 32);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = key && ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(h.signature().data()), h.signature().size(),
                             reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace

TEST_CASE("a node's head-signing key is created once, private, and kept") {
  exo::testing::TempDir dir;
  const std::string path = dir / "keys/chain-head.key";
  auto first = HeadSigner::LoadOrCreate(path);
  REQUIRE(first.ok());
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK((*first)->public_key().size() == 32);
  auto again = HeadSigner::LoadOrCreate(path);
  REQUIRE(again.ok());
  CHECK((*again)->public_key() == (*first)->public_key());

  std::ofstream(dir / "bad.key") << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  auto bad = HeadSigner::LoadOrCreate(dir / "bad.key");
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.status().message()).find(dir / "bad.key") != std::string::npos);
  CHECK(std::string(bad.status().message()).find("not an Ed25519 private key") != std::string::npos);
}

TEST_CASE("a signed head verifies, over the documented text, and any change is refused") {
  exo::testing::TempDir dir;
  auto signer = HeadSigner::LoadOrCreate(dir / "k.pem");
  REQUIRE(signer.ok());
  const SignedChainHead h = (*signer)->Sign("node-1", Head(42, '\xab'));
  CHECK(h.node_id() == "node-1");
  CHECK(h.head().sequence() == 42);
  CHECK(h.public_key() == (*signer)->public_key());
  CHECK(h.signature().size() == 64);
  CHECK(VerifySignedHead(h).ok());
  CHECK(VerifySignedHead(h, (*signer)->public_key()).ok());
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  CHECK(OpenSslVerifies(h, "exoroute-chain-head/v1 node-1 42 " + hex));
  CHECK_FALSE(OpenSslVerifies(h, "exoroute-chain-head/v1 node-1 42 " + hex + "\n"));
  // Ed25519 is deterministic: the same head, the same bytes.
  CHECK((*signer)->Sign("node-1", Head(42, '\xab')).signature() == h.signature());

  SignedChainHead t = h;
  t.mutable_head()->set_sequence(43);
  CHECK(VerifySignedHead(t).message() == "signed head: the signature does not verify for node node-1 at sequence 43");
  t = h;
  (*t.mutable_head()->mutable_hash())[5] ^= 1;
  CHECK_FALSE(VerifySignedHead(t).ok());
  t = h;
  t.set_node_id("node-2");
  CHECK_FALSE(VerifySignedHead(t).ok());
  t = h;
  (*t.mutable_signature())[0] ^= 1;
  CHECK_FALSE(VerifySignedHead(t).ok());
  t = h;
  t.set_signature("");
  CHECK_FALSE(VerifySignedHead(t).ok());
  t = h;
  t.set_public_key("short");
  CHECK(VerifySignedHead(t).message() == "signed head: public_key must be 32 bytes (Ed25519), got 5");

  // Pinned to another key: refused even though the signature itself is valid.
  auto other = HeadSigner::LoadOrCreate(dir / "other.pem");
  REQUIRE(other.ok());
  REQUIRE((*other)->public_key() != (*signer)->public_key());
  absl::Status pinned = VerifySignedHead(h, (*other)->public_key());
  CHECK(pinned.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(pinned.message()).find("not the expected") != std::string::npos);
  // And a head re-signed by another key does not pass for this node's.
  SignedChainHead forged = (*other)->Sign("node-1", Head(42, '\xab'));
  CHECK(VerifySignedHead(forged).ok());
  CHECK_FALSE(VerifySignedHead(forged, (*signer)->public_key()).ok());
}
