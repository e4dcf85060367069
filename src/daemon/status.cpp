// SPDX-License-Identifier: Apache-2.0
// The engine's SAs, closed SAs and counters as the control protocol's status.
#include "daemon/status.h"

#include <optional>

#include "common/log.h"
#include "ike/traffic_selectors.h"

namespace ipsec::daemon {

namespace {

using ike::Millis;

nlohmann::json counters_json(const ike::Counters& c) {
  return nlohmann::json{{"dropped_malformed", c.dropped_malformed},
                        {"dropped_unknown_spi", c.dropped_unknown_spi},
                        {"dropped_unexpected", c.dropped_unexpected},
                        {"dropped_integrity", c.dropped_integrity},
                        {"dropped_unsupported", c.dropped_unsupported},
                        {"retransmits", c.retransmits},
                        {"duplicates_answered", c.duplicates_answered},
                        {"no_proposal_chosen", c.no_proposal_chosen},
                        {"invalid_ke_sent", c.invalid_ke_sent},
                        {"invalid_ke_received", c.invalid_ke_received},
                        {"auth_failed", c.auth_failed},
                        {"ts_unacceptable", c.ts_unacceptable},
                        {"timeouts", c.timeouts},
                        {"kernel_errors", c.kernel_errors},
                        {"kernel_sas_missing", c.kernel_sas_missing},
                        {"ike_established", c.ike_established},
                        {"child_installed", c.child_installed},
                        {"ike_deleted", c.ike_deleted},
                        {"child_deleted", c.child_deleted},
                        {"liveness_answered", c.liveness_answered},
                        {"half_open_expired", c.half_open_expired},
                        {"dropped_half_open_limit", c.dropped_half_open_limit},
                        {"cookies_sent", c.cookies_sent},
                        {"cookies_invalid", c.cookies_invalid},
                        {"initial_contact_closed", c.initial_contact_closed},
                        {"nat_detected", c.nat_detected},
                        {"natd_ignored", c.natd_ignored},
                        {"nat_keepalives", c.nat_keepalives},
                        {"fragments_sent", c.fragments_sent},
                        {"fragments_received", c.fragments_received},
                        {"fragments_reassembled", c.fragments_reassembled},
                        {"fragments_dropped", c.fragments_dropped},
                        {"ocsp_requests", c.ocsp_requests},
                        {"ocsp_cache_hits", c.ocsp_cache_hits},
                        {"ocsp_failed", c.ocsp_failed},
                        {"ocsp_revoked", c.ocsp_revoked}};
}

// The kernel's view of one of the CHILD SA's ESP SAs; nullopt (logged at debug) if the
// kernel does not answer: status never fails for it.
std::optional<kernel::SaParams> kernel_sa(kernel::Kernel& k, const IpAddress& dst, uint32_t spi) {
  auto sa = k.get_sa(kernel::SaId{dst, spi, kernel::Proto::Esp, {}, {}});
  if (sa) return std::move(*sa);
  log::debug("status: " + sa.error().message);
  return std::nullopt;
}

// Seconds from `now` until `at` (engine time; 0: nothing scheduled, -1); 0 once due.
int64_t seconds_until(Millis at, Millis now) {
  if (at.count() == 0) return -1;
  return at > now ? (at - now).count() / 1000 : 0;
}

int64_t seconds_since(Millis then, Millis now) {
  return now > then ? (now - then).count() / 1000 : 0;
}

}  // namespace

control::ChildStatus child_status(const ike::IkeSaSummary& sa, const ike::ChildSummary& ch,
                                  kernel::Kernel& k, Millis now, uint64_t wall_now) {
  control::ChildStatus c;
  c.name = ch.name;
  c.state = ch.state;
  c.spi_in = ch.spi_in;
  c.spi_out = ch.spi_out;
  c.mode = ch.transport ? "transport" : "tunnel";
  c.local_ts = ch.local_ts;
  c.remote_ts = ch.remote_ts;
  c.algorithms = ch.algorithms;
  c.failure = ch.failure;
  c.replaces = ch.replaces;
  if (!ch.in_kernel) return c;
  c.age_seconds = static_cast<uint64_t>(seconds_since(ch.installed, now));
  c.rekey_in_seconds = seconds_until(ch.soft_at, now);
  c.expire_in_seconds = seconds_until(ch.hard_at, now);
  if (ch.replaces != 0) c.last_rekey_seconds_ago = seconds_since(ch.installed, now);
  if (auto in = kernel_sa(k, sa.local.addr, ch.spi_in)) {
    c.bytes_in = in->counters.bytes;
    c.packets_in = in->counters.packets;
    // The kernel's add time, when it keeps one, is the truth about the SA's age.
    if (in->counters.add_time != 0 && wall_now >= in->counters.add_time)
      c.age_seconds = wall_now - in->counters.add_time;
  }
  if (ch.outbound_pending) return c;  // its outbound SA is not in the kernel yet
  if (auto out = kernel_sa(k, sa.remote.addr, ch.spi_out)) {
    c.bytes_out = out->counters.bytes;
    c.packets_out = out->counters.packets;
  }
  return c;
}

control::IkeStatus ike_status(const ike::IkeSaSummary& sa, kernel::Kernel& k, uint32_t worker,
                              Millis now, uint64_t wall_now) {
  control::IkeStatus s;
  s.connection = sa.connection;
  s.state = sa.state;
  s.initiator = sa.initiator;
  s.spi_i = sa.spi_i;
  s.spi_r = sa.spi_r;
  s.local = sa.local.str();
  s.remote = sa.remote.str();
  s.algorithms = sa.algorithms;
  s.peer_id = sa.peer_id;
  s.peer_auth = sa.peer_auth;
  s.peer_cert = sa.peer_cert;
  s.age_seconds = static_cast<uint64_t>(seconds_since(sa.created, now));
  if (sa.phase == ike::SaPhase::Established) {
    s.rekey_in_seconds = seconds_until(sa.rekey_at, now);
    s.expire_in_seconds = seconds_until(sa.expire_at, now);
    if (sa.replaces != 0) s.last_rekey_seconds_ago = seconds_since(sa.established_at, now);
  }
  s.worker = worker;
  s.failure = sa.failure;
  for (const ike::ChildSummary& ch : sa.children)
    s.children.push_back(child_status(sa, ch, k, now, wall_now));
  return s;
}

control::Status make_status(const EngineView& engine, kernel::Kernel& kernel, uint32_t worker,
                            Millis now, uint64_t wall_now) {
  control::Status st;
  for (const ike::IkeSaSummary& sa : engine.sas)
    st.ike_sas.push_back(ike_status(sa, kernel, worker, now, wall_now));
  for (const auto& c : engine.closed)
    st.closed.push_back(control::ClosedStatus{c.label, c.state, c.reason, c.child_failure});
  st.counters = counters_json(engine.counters);
  return st;
}

void merge(control::Status& into, const control::Status& part) {
  into.ike_sas.insert(into.ike_sas.end(), part.ike_sas.begin(), part.ike_sas.end());
  into.closed.insert(into.closed.end(), part.closed.begin(), part.closed.end());
  for (const auto& [name, value] : part.counters.items()) {
    if (!value.is_number_unsigned()) continue;
    uint64_t sum = value.get<uint64_t>();
    if (into.counters.contains(name) && into.counters[name].is_number_unsigned())
      sum += into.counters[name].get<uint64_t>();
    into.counters[name] = sum;
  }
}

}  // namespace ipsec::daemon
