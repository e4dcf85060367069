// SPDX-License-Identifier: Apache-2.0
// Readable text for SAs and policies, as `ipsecctl show` prints them.
#include "ctl/format.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "common/bytes.h"
#include "kernel/algorithms.h"

namespace ipsec::ctl {

namespace k = ipsec::kernel;

namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string algorithm(const char* slot, const k::Algorithm& a, k::AlgKind kind, bool keys) {
  const k::AlgorithmInfo* info = k::find_algorithm_by_kernel(a.name, kind, a.bits);
  std::string out =
      std::string("    ") + slot + " " + (info ? std::string(info->keyword) : "kernel:" + a.name);
  size_t salt = info && a.key.size() >= info->salt_bytes ? info->salt_bytes : 0;
  if (kind != k::AlgKind::Compression) {
    out += " (" + std::to_string((a.key.size() - salt) * 8) + "-bit key";
    if (salt) out += " + 32-bit salt";
  }
  if (a.bits != 0) out += ", " + std::to_string(a.bits) + "-bit ICV";
  if (kind != k::AlgKind::Compression) out += ")";
  if (keys && !a.key.empty()) out += " key 0x" + to_hex(a.key.view());
  return out + "\n";
}

std::string limits(const char* name, uint64_t secs, uint64_t use, uint64_t bytes, uint64_t pkts) {
  std::string out;
  if (secs) out += " " + std::to_string(secs) + "s";
  if (use) out += " " + std::to_string(use) + "s-after-use";
  if (bytes) out += " " + std::to_string(bytes) + "B";
  if (pkts) out += " " + std::to_string(pkts) + "pkts";
  return out.empty() ? "" : std::string(" ") + name + out;
}

std::string lifetime(const k::Lifetime& l) {
  std::string s =
      limits("soft", l.soft_add_seconds, l.soft_use_seconds, l.soft_bytes, l.soft_packets) +
      limits("hard", l.hard_add_seconds, l.hard_use_seconds, l.hard_bytes, l.hard_packets);
  return s.empty() ? "" : "    lifetime" + s + "\n";
}

std::string selector(const k::Selector& s) {
  std::string out = s.src.str() + " -> " + s.dst.str();
  if (s.proto) out += " proto " + std::to_string(s.proto);
  if (s.sport_mask) out += " sport " + std::to_string(s.sport);
  if (s.dport_mask) out += " dport " + std::to_string(s.dport);
  return out;
}

std::string marks(const k::Mark& m, uint32_t if_id) {
  std::string out;
  if (m.mask) out += " mark " + hex32(m.value) + "/" + hex32(m.mask);
  if (if_id) out += " if_id " + std::to_string(if_id);
  return out;
}

}  // namespace

std::string format_sa(const k::SaParams& sa, bool show_keys) {
  std::string out = std::string(k::to_string(sa.proto)) + " spi " + hex32(sa.spi) + " " +
                    sa.src.str() + " -> " + sa.dst.str();
  if (sa.larval) return out + "  (SPI allocated, no keys yet)";
  out += std::string("  ") + k::to_string(sa.mode);
  if (sa.reqid) out += " reqid " + std::to_string(sa.reqid);
  out += marks(sa.mark, sa.if_id) + "\n";
  if (sa.aead) out += algorithm("aead", *sa.aead, k::AlgKind::Aead, show_keys);
  if (sa.enc) out += algorithm("encryption", *sa.enc, k::AlgKind::Encryption, show_keys);
  if (sa.auth) out += algorithm("integrity", *sa.auth, k::AlgKind::Integrity, show_keys);
  if (sa.comp) out += algorithm("compression", *sa.comp, k::AlgKind::Compression, false);
  out += "    replay-window " + std::to_string(sa.replay_window) + (sa.esn ? " esn" : "");
  if (sa.encap) {
    out +=
        "  encap udp " + std::to_string(sa.encap->sport) + "->" + std::to_string(sa.encap->dport);
  }
  out += "\n";
  if (!sa.sel.empty()) out += "    selector " + selector(sa.sel) + "\n";
  out += lifetime(sa.lifetime);
  const k::Counters& c = sa.counters;
  out += "    traffic " + std::to_string(c.bytes) + " bytes, " + std::to_string(c.packets) +
         " packets; errors: replay " + std::to_string(c.replay_errors) + ", replay-window " +
         std::to_string(c.replay_window_errors) + ", integrity " +
         std::to_string(c.integrity_failed);
  return out;
}

std::string format_policy(const k::PolicyParams& p) {
  std::string action = p.action == k::Action::Block ? "block"
                       : p.tmpls.empty()            ? "allow"
                                                    : "protect";
  std::string out = std::string(k::to_string(p.dir)) + " " + selector(p.sel) + "  " + action +
                    "  priority " + std::to_string(p.priority) + " index " +
                    std::to_string(p.index) + marks(p.mark, p.if_id);
  if (p.socket) out += "  (socket)";
  for (const auto& t : p.tmpls) {
    out += std::string("\n    ") + k::to_string(t.proto) + " " + k::to_string(t.mode);
    if (!t.src.is_unspec() || !t.dst.is_unspec()) out += " " + t.src.str() + " -> " + t.dst.str();
    if (t.reqid) out += " reqid " + std::to_string(t.reqid);
    if (t.spi) out += " spi " + hex32(t.spi);
    if (t.optional) out += " optional";
  }
  return out;
}

void sort_for_display(std::vector<k::SaParams>& sas) {
  std::stable_sort(sas.begin(), sas.end(), [](const k::SaParams& a, const k::SaParams& b) {
    return std::tie(a.src, a.dst, a.proto, a.spi) < std::tie(b.src, b.dst, b.proto, b.spi);
  });
}

void sort_for_display(std::vector<k::PolicyParams>& policies) {
  auto key = [](const k::PolicyParams& p) {
    const k::Selector& s = p.sel;
    return std::tie(s.src, s.dst, s.proto, s.sport, s.dport, p.dir, p.mark.value, p.if_id,
                    p.priority);
  };
  std::stable_sort(
      policies.begin(), policies.end(),
      [&](const k::PolicyParams& a, const k::PolicyParams& b) { return key(a) < key(b); });
}

}  // namespace ipsec::ctl
