// SPDX-License-Identifier: Apache-2.0
// IKE SA lifetimes (rekey, reauthentication, hard expiry), dead peer detection,
// inactivity, and requests postponed after TEMPORARY_FAILURE: timers of an established
// IKE SA. CHILD SA lifetimes are the kernel's (child_sa.cpp programs them; the engine
// acts on its EXPIRE events).
#include <algorithm>

#include "common/log.h"
#include "ike/v2/exchanges.h"

namespace ipsec::ike::v2 {
namespace {

void consider(std::optional<Millis>& next, Millis t) {
  if (t.count() == 0) return;
  if (!next || t < *next) next = t;
}

Millis dpd_due(const IkeSa& sa) {
  if (sa.config->dpd_delay.count() == 0 || sa.awaiting_response ||
      sa.state != IkeState::Established || sa.superseded())
    return Millis{0};
  return sa.last_peer_message + Millis(sa.config->dpd_delay);
}

// Reads the kernel's byte counters of a CHILD SA (in + out); nullopt when it cannot.
std::optional<uint64_t> child_bytes(Context& ctx, const IkeSa& sa, const ChildSa& c) {
  uint64_t sum = 0;
  auto in = ctx.kernel.get_sa(kernel::SaId{sa.local.addr, c.spi_in, kernel::Proto::Esp, {}, {}});
  if (!in) return std::nullopt;
  sum += in->counters.bytes;
  if (!c.outbound_pending) {
    auto out =
        ctx.kernel.get_sa(kernel::SaId{sa.remote.addr, c.spi_out, kernel::Proto::Esp, {}, {}});
    if (out) sum += out->counters.bytes;
  }
  return sum;
}

// DPD: inbound ESP since the last look proves the peer alive as well as an IKE message
// would (strongSwan does the same): no liveness check then.
bool esp_arrived(Context& ctx, IkeSa& sa) {
  bool arrived = false;
  for (auto& c : sa.children) {
    if (!child_in_kernel(c)) continue;
    auto in = ctx.kernel.get_sa(kernel::SaId{sa.local.addr, c.spi_in, kernel::Proto::Esp, {}, {}});
    if (!in) continue;
    if (in->counters.bytes != c.last_in_bytes) arrived = true;
    c.last_in_bytes = in->counters.bytes;
  }
  if (arrived) sa.last_peer_message = ctx.clock.now();
  return arrived;
}

void check_inactivity(Context& ctx, IkeSa& sa, Millis now) {
  for (auto& c : sa.children) {
    const auto idle = c.cfg ? Millis(c.cfg->inactivity) : Millis{0};
    if (idle.count() == 0) continue;
    if (c.state != ChildState::Installed || now < c.last_active + idle) continue;
    auto bytes = child_bytes(ctx, sa, c);
    if (bytes && *bytes != c.last_bytes) {
      c.last_bytes = *bytes;
      c.last_active = now;
      continue;
    }
    log::info(label(sa) + ": CHILD SA " + esp_spi_str(c.spi_in) + " idle for " +
              std::to_string(c.cfg->inactivity.count()) + " s: closing it");
    const size_t live =
        static_cast<size_t>(std::count_if(sa.children.begin(), sa.children.end(),
                                          [](const ChildSa& x) { return child_in_kernel(x); }));
    if (live <= 1) {
      sa.close_reason = "inactivity";
      return start_informational(ctx, sa, {Request::DeleteIke, 0});
    }
    c.last_active = now;  // not again before the Delete is answered
    remove_child(ctx, sa, c, "inactivity");
    start_informational(ctx, sa, {Request::DeleteChild, c.spi_in});
  }
}

}  // namespace

void arm_ike_lifetime(Context& ctx, IkeSa& sa) {
  const auto& l = sa.config->ike_lifetime;
  const auto period = l.reauth_time.count() != 0 ? l.reauth_time : l.rekey_time;
  const Millis now = ctx.clock.now();
  sa.rekey_at = jittered_deadline(*ctx.random, now, period, l.rand_time);
  // Reauthentication is the original initiator's job (a full IKE_SA_INIT + IKE_AUTH from
  // both sides at once would leave two IKE SAs); the responder relies on expire_at.
  if (l.reauth_time.count() != 0 && !sa.initiator) sa.rekey_at = Millis{0};
  sa.expire_at = period.count() != 0 ? now + Millis(period) + Millis(l.over_time) : Millis{0};
}

void peer_dead(Context& ctx, IkeSa& sa, std::string reason) {
  log::error(label(sa) + ": " + reason);
  if (ctx.engine) {
    EngineEvent e;
    e.kind = EventKind::DpdFailed;
    e.reason = reason;
    ctx.engine->emit(sa, std::move(e));
  }
  const bool had_children = std::any_of(sa.children.begin(), sa.children.end(),
                                        [](const ChildSa& c) { return child_in_kernel(c); });
  sa.failure = reason;
  close_sa(ctx, sa, reason);
  if (ctx.engine) ctx.engine->forget_peer(sa);
  if (had_children && ctx.engine) ctx.engine->peer_gone(*sa.config, true);
}

void on_lifecycle_timer(Context& ctx, IkeSa& sa, Millis now) {
  if (sa.state != IkeState::Established) return;
  if (sa.superseded()) {
    // Replaced; the peer should have deleted it (or we are doing so).
    if (sa.expire_at.count() != 0 && now >= sa.expire_at)
      close_sa(ctx, sa, "rekeyed (the old IKE SA was never deleted)");
    return;
  }
  if (sa.expire_at.count() != 0 && now >= sa.expire_at) {
    sa.close_reason = "IKE SA lifetime expired (rekey_time + over_time)";
    log::info(label(sa) + ": " + sa.close_reason);
    return start_informational(ctx, sa, {Request::DeleteIke, 0});
  }
  if (sa.rekey_at.count() != 0 && now >= sa.rekey_at) {
    sa.rekey_at = Millis{0};
    if (sa.config->ike_lifetime.reauth_time.count() != 0 && ctx.engine) {
      log::info(label(sa) + ": reauthenticating (reauth_time)");
      ctx.engine->reauth(sa);
    } else {
      log::info(label(sa) + ": rekeying the IKE SA (rekey_time)");
      enqueue(ctx, sa, {Request::RekeyIke, 0});
    }
  }
  release_delayed(sa, now);
  if (Millis due = dpd_due(sa); due.count() != 0 && now >= due && !esp_arrived(ctx, sa)) {
    log::debug(label(sa) + ": nothing from the peer for " +
               std::to_string(sa.config->dpd_delay.count()) + " s: liveness check");
    enqueue(ctx, sa, {Request::Liveness, 0});
  }
  check_inactivity(ctx, sa, now);
  send_queued(ctx, sa);
}

std::optional<Millis> lifecycle_deadline(const Context& ctx, const IkeSa& sa) {
  std::optional<Millis> next;
  if (sa.state != IkeState::Established) return next;
  consider(next, sa.expire_at);
  if (sa.superseded()) return next;
  consider(next, sa.rekey_at);
  consider(next, dpd_due(sa));
  for (const auto& d : sa.delayed) consider(next, d.at);
  if (sa.awaiting_response) consider(next, sa.dpd_give_up);
  for (const auto& c : sa.children)
    if (c.state == ChildState::Installed && c.cfg && c.cfg->inactivity.count() != 0)
      consider(next, c.last_active + Millis(c.cfg->inactivity));
  (void)ctx;
  return next;
}

}  // namespace ipsec::ike::v2
