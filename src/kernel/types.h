// SPDX-License-Identifier: Apache-2.0
// Plain data describing XFRM states (SAs) and policies: the model shared by the
// policy loader, the kernel implementations and the CLI, in both directions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/secret.h"

namespace ipsec::kernel {

// IP protocol numbers of the IPsec transforms.
enum class Proto : uint8_t { Esp = 50, Ah = 51, Comp = 108 };
// Values of XFRM_MODE_*.
enum class Mode : uint8_t { Transport = 0, Tunnel = 1, Beet = 4 };
// Values of XFRM_POLICY_IN/OUT/FWD.
enum class Dir : uint8_t { In = 0, Out = 1, Fwd = 2 };
// Values of XFRM_POLICY_ALLOW/BLOCK. A policy with templates and Allow
// protects traffic (the kernel needs an SA, or the packet is dropped).
enum class Action : uint8_t { Allow = 0, Block = 1 };

const char* to_string(Proto p);   // "esp", "ah", "comp"
const char* to_string(Mode m);    // "transport", "tunnel", "beet"
const char* to_string(Dir d);     // "in", "out", "fwd"
const char* to_string(Action a);  // "allow", "block"

// Traffic selector. Family comes from the prefixes (both the same family).
// proto 0 means any upper-layer protocol; a port mask of 0 means any port.
// For ICMP/ICMPv6 the kernel keeps type in sport and code in dport.
struct Selector {
  Prefix src;
  Prefix dst;
  uint8_t proto = 0;
  uint16_t sport = 0, sport_mask = 0;
  uint16_t dport = 0, dport_mask = 0;
  int32_t ifindex = 0;
  uint32_t user = 0;

  Family family() const { return src.family() != Family::Unspec ? src.family() : dst.family(); }
  bool empty() const { return src.addr.is_unspec() && dst.addr.is_unspec(); }
  bool operator==(const Selector&) const = default;
};

// Limits; 0 means "no limit" (the kernel's XFRM_INF). Seconds are since add
// (add_*) or since first use (use_*).
struct Lifetime {
  uint64_t soft_bytes = 0, hard_bytes = 0;
  uint64_t soft_packets = 0, hard_packets = 0;
  uint64_t soft_add_seconds = 0, hard_add_seconds = 0;
  uint64_t soft_use_seconds = 0, hard_use_seconds = 0;
  bool operator==(const Lifetime&) const = default;
};

// What the kernel counted; read back only, never programmed.
struct Counters {
  uint64_t bytes = 0, packets = 0;
  uint64_t add_time = 0, use_time = 0;  // seconds since the epoch; 0 = never
  uint32_t replay_window_errors = 0;    // xfrm_stats.replay_window
  uint32_t replay_errors = 0;           // xfrm_stats.replay
  uint32_t integrity_failed = 0;        // xfrm_stats.integrity_failed
};

struct Mark {
  uint32_t value = 0, mask = 0;
  bool operator==(const Mark&) const = default;
};

// UDP encapsulation for NAT traversal (RFC 3948).
struct Encap {
  uint16_t type = 2;  // UDP_ENCAP_ESPINUDP
  uint16_t sport = 4500, dport = 4500;
  IpAddress original_address;  // NAT-OA; unspecified when unknown
  bool operator==(const Encap&) const = default;
};

// An algorithm as the kernel names it ("cbc(aes)", "hmac(sha256)",
// "rfc4106(gcm(aes))", ...). bits: truncation length of an auth algorithm,
// ICV length of an AEAD; 0 otherwise.
struct Algorithm {
  std::string name;
  SecretBytes key;
  uint32_t bits = 0;
  bool operator==(const Algorithm&) const = default;
};

// Identifies an SA: (destination, SPI, protocol) and the mark it carries.
struct SaId {
  IpAddress dst;
  uint32_t spi = 0;  // host byte order
  Proto proto = Proto::Esp;
  Mark mark;
  IpAddress src;  // optional; helps the kernel find larval states
  bool operator==(const SaId&) const = default;
};

// SaParams::flags: the kernel's XFRM_STATE_AF_UNSPEC; with an empty selector,
// a tunnel-mode SA carries inner traffic of either family (IPv4 in IPv6, ...).
inline constexpr uint8_t kSaFlagAfUnspec = 32;

struct SaParams {
  IpAddress src, dst;
  uint32_t spi = 0;  // host byte order
  Proto proto = Proto::Esp;
  Mode mode = Mode::Transport;
  uint32_t reqid = 0;
  std::optional<Algorithm> enc;   // XFRMA_ALG_CRYPT
  std::optional<Algorithm> auth;  // XFRMA_ALG_AUTH_TRUNC
  std::optional<Algorithm> aead;  // XFRMA_ALG_AEAD
  std::optional<Algorithm> comp;  // XFRMA_ALG_COMP (no key)
  uint32_t replay_window = 0;     // packets; with esn, sent as XFRMA_REPLAY_ESN_VAL
  bool esn = false;
  Lifetime lifetime;
  std::optional<Encap> encap;
  Mark mark;
  uint32_t if_id = 0;
  Selector sel;              // empty: the kernel matches any traffic for this SA
  uint8_t flags = 0;         // XFRM_STATE_* (e.g. XFRM_STATE_AF_UNSPEC)
  uint32_t extra_flags = 0;  // XFRMA_SA_EXTRA_FLAGS
  uint32_t tfcpad = 0;

