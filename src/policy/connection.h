// SPDX-License-Identifier: Apache-2.0
// IKEv2 connections of policy files (swanctl.conf's connections, as JSON): the validated model.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/ip.h"
#include "common/secret.h"
#include "crypto/ocsp.h"
#include "crypto/pki.h"
#include "kernel/types.h"

namespace ipsec::policy {

// RFC 7296 §3.5 ID types, numbered as IANA does; and the patterns a remote id may be (never
// a local one): any identity, every name under a domain, every address in a prefix, a
// distinguished name with "*" for some attribute values.
enum class IdKind : uint8_t {
  Ipv4 = 1,
  Fqdn = 2,
  Email = 3,
  Ipv6 = 5,
  Dn = 9,  // ID_DER_ASN1_DN: data is the DER Name
  KeyId = 11,
  Any = 240,            // "any" or "%any"
  DomainSuffix = 241,   // "*.example.org": data is "example.org"
  AddressPrefix = 242,  // "192.0.2.0/24": data is the prefix as text
  DnPattern = 243,      // "dn:C=DE, O=Example, CN=*": data is the DER Name, "*" values match any
};

// An identity as the ID payload carries it: type and raw data (address bytes, name, key id);
// or a remote id pattern (IdKind::Any, DomainSuffix, AddressPrefix).
struct Identity {
  IdKind kind = IdKind::Fqdn;
  Bytes data;
  bool operator==(const Identity&) const = default;
};

// How a side authenticates: a pre-shared key, or a signature with a certificate's key
// (RFC 7296 §2.15, RFC 7427).
enum class AuthMethod : uint8_t { Psk, Pubkey };
// When we send our certificate (and intermediates) in CERT payloads: when the peer sent a
// CERTREQ (strongSwan's "ifasked"), always, or never (the peer has it).
enum class SendCert : uint8_t { IfAsked, Always, Never };

// An encryption transform; key_bits 0 means no Key Length attribute (ChaCha20-Poly1305).
struct EncrTransform {
  uint16_t id = 0;
  uint16_t key_bits = 0;
  bool operator==(const EncrTransform&) const = default;
};

// One proposal in IANA numbers (RFC 7296 §3.3.2), each list in preference order.
struct Proposal {
  std::string text;  // as written: "aes256gcm16-prfsha256-x25519"
  std::vector<EncrTransform> encryption;
  std::vector<uint16_t> prf;        // IKE only; derived from integrity when not given
  std::vector<uint16_t> integrity;  // empty with AEAD
  std::vector<uint16_t> groups;     // required for IKE; for ESP only used by PFS rekeys
  std::vector<uint16_t> esn;        // ESP only; {0} (no ESN) when not given
};

// "none", "start", "trap" (also written "on-demand": trap policies at load, the kernel's
// ACQUIRE initiates).
enum class StartAction : uint8_t { None, Start, Trap };
// What follows a dead peer (dpd_action: "clear" is None) or the peer's DELETE of a CHILD SA
// (close_action: "none").
enum class PeerGoneAction : uint8_t { None, Restart, Trap };

// CHILD SA lifetimes, swanctl's names and meaning, defaults already derived by the loader:
// soft limits (rekey_*) start a rekey, hard limits (life_*) delete; 0: none. life_time >
// rekey_time, rand_time <= rekey_time, life_x > rekey_x wherever both are non-zero.
struct ChildLifetime {
  std::chrono::seconds rekey_time{3600};
  std::chrono::seconds life_time{3960};          // default: rekey_time * 1.1
  std::chrono::seconds rand_time{360};           // default: life_time - rekey_time
  uint64_t rekey_bytes = 0, life_bytes = 0;      // life default: rekey * 1.1
  uint64_t rekey_packets = 0, life_packets = 0;  // life default: rekey * 1.1
  bool operator==(const ChildLifetime&) const = default;
};

// IKE SA lifetimes (swanctl's): rekey_time or, instead, reauth_time (never both non-zero);
// over_time after that the IKE SA is closed; rand_time of jitter below rekey/reauth. 0: never.
struct IkeLifetime {
  std::chrono::seconds rekey_time{14400};
  std::chrono::seconds reauth_time{0};
  std::chrono::seconds over_time{1440};  // default: 10 % of max(rekey_time, reauth_time)
  std::chrono::seconds rand_time{1440};  // default: over_time
  bool operator==(const IkeLifetime&) const = default;
};

struct Child {
  std::string name;
  kernel::Mode mode = kernel::Mode::Tunnel;
  std::vector<Prefix> local_ts;   // default: the local address as a host prefix
  std::vector<Prefix> remote_ts;  // default: the remote address as a host prefix
  std::vector<Proposal> esp_proposals;
  StartAction start_action = StartAction::None;
  uint32_t reqid = 0;  // 0: allocated by whoever installs the connection
  uint32_t replay_window = 32;
  ChildLifetime lifetime;
  PeerGoneAction dpd_action = PeerGoneAction::None;    // "clear", "restart", "trap"
  PeerGoneAction close_action = PeerGoneAction::None;  // "none", "restart", "trap"
  std::chrono::seconds inactivity{0};                  // 0: never
};

struct Peer {
  IpAddress address;
  Identity id;  // default: the address; with a certificate, its subject
  AuthMethod auth = AuthMethod::Psk;
  // local, auth "pubkey": our certificate first, then its intermediates (file "cert"), the
  // private key (file "key", private to its owner; "key_passphrase_file" if encrypted),
  // when to send them.
  std::vector<crypto::Certificate> certs;
  std::optional<crypto::PrivateKey> key;
  SendCert send_cert = SendCert::IfAsked;
  // remote, auth "pubkey": the CAs the peer's chain must end at ("cacerts": files or
  // folders) and the CRLs to check it against ("crls": files, DER or PEM); OCSP ("ocsp":
  // "ifuri", "strict", "never") and the responder for the peer's certificate ("ocsp_uri";
  // empty: the certificate's AIA).
  std::vector<crypto::Certificate> cacerts;
  std::vector<Bytes> crls;
  // auth "pubkey", "signature_schemes": local, the schemes we may sign with, in preference
  // order; remote, those we accept from the peer. Empty: any.
  std::vector<crypto::SignatureScheme> signature_schemes;
  crypto::OcspPolicy ocsp = crypto::OcspPolicy::IfUri;
  std::string ocsp_uri;
};

struct Connection {
  std::string name;
  unsigned version = 2;
  Peer local;
  Peer remote;
  SecretBytes psk;  // from psk_file (needed when a side uses "psk"); never printed
  std::vector<Proposal> proposals;
  std::vector<Child> children;  // in file order
  bool allow_insecure = false;
  bool encap = false;  // force UDP encapsulation (NAT-T) even without a NAT, as strongSwan's encap
  bool fragmentation = true;     // IKE fragmentation (RFC 7383) announced and used
  unsigned fragment_size = 1280;  // largest IKE datagram we send, IP and UDP headers included
  IkeLifetime lifetime;
  std::chrono::seconds dpd_delay{0};     // dead peer detection interval; 0: off
  std::chrono::seconds dpd_timeout{30};  // > 0 when dpd_delay is
};

// "fqdn:gw.example", "ipv4:192.0.2.1", "email:a@b.example", "keyid:0x0a0b".
std::string describe(const Identity& id);

}  // namespace ipsec::policy
