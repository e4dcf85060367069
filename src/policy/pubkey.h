// SPDX-License-Identifier: Apache-2.0
// Certificate authentication fields of policy files (pubkey_parser.cpp).
#pragma once

#include <string>
#include <string_view>

#include "policy/connection.h"
#include "policy/reader.h"

namespace ipsec::policy::detail {

// "C=DE, O=Example, CN=gw-b" (after "dn:") to an identity: IdKind::Dn, or DnPattern when a
// value is "*" and `pattern_ok` (a remote id).
Result<Identity> parse_dn_identity(std::string_view text, bool pattern_ok);

// The pubkey fields of one side of a connection (`j` at `path`), by `p.auth`; a field of the
// other side or without "auth": "pubkey" is an error.
void parse_peer_pubkey(Reader& r, const Json& j, const std::string& path, std::string_view side,
                       Peer& p);

// With a certificate, the local id defaults to its subject and must otherwise be the subject
// or one of its subjectAltNames.
void check_local_id(Reader& r, const std::string& path, bool id_given, Peer& p);

}  // namespace ipsec::policy::detail
