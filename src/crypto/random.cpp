// SPDX-License-Identifier: Apache-2.0
// Random bytes via RAND_bytes (the OpenSSL 3 public DRBG).
#include "crypto/random.h"

#include <openssl/rand.h>

#include <climits>

#include "crypto/openssl_util.h"

namespace ipsec::crypto {

namespace {

Result<void> fill(uint8_t* out, size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) return fail("random: request too large");
  if (n != 0 && RAND_bytes(out, static_cast<int>(n)) != 1) {
    return ossl::fail_openssl("random: RAND_bytes failed");
  }
  return ok();
}

}  // namespace

Result<Bytes> random_bytes(size_t n) {
  Bytes out(n);
  auto r = fill(out.data(), n);
  if (!r) return fail(r.error());
  return out;
}

Result<SecretBytes> random_secret(size_t n) {
  SecretBytes out{Bytes(n)};
  auto r = fill(out.data(), n);
  if (!r) return fail(r.error());
  return out;
}

Result<Bytes> make_nonce() { return random_bytes(kNonceSize); }

}  // namespace ipsec::crypto
