// SPDX-License-Identifier: Apache-2.0
// The responder's COOKIE secret and computation (RFC 7296 §2.6).
#include "ike/v2/cookie.h"

#include "crypto/prf.h"
#include "crypto/random.h"
#include "ike/v2/ike_sa.h"

namespace ipsec::ike::v2 {

Result<void> CookieJar::rotate(Millis now) {
  if (!current_.empty() && now < born_ + lifetime_) return ok();
  // Two lifetimes without a request: the old secret is too old to keep.
  const bool keep = !current_.empty() && now < born_ + 2 * lifetime_;
  auto fresh = crypto::random_bytes(32);
  if (!fresh) return fail(fresh.error());
  previous_ = keep ? std::move(current_) : SecretBytes();
  current_ = SecretBytes(std::move(*fresh));
  born_ = now;
  ++version_;
  return ok();
}

Result<Bytes> CookieJar::compute(uint8_t version, const SecretBytes& secret, ByteView ni,
                                 const IpAddress& ip_i, uint64_t spi_i) const {
  const Bytes spi = spi_bytes(spi_i);
  auto mac = crypto::hmac(crypto::Digest::Sha256, secret.view(),
                          {ni, ByteView(ip_i.bytes.data(), ip_i.size()), spi});
  if (!mac) return fail(mac.error());
  Bytes out{version};
  out.insert(out.end(), mac->data(), mac->data() + mac->size());
  return out;
}

Result<Bytes> CookieJar::make(ByteView ni, const IpAddress& ip_i, uint64_t spi_i, Millis now) {
  if (auto r = rotate(now); !r) return fail(r.error());
  return compute(version_, current_, ni, ip_i, spi_i);
}

bool CookieJar::verify(ByteView cookie, ByteView ni, const IpAddress& ip_i, uint64_t spi_i,
                       Millis now) {
  if (!rotate(now) || cookie.size() != kSize) return false;
  const bool current = cookie[0] == version_;
  if (!current && (previous_.empty() || cookie[0] != static_cast<uint8_t>(version_ - 1)))
    return false;
  auto expected = compute(cookie[0], current ? current_ : previous_, ni, ip_i, spi_i);
  return expected && SecretBytes::constant_time_equal(ByteView(*expected), cookie);
}

}  // namespace ipsec::ike::v2
