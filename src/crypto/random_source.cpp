// SPDX-License-Identifier: Apache-2.0
// The system random source (OpenSSL's DRBG) and a deterministic one for tests.
#include "crypto/random_source.h"

#include <algorithm>

#include "common/secret.h"
#include "crypto/prf.h"
#include "crypto/random.h"

namespace ipsec::crypto {
namespace {

class SystemRandom final : public RandomSource {
 public:
  Result<void> fill(std::span<uint8_t> out, RandomUse) override {
    auto b = random_bytes(out.size());
    if (!b) return fail(b.error());
    std::copy(b->begin(), b->end(), out.begin());
    return ok();
  }
};

// Size of a private key drawn from a deterministic source: exactly what
// make_key_exchange_with_private_key takes for the group.
size_t private_key_size(KeGroup g) {
  switch (g) {
    case KeGroup::Curve25519:
    case KeGroup::Curve448:
      return ke_public_value_size(g);
    case KeGroup::Ecp256:
    case KeGroup::Ecp384:
    case KeGroup::Ecp521:
      return ke_shared_secret_size(g);
    default:
      return 64;  // MODP: a 512-bit exponent
  }
}

}  // namespace

Result<Bytes> RandomSource::bytes(size_t n, RandomUse use) {
  Bytes out(n);
  if (auto r = fill(out, use); !r) return fail(r.error());
  return out;
}

Result<uint64_t> RandomSource::below(uint64_t n, RandomUse use) {
  if (n <= 1) return uint64_t{0};
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // reject the biased tail
  for (int tries = 0; tries < 64; ++tries) {
    auto b = bytes(8, use);
    if (!b) return fail(b.error());
    uint64_t v = 0;
    for (auto x : *b) v = v << 8 | x;
    if (v < limit) return v % n;
  }
  return fail("random: no unbiased value in 64 draws");
}

Result<Bytes> RandomSource::nonce() { return bytes(kNonceSize, RandomUse::Nonce); }

Result<std::unique_ptr<KeyExchange>> RandomSource::key_exchange(KeGroup g) {
  if (!deterministic()) return make_key_exchange(g);
  SecretBytes key{Bytes(private_key_size(g))};
  if (auto r = fill(std::span<uint8_t>(key.data(), key.size()), RandomUse::KeyExchange); !r)
    return fail(r.error());
  // ECP: a scalar below the group order (clearing the top byte is enough for every curve);
  // MODP: a non-zero exponent below p.
  if (g == KeGroup::Ecp256 || g == KeGroup::Ecp384 || g == KeGroup::Ecp521) key.data()[0] = 0;
  key.data()[key.size() - 1] |= 1;
  return make_key_exchange_with_private_key(g, key);
}

RandomSource& system_random() {
  static SystemRandom source;
  return source;
}

Result<void> DeterministicRandom::fill(std::span<uint8_t> out, RandomUse use) {
  size_t done = 0;
  if (use == RandomUse::Nonce && !nonce_leads_.empty() && !out.empty()) {
    out[0] = nonce_leads_.front();
    nonce_leads_.pop_front();
    done = 1;
  }
  uint64_t& counter = counters_[static_cast<size_t>(use)];
  while (done < out.size()) {
    uint8_t in[17];
    for (int i = 0; i < 8; ++i) in[i] = static_cast<uint8_t>(seed_ >> (56 - 8 * i));
    in[8] = static_cast<uint8_t>(use);
    for (int i = 0; i < 8; ++i) in[9 + i] = static_cast<uint8_t>(counter >> (56 - 8 * i));
    ++counter;
    auto block = digest(Digest::Sha256, {ByteView(in, sizeof in)});
    if (!block) return fail(block.error());
    const size_t n = std::min(block->size(), out.size() - done);
    std::copy_n(block->begin(), n, out.begin() + static_cast<long>(done));
    done += n;
  }
  return ok();
}

}  // namespace ipsec::crypto
