// SPDX-License-Identifier: Apache-2.0
// The IKEv2 engine's runtime configuration: one connection (peer, identities,
// PSK, IKE and ESP proposals in wire transform terms, the first CHILD SA).
// Built from policy files elsewhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/ip.h"
#include "common/secret.h"
#include "crypto/ocsp.h"
#include "crypto/pki.h"
#include "kernel/types.h"
#include "wire/types.h"

namespace ipsec::ike {

struct Endpoint {
  IpAddress addr;
  uint16_t port = 500;
  std::string str() const;  // "192.0.2.1[500]"
  bool operator==(const Endpoint&) const = default;
};

// RFC 7296 §3.5 identification: ID type and raw data.
struct Identity {
  wire::IdType type = wire::IdType::Fqdn;
  Bytes data;

  static Identity address(const IpAddress& a);  // ID_IPV4_ADDR or ID_IPV6_ADDR
  static Identity fqdn(std::string_view name);
  static Identity rfc822(std::string_view mailbox);
  static Identity key_id(ByteView id);
  std::string str() const;  // "fqdn:gw.example.org", "ipv4:192.0.2.1", "keyid:0a0b"
  bool operator==(const Identity&) const = default;
};

// Which peer identities a connection accepts (remote ids): one exactly, any, every name
// under a domain ("*.example.org": FQDNs below it and e-mail addresses at it), or every
// address in a prefix. An Identity converts to an exact match.
struct IdentityMatch {
  enum class Kind : uint8_t { Exact, Any, DomainSuffix, AddressPrefix, DnPattern };
  Kind kind = Kind::Exact;
  Identity id;         // Exact; DnPattern: the DER Name with "*" values
  std::string domain;  // DomainSuffix: "example.org"
  Prefix prefix;       // AddressPrefix

  IdentityMatch() = default;
  IdentityMatch(Identity exact) : id(std::move(exact)) {}  // NOLINT: an exact match
  static IdentityMatch any();
  static IdentityMatch domain_suffix(std::string_view domain);
  static IdentityMatch address_prefix(const Prefix& p);
  static IdentityMatch dn_pattern(Bytes der);

