// SPDX-License-Identifier: Apache-2.0
// Where the IKE engines' randomness comes from: nonces, SPIs, key exchange private keys,
// timer jitter. Injected, so that engine-pair tests can run on a deterministic source and
// assert exact outcomes (who wins a rekey collision, which SAs the kernel holds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/key_exchange.h"

namespace ipsec::crypto {

// What the bytes are for: a deterministic source may script one use (nonces) without
// disturbing the others.
enum class RandomUse : uint8_t { Nonce, Spi, KeyExchange, Jitter };

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual Result<void> fill(std::span<uint8_t> out, RandomUse use) = 0;
  // False for the system source: key exchanges then use OpenSSL's own key generation.
  virtual bool deterministic() const { return false; }

  Result<Bytes> bytes(size_t n, RandomUse use);
  // Uniform in [0, n) (0 when n is 0), without modulo bias.
  Result<uint64_t> below(uint64_t n, RandomUse use);
  // RFC 7296 §2.10: a fresh nonce of kNonceSize bytes.
  Result<Bytes> nonce();
  // An ephemeral key exchange; with a deterministic source its private key comes from it.
  Result<std::unique_ptr<KeyExchange>> key_exchange(KeGroup g);
};

// The OpenSSL DRBG (RAND_bytes): what the daemon uses.
RandomSource& system_random();

// A repeatable stream for tests and benchmarks: SHA-256(seed | use | counter) blocks, one
// stream per use. `script_nonce_lead(b)` makes the next nonce start with byte b (then the
// stream's bytes), so that a test decides which side's nonce is lower (§2.8).
class DeterministicRandom final : public RandomSource {
 public:
  explicit DeterministicRandom(uint64_t seed) : seed_(seed) {}
  Result<void> fill(std::span<uint8_t> out, RandomUse use) override;
  bool deterministic() const override { return true; }
  void script_nonce_lead(uint8_t lead) { nonce_leads_.push_back(lead); }

 private:
  uint64_t seed_;
  uint64_t counters_[4] = {};
  std::deque<uint8_t> nonce_leads_;
};

}  // namespace ipsec::crypto
