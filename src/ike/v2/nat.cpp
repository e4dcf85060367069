// SPDX-License-Identifier: Apache-2.0
// NAT detection and traversal (RFC 7296 §2.23, RFC 3948 §2.3).
#include "ike/v2/nat.h"

#include "common/log.h"
#include "crypto/prf.h"
#include "crypto/random.h"
#include "wire/names.h"

namespace ipsec::ike::v2 {

using wire::NotifyType;

namespace {

constexpr size_t kNatdSize = 20;  // SHA-1

wire::NotifyPayload notify(NotifyType type, Bytes data) {
  wire::NotifyPayload n;
  n.type = type;
  n.data = std::move(data);
  return n;
}

bool is_natd(const wire::NotifyPayload& n) {
  return n.type == NotifyType::NatDetectionSourceIp ||
         n.type == NotifyType::NatDetectionDestinationIp;
}

}  // namespace

Result<Bytes> natd_hash(uint64_t spi_i, uint64_t spi_r, const Endpoint& e) {
  const Bytes spis = [&] {
    Bytes b = spi_bytes(spi_i);
    const Bytes r = spi_bytes(spi_r);
    b.insert(b.end(), r.begin(), r.end());
    return b;
  }();
  const uint8_t port[2] = {static_cast<uint8_t>(e.port >> 8), static_cast<uint8_t>(e.port)};
  return crypto::digest(crypto::Digest::Sha1,
                        {spis, ByteView(e.addr.bytes.data(), e.addr.size()), ByteView(port, 2)});
}

Result<std::vector<wire::Payload>> natd_payloads(const IkeSa& sa, uint64_t spi_r) {
  auto src = sa.config->force_encap ? crypto::random_bytes(kNatdSize)
                                    : natd_hash(sa.spi_i, spi_r, sa.local);
  auto dst = natd_hash(sa.spi_i, spi_r, sa.remote);
  if (!src) return fail("NAT detection: " + src.error().message);
  if (!dst) return fail("NAT detection: " + dst.error().message);
  return std::vector<wire::Payload>{notify(NotifyType::NatDetectionSourceIp, std::move(*src)),
                                    notify(NotifyType::NatDetectionDestinationIp, std::move(*dst))};
}

NatdResult check_natd(Context& ctx, const wire::Message& m, const Endpoint& local,
                      const Endpoint& remote) {
  std::vector<const wire::NotifyPayload*> src, dst;
  for (const auto& p : m.payloads) {
    const auto* n = std::get_if<wire::NotifyPayload>(&p);
    if (n == nullptr || !is_natd(*n)) continue;
    if (n->data.size() != kNatdSize) {
      // RFC 7296 does not say; a hash we cannot compare tells nothing, so it is ignored
      // rather than taken for a NAT.
      ++ctx.counters.natd_ignored;
      log::warn("IKE_SA_INIT from " + remote.str() + ": " + wire::notify_name(n->type) + " with " +
                std::to_string(n->data.size()) + " bytes of data ignored, want " +
                std::to_string(kNatdSize));
      continue;
    }
    (n->type == NotifyType::NatDetectionSourceIp ? src : dst).push_back(n);
  }
  NatdResult r;
  if (src.empty() || dst.empty() || ctx.nat.port == 0) return r;
  auto their_src = natd_hash(m.header.spi_i, m.header.spi_r, remote);
  auto our_dst = natd_hash(m.header.spi_i, m.header.spi_r, local);
  if (!their_src || !our_dst) {
    log::warn("NAT detection: " + (their_src ? our_dst.error() : their_src.error()).message);
    return r;
  }
  r.present = true;
  // §2.23: several source hashes may come (a multihomed sender); one match is enough.
  r.remote_nat = true;
  for (const auto* n : src) r.remote_nat = r.remote_nat && n->data != *their_src;
  r.local_nat = dst.front()->data != *our_dst;
  return r;
}

void apply_natd(Context& ctx, IkeSa& sa, const NatdResult& r) {
  sa.nat.local = r.local_nat;
  sa.nat.remote = r.remote_nat;
  sa.nat.fake = r.present && sa.config->force_encap;
  sa.nat.detection = r.present;
  if (!r.present && sa.config->force_encap)
    log::warn(label(sa) + ": peer does no NAT detection, UDP encapsulation cannot be forced");
  if (!sa.nat.any()) return;
  ++ctx.counters.nat_detected;
  if (sa.nat.local) log::info(label(sa) + ": local host is behind a NAT, sending keepalives");
  if (sa.nat.remote) log::info(label(sa) + ": remote host is behind a NAT");
  if (sa.nat.fake) log::info(label(sa) + ": faking a NAT to force UDP encapsulation");
}

void float_to_natt_port(Context& ctx, IkeSa& sa) {
  if (!sa.nat.any() || sa.local.port == ctx.nat.port) return;
  sa.local.port = ctx.nat.port;
  sa.remote.port = ctx.nat.port;
  log::info(label(sa) + ": switching to port " + std::to_string(ctx.nat.port) +
            " (NAT traversal), from " + sa.local.str());
}

void follow_peer(Context& ctx, IkeSa& sa, const Endpoint& local, const Endpoint& remote) {
  if (sa.local == local && sa.remote == remote) return;
  const bool floated = local.port == ctx.nat.port && sa.local.port != ctx.nat.port;
  // §2.23: only the side that is not behind a NAT follows the peer's address.
  const bool follow = sa.nat.remote && !sa.nat.local;
  if (!floated && !follow) return;
  log::info(label(sa) + ": peer now at " + remote.str() + " (we " + local.str() + ")");
  sa.local = local;
  sa.remote = remote;
}

std::optional<kernel::Encap> esp_encap(const IkeSa& sa, bool inbound) {
  if (!sa.nat.any()) return std::nullopt;
  kernel::Encap e;
  e.sport = inbound ? sa.remote.port : sa.local.port;
  e.dport = inbound ? sa.local.port : sa.remote.port;
  return e;
}

void arm_keepalive(Context& ctx, IkeSa& sa) {
  if (sa.nat.local && ctx.nat.keepalive_interval.count() > 0)
    sa.next_keepalive = ctx.clock.now() + ctx.nat.keepalive_interval;
}

std::optional<Millis> keepalive_deadline(const Context& ctx, const IkeSa& sa) {
  if (!sa.nat.local || ctx.nat.keepalive_interval.count() <= 0 ||
      sa.state != IkeState::Established || sa.next_keepalive.count() == 0)
    return std::nullopt;
  return sa.next_keepalive;
}

void on_keepalive_timer(Context& ctx, IkeSa& sa, Millis now) {
  auto due = keepalive_deadline(ctx, sa);
  if (!due || now < *due) return;
  static constexpr uint8_t kKeepalive = 0xff;
  ctx.sender.send(sa.local, sa.remote, ByteView(&kKeepalive, 1));
  ++ctx.counters.nat_keepalives;
  sa.next_keepalive = now + ctx.nat.keepalive_interval;
}

}  // namespace ipsec::ike::v2