  bool matches(const Identity& peer) const;
  // How specific: exact 3, prefix or domain 2, any 1 (the best match wins).
  int specificity() const;
  std::string str()
      const;  // "fqdn:gw.example.org", "any", "fqdn:*.example.org", "ipv4:192.0.2.0/24"
  bool operator==(const IdentityMatch&) const = default;
};

// How a side authenticates (RFC 7296 §2.15): a pre-shared key, or a signature by a
// certificate's key (methods 1, 9-11, and 14 of RFC 7427).
enum class AuthMethod : uint8_t { Psk, Pubkey };
// When our certificate and intermediates go out in CERT payloads.
enum class SendCert : uint8_t { IfAsked, Always, Never };

// An encryption transform; key_bits 0 means no Key Length attribute
// (ChaCha20-Poly1305).
struct EncrSpec {
  wire::EncrId id = wire::EncrId::AesGcm16;
  uint16_t key_bits = 256;
  bool operator==(const EncrSpec&) const = default;
};

// One IKE proposal; each list is in preference order. integ is empty for AEAD.
struct IkeProposalConfig {
  std::vector<EncrSpec> encr;
  std::vector<wire::PrfId> prf;
  std::vector<wire::IntegId> integ;
  std::vector<wire::DhGroup> dh;
  bool operator==(const IkeProposalConfig&) const = default;
};

// One ESP proposal; integ is empty for AEAD. No DH: the first CHILD SA has no
// PFS (§1.2).
struct EspProposalConfig {
  std::vector<EncrSpec> encr;
  std::vector<wire::IntegId> integ;
  std::vector<wire::EsnId> esn{wire::EsnId::NoEsn};
  // PFS: key exchange groups offered in CREATE_CHILD_SA (new CHILD SAs and CHILD SA
  // rekeys, §1.3.1); empty: no PFS. Never sent in IKE_AUTH (the first CHILD SA takes its
  // keys from the IKE SA's key exchange).
  std::vector<wire::DhGroup> dh;
  bool operator==(const EspProposalConfig&) const = default;
};

// What brings a CHILD SA up (swanctl's start_action).
enum class StartAction : uint8_t {
  None,   // only `ipsecctl up` or the peer
  Start,  // initiated when the connection is loaded
  Trap,   // "on-demand": trap policies at load; the kernel's ACQUIRE initiates
};
// What happens when the peer is found dead (DPD) or deletes the CHILD SA (close action).
enum class PeerGoneAction : uint8_t {
  None,     // close action only: nothing (dpd_action "clear" is None too)
  Restart,  // initiate the connection again at once
  Trap,     // back to trap policies: the next packet brings it up again
};

// CHILD SA lifetimes (swanctl's rekey_time, life_time, rand_time, rekey_bytes, ...).
// Programmed into the kernel: the soft limits are the rekey_* values reduced by a random
// amount up to rand_time (time) or up to 10 % of the gap to the hard limit (bytes,
// packets), so that many CHILD SAs do not rekey at once; the hard limits are life_*.
// The kernel's soft EXPIRE starts a rekey, its hard EXPIRE deletes the CHILD SA. 0: none.
struct ChildLifetime {
  std::chrono::seconds rekey_time{3600};
  std::chrono::seconds life_time{3960};
  std::chrono::seconds rand_time{360};
  uint64_t rekey_bytes = 0, life_bytes = 0;
  uint64_t rekey_packets = 0, life_packets = 0;
  bool operator==(const ChildLifetime&) const = default;
};

// IKE SA lifetimes: timers in the engine (swanctl's rekey_time, reauth_time, over_time,
// rand_time). At rekey_time minus a random amount up to rand_time the IKE SA is rekeyed
// (§2.18); when reauth_time is set instead, it is reauthenticated: a new IKE SA with
// IKE_SA_INIT and IKE_AUTH, its CHILD SA up before the old IKE SA is deleted
// (make-before-break; only the IKE SA's original initiator does this, the responder
// waits for it). over_time after that the IKE SA is closed whatever happened.
// 0: never.
struct IkeLifetime {
  std::chrono::seconds rekey_time{14400};
  std::chrono::seconds reauth_time{0};
  std::chrono::seconds over_time{1440};
  std::chrono::seconds rand_time{1440};
  bool operator==(const IkeLifetime&) const = default;
};

struct ChildConfig {
  std::string name = "child";
  kernel::Mode mode = kernel::Mode::Tunnel;
  std::vector<Prefix> local_ts;
  std::vector<Prefix> remote_ts;
  std::vector<EspProposalConfig> proposals;
  uint32_t reqid = 1;
  uint32_t replay_window = 32;
  ChildLifetime lifetime;
  StartAction start_action = StartAction::None;
  PeerGoneAction dpd_action = PeerGoneAction::None;    // "clear", "restart", "trap"
  PeerGoneAction close_action = PeerGoneAction::None;  // when the peer deletes it
  // The CHILD SA is deleted (and its IKE SA, when it was the last) after this long
  // without a packet in either direction (kernel counters). 0: never.
  std::chrono::seconds inactivity{0};
  bool operator==(const ChildConfig&) const = default;
};

// One connection: immutable once added to an engine, shared by every IKE SA made from it
// (std::shared_ptr<const ConnectionConfig>), never copied per SA.
// The IKE version a connection speaks: the facade (ike.h) gives it to that version's
// engine. Only IKEv2 has an engine so far; the policy reader refuses 1 until IKEv1 does.
enum class IkeVersion : uint8_t { V1 = 1, V2 = 2 };

struct ConnectionConfig {
  std::string name;
  IkeVersion version = IkeVersion::V2;
  Endpoint local;
  Endpoint remote;  // an unspecified address accepts any peer (responder only)
  Identity local_id;
  IdentityMatch remote_id;  // a responder picks the connection by the peer's IDi (§2.15)
  AuthMethod local_auth = AuthMethod::Psk, remote_auth = AuthMethod::Psk;
  // The key material as loaded. Engine::add_connection moves it into the engine's
  // credential store (credentials.h) and the connection SAs share holds none.
  SecretBytes psk;
  // local_auth Pubkey: our certificate then its intermediates, and its private key; moved
  // into the credential store like the PSK.
  std::vector<crypto::Certificate> certs;
  std::optional<crypto::PrivateKey> key;
  SendCert send_cert = SendCert::IfAsked;
  // remote_auth Pubkey: the CAs the peer's chain must end at, and CRLs (DER or PEM).
  std::vector<crypto::Certificate> cacerts;
  std::vector<Bytes> crls;
  // Signature schemes (RFC 7427; methods 1 and 9/10/11 count as the scheme they sign with):
  // local, those we may sign with, in preference order; remote, those the peer's AUTH may
  // use. Empty: any (ours: RSA-PSS first, the ECDSA hash of the curve's size).
  std::vector<crypto::SignatureScheme> local_signature_schemes, remote_signature_schemes;
  // false leaves N(SIGNATURE_HASH_ALGORITHMS) out of IKE_SA_INIT: a peer without RFC 7427,
  // which makes the other side fall back to AUTH methods 1 and 9/10/11. For tests; no
  // policy field sets it.
  bool announce_signature_hashes = true;
  // remote_auth Pubkey: OCSP for the peer's chain (RFC 6960; crypto/ocsp.h) and the
  // responder asked about its certificate (empty: the one its AIA names).
  crypto::OcspPolicy ocsp = crypto::OcspPolicy::IfUri;
  std::string ocsp_uri;
  std::vector<IkeProposalConfig> proposals;
  // At least one. The first to come up rides IKE_AUTH, the others follow in
  // CREATE_CHILD_SA (§1.3.1); each has its own selectors, mode, proposals, start action,
  // lifetimes and reqid. A responder picks the one whose selectors and mode fit the
  // peer's proposal.
  std::vector<ChildConfig> children;
  // Like strongSwan's `encap = yes`: our NAT_DETECTION_SOURCE_IP hash is faked so that
  // both sides move to the NAT-T port and UDP-encapsulate ESP even without a NAT.
  bool force_encap = false;
  IkeLifetime ike_lifetime;
  // Dead peer detection (§2.4): after dpd_delay with neither an IKE message nor inbound
  // ESP (the kernel's counters) from the peer, an empty INFORMATIONAL request goes out;
  // unanswered after dpd_timeout (retransmitted in the meantime), the peer is dead and
  // every CHILD SA's dpd_action applies. 0: no DPD.
  std::chrono::seconds dpd_delay{0};
  std::chrono::seconds dpd_timeout{30};
  // IKE fragmentation (RFC 7383): announced in IKE_SA_INIT; when both sides did, an
  // encrypted message whose datagram would exceed fragment_size bytes (IP and UDP headers
  // included) goes out as SKF fragments of at most that size.
  bool fragmentation = true;
  unsigned fragment_size = 1280;
  bool operator==(const ConnectionConfig&) const = default;

