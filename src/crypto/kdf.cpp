// SPDX-License-Identifier: Apache-2.0
// IKEv2 key derivation (RFC 7296 §2.14, §2.17, §2.18) on top of prf and prf+.
#include "crypto/kdf.h"

#include <initializer_list>

namespace ipsec::crypto {

namespace {

// Concatenation of seed pieces; wiped on destruction because g^ir may be part of it.
SecretBytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return SecretBytes(std::move(out));
}

// Cuts consecutive keys of the given sizes out of `keymat`.
class Splitter {
 public:
  explicit Splitter(const SecretBytes& keymat) : keymat_(keymat) {}
  SecretBytes take(size_t n) {
    SecretBytes key(keymat_.view().subspan(offset_, n));
    offset_ += n;
    return key;
  }

 private:
  const SecretBytes& keymat_;
  size_t offset_ = 0;
};

}  // namespace

Result<SecretBytes> skeyseed(PrfAlgorithm prf_alg, ByteView ni, ByteView nr,
                             const SecretBytes& g_ir) {
  if (ni.empty() || nr.empty()) return fail("SKEYSEED: empty nonce");
  SecretBytes key = concat({ni, nr});
  return prf(prf_alg, key.view(), g_ir.view());
}

Result<SecretBytes> rekey_skeyseed(PrfAlgorithm old_prf, const SecretBytes& old_sk_d,
                                   const SecretBytes& g_ir, ByteView ni, ByteView nr) {
  if (ni.empty() || nr.empty()) return fail("SKEYSEED (rekey): empty nonce");
  SecretBytes data = concat({g_ir.view(), ni, nr});
  return prf(old_prf, old_sk_d.view(), data.view());
}

Result<IkeSaKeys> derive_ike_sa_keys(PrfAlgorithm prf_alg, const SecretBytes& seed_key,
                                     const IkeKeyInput& in, const IkeKeyLengths& len) {
  if (in.spi_i.size() != 8 || in.spi_r.size() != 8) {
    return fail("IKE SA keys: SPIs must be 8 bytes each");
  }
  const size_t pk = prf_key_size(prf_alg);
  const size_t total = 3 * pk + 2 * len.integ_key + 2 * len.encr_key;
  SecretBytes seed = concat({in.ni, in.nr, in.spi_i, in.spi_r});
  auto keymat = prf_plus(prf_alg, seed_key.view(), seed.view(), total);
  if (!keymat) return fail("IKE SA keys: " + keymat.error().message);
  Splitter s(*keymat);
  IkeSaKeys k;
  k.sk_d = s.take(pk);
  k.sk_ai = s.take(len.integ_key);
  k.sk_ar = s.take(len.integ_key);
  k.sk_ei = s.take(len.encr_key);
  k.sk_er = s.take(len.encr_key);
  k.sk_pi = s.take(pk);
  k.sk_pr = s.take(pk);
  return k;
}

Result<ChildSaKeys> derive_child_sa_keys(PrfAlgorithm prf_alg, const SecretBytes& sk_d,
                                         const SecretBytes* g_ir, ByteView ni, ByteView nr,
                                         const ChildKeyLengths& len) {
  const size_t total = 2 * (len.encr_key + len.integ_key);
  SecretBytes seed = g_ir ? concat({g_ir->view(), ni, nr}) : concat({ni, nr});
  auto keymat = prf_plus(prf_alg, sk_d.view(), seed.view(), total);
  if (!keymat) return fail("CHILD SA keys: " + keymat.error().message);
  Splitter s(*keymat);
  ChildSaKeys k;
  k.encr_i = s.take(len.encr_key);
  k.integ_i = s.take(len.integ_key);
  k.encr_r = s.take(len.encr_key);
  k.integ_r = s.take(len.integ_key);
  return k;
}

}  // namespace ipsec::crypto
