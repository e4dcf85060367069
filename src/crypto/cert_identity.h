// SPDX-License-Identifier: Apache-2.0
// Whether a certificate names an IKE identity (RFC 7296 §3.5 ID types, RFC 4945 §3.1): a
// distinguished name must be the subject (RDN by RDN), an FQDN a dNSName, an RFC 822
// address an rfc822Name, an IP address an iPAddress of its subjectAltName.
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "crypto/pki.h"

namespace ipsec::crypto {

// IANA ID types: 1 IPv4, 2 FQDN, 3 RFC 822, 5 IPv6, 9 DER ASN.1 DN; others never match.
bool certificate_names(const Certificate& c, uint8_t id_type, ByteView id_data);

// "gw-a.example, 192.0.2.1": the certificate's subjectAltNames, for error messages.
std::string subject_alt_names(const Certificate& c);

}  // namespace ipsec::crypto