  const ChildConfig* child(std::string_view child_name) const;
  // The child whose reqid this is (ACQUIRE, EXPIRE), or nullptr.
  const ChildConfig* child_by_reqid(uint32_t reqid) const;
};

// NAT traversal (RFC 7296 §2.23, RFC 3948).
struct NatConfig {
  // Where IKE moves when a NAT is detected, and the source and destination port of
  // UDP-encapsulated ESP. Datagrams from or to this port carry the non-ESP marker on the
  // wire: the Sender adds it and the receiver strips it, never the engine. 0: no NAT
  // traversal (no NAT_DETECTION_* notifies sent or answered).
  uint16_t port = 4500;
  // NAT keepalives (one 0xFF byte, RFC 3948 §2.3) while we are behind a NAT. 0: none.
  std::chrono::milliseconds keepalive_interval{20000};
};

// RFC 7296 §2.1: the initiator retransmits with exponential backoff, then gives
// up.
struct RetransmitConfig {
  std::chrono::milliseconds initial{1000};
  unsigned max_retransmits = 5;  // timeouts 1, 2, 4, 8, 16 s, then 32 s until failure
};

// Which IKE SPIs this engine may generate: (last byte on the wire) % count == index,
// so that a daemon with several engines steers each message to the engine that owns
// its SPI (daemon/shard.h). count 1: any SPI.
struct SpiShard {
  uint32_t index = 0, count = 1;  // count 1..256
  uint64_t apply(uint64_t spi) const {
    if (count <= 1) return spi;
    uint64_t low = (spi & 0xff) - (spi & 0xff) % count + index;
    if (low > 0xff) low -= count;
    return (spi & ~uint64_t{0xff}) | low;
  }
};

// Responder protection against half-open SAs (RFC 7296 §2.6).
struct EngineLimits {
  // A responder SA that has answered IKE_SA_INIT but seen no IKE_AUTH is removed after this.
  std::chrono::milliseconds half_open_timeout{30000};
  // From this many half-open SAs on, IKE_SA_INIT requests without a valid COOKIE are
  // answered with N(COOKIE) and no state. 0: always.
  size_t cookie_threshold = 128;
  // At most this many half-open responder SAs per peer address: IKE_SA_INIT requests
  // beyond are dropped (counted), so one source cannot fill the table (0: no limit).
  size_t half_open_per_source = 32;
  // The cookie secret is replaced this often; cookies of the previous secret stay valid.
  std::chrono::milliseconds cookie_secret_lifetime{120000};
  SpiShard shard;  // every IKE SPI this engine generates (ours: SPIi or SPIr)
};

}  // namespace ipsec::ike
