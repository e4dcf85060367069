// SPDX-License-Identifier: Apache-2.0
// IKEv2 key derivation: SKEYSEED and the IKE SA keys (RFC 7296 §2.14, rekey §2.18),
// CHILD SA KEYMAT (§2.17).
#pragma once

#include <cstddef>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"
#include "crypto/prf.h"

namespace ipsec::crypto {

// Lengths from the negotiated transforms. encr_key includes the 4-byte salt of
// AES-GCM / ChaCha20-Poly1305 (RFC 5282 §7.1, RFC 7634 §2); integ_key is 0 with an AEAD.
struct IkeKeyLengths {
  size_t encr_key = 0;
  size_t integ_key = 0;
};

// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} of RFC 7296 §2.14.
struct IkeSaKeys {
  SecretBytes sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr;
};

// What both sides exchanged in IKE_SA_INIT (or CREATE_CHILD_SA for a rekey).
// SPIs are the 8-byte wire values.
struct IkeKeyInput {
  ByteView ni, nr;
  ByteView spi_i, spi_r;
};

// RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir).
Result<SecretBytes> skeyseed(PrfAlgorithm prf, ByteView ni, ByteView nr, const SecretBytes& g_ir);

// RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), computed with the
// PRF of the old IKE SA.
Result<SecretBytes> rekey_skeyseed(PrfAlgorithm old_prf, const SecretBytes& old_sk_d,
                                   const SecretBytes& g_ir, ByteView ni, ByteView nr);

// RFC 7296 §2.14: the seven keys = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), split in order.
// SK_d, SK_pi, SK_pr are prf_key_size(prf) long.
Result<IkeSaKeys> derive_ike_sa_keys(PrfAlgorithm prf, const SecretBytes& skeyseed,
                                     const IkeKeyInput& in, const IkeKeyLengths& len);

// Per-direction CHILD SA key lengths (encr includes any salt; integ 0 with an AEAD).
struct ChildKeyLengths {
  size_t encr_key = 0;
  size_t integ_key = 0;
};

// RFC 7296 §2.17 split order: initiator-to-responder keys first.
struct ChildSaKeys {
  SecretBytes encr_i, integ_i, encr_r, integ_r;
};

// RFC 7296 §2.17: KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) when
// the CREATE_CHILD_SA exchange carried KE payloads (pass g_ir, else nullptr).
Result<ChildSaKeys> derive_child_sa_keys(PrfAlgorithm prf, const SecretBytes& sk_d,
                                         const SecretBytes* g_ir, ByteView ni, ByteView nr,
                                         const ChildKeyLengths& len);

}  // namespace ipsec::crypto