  Counters counters;    // read back only; ignored when adding
  bool larval = false;  // read back only: an SPI allocated but no keys yet

  SaId id() const { return SaId{dst, spi, proto, mark, src}; }
  // Equal in everything that is programmed (counters and larval ignored).
  bool same_config(const SaParams& o) const;
};

// A template of a policy: which SA the kernel must use. Several templates in
// order make a bundle (e.g. AH then ESP).
struct Template {
  IpAddress src, dst;  // tunnel endpoints; unspecified in transport mode
  uint32_t spi = 0;    // 0: any SPI
  Proto proto = Proto::Esp;
  Mode mode = Mode::Transport;
  uint32_t reqid = 0;
  bool optional = false;  // "use" level rather than "required"
  bool operator==(const Template&) const = default;
};

// Identifies a policy: selector, direction, mark and interface id.
struct PolicyId {
  Selector sel;
  Dir dir = Dir::Out;
  Mark mark;
  uint32_t if_id = 0;
  bool operator==(const PolicyId&) const = default;
};

struct PolicyParams {
  Selector sel;
  Dir dir = Dir::Out;
  Action action = Action::Allow;
  uint32_t priority = 0;
  uint32_t index = 0;  // chosen by the kernel when 0
  std::vector<Template> tmpls;
  Mark mark;
  uint32_t if_id = 0;
  Lifetime lifetime;
  uint8_t flags = 0;    // XFRM_POLICY_LOCALOK, XFRM_POLICY_ICMP
  bool socket = false;  // read back only: a per-socket policy

  Counters counters;  // read back only

  PolicyId id() const { return PolicyId{sel, dir, mark, if_id}; }
  bool same_config(const PolicyParams& o) const;  // ignores index and counters
};

struct SpiRequest {
  IpAddress src, dst;
  Proto proto = Proto::Esp;
  uint32_t reqid = 0;
  Mark mark;
  uint32_t min = 0x100, max = 0xffffffff;
  // The seq of the ACQUIRE this SPI answers; 0: none. The kernel then gives
  // the SPI to that ACQUIRE's state (same destination) instead of making a
  // new larval state, so the SA added with the SPI replaces it
  // (xfrm_alloc_userspi, xfrm_find_acq_byseq).
  uint32_t seq = 0;
};

struct SadInfo {
  uint32_t sa_count = 0;
  uint32_t hash_size = 0, hash_max = 0;
};

struct SpdInfo {
  uint32_t in = 0, out = 0, fwd = 0;  // main policies per direction
  uint32_t in_socket = 0, out_socket = 0, fwd_socket = 0;
  uint32_t hash_size = 0, hash_max = 0;
};

// Compact byte strings that are equal exactly when two objects are the same
// object to XFRM: SAs by (destination, SPI, protocol, mark) - not the source -
// and policies by (selector, direction, mark, if_id). For hash maps.
std::string identity_key(const SaId& id);
std::string identity_key(const PolicyId& id);

// One-line descriptions used in messages: "SA spi 0x1000 192.0.2.1->192.0.2.2 esp",
// "policy 10.0.0.0/24->10.0.1.0/24 out".
std::string describe(const SaId& id);
std::string describe(const SaParams& sa);
std::string describe(const PolicyId& id);
std::string describe(const PolicyParams& p);

}  // namespace ipsec::kernel
