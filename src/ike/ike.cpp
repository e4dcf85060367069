// SPDX-License-Identifier: Apache-2.0
// The IKE facade: routing to the version engines, summaries out.
#include "ike/ike.h"

#include "common/log.h"
#include "ike/v2/engine.h"
#include "ike/v2/summary.h"

namespace ipsec::ike {

Ike::Ike(Sender& sender, kernel::Kernel& kernel, const Clock& clock, RetransmitConfig rt,
         EngineLimits limits, std::shared_ptr<PolicyRefs> policies)
    : v2_(std::make_unique<v2::Engine>(sender, kernel, clock, rt, limits, std::move(policies))) {}

Ike::~Ike() = default;

void Ike::set_limits(EngineLimits limits) { v2_->set_limits(limits); }
void Ike::set_nat(NatConfig nat) { v2_->set_nat(nat); }
void Ike::set_event_handler(EventHandler handler) { v2_->set_event_handler(std::move(handler)); }
void Ike::set_random(crypto::RandomSource& source) { v2_->set_random(source); }
void Ike::resume() { v2_->resume(); }

size_t Ike::busy() const { return v2_->busy(); }

std::vector<HandoverRecord> Ike::hand_over() {
  std::vector<HandoverRecord> out;
  for (HandoverRecord& r : v2_->hand_over()) {
    Bytes led;
    led.reserve(r.data.size() + 1);  // no reallocation: no stray copy of the keys
    led.push_back(2);                // IKEv2
    led.insert(led.end(), r.data.data(), r.data.data() + r.data.size());
    out.push_back(HandoverRecord{r.local_spi, SecretBytes(std::move(led))});
  }
  return out;
}

Result<uint64_t> Ike::take_over(ByteView record) {
  if (record.empty() || record[0] != 2)
    return fail("a record of IKE version " +
                (record.empty() ? std::string("(none)") : std::to_string(record[0])) +
                ", which this ipsecd cannot continue");
  return v2_->take_over(record.subspan(1));
}

size_t Ike::reconcile(const std::unordered_set<std::string>& kernel_sas, Millis taken_at) {
  return v2_->reconcile(kernel_sas, taken_at);
}

void Ike::set_ocsp(crypto::OcspClient& client) {
  v2_->set_ocsp(client);
  ocsp_ = &client;
}
void Ike::add_connection(ConnectionConfig config) {
  if (config.version != IkeVersion::V2) {  // the policy reader refuses it before this
    log::error("connection " + config.name + ": IKE version " +
               std::to_string(static_cast<int>(config.version)) + " has no engine; not added");
    return;
  }
  v2_->add_connection(std::move(config));
}
void Ike::remove_connection(std::string_view name) { v2_->remove_connection(name); }
void Ike::replace_crls(std::string_view name, const std::vector<Bytes>& crls) {
  v2_->replace_crls(name, crls);
}
Result<void> Ike::install_trap(std::string_view c) { return v2_->install_trap(c); }
void Ike::remove_trap(std::string_view c) { v2_->remove_trap(c); }
bool Ike::trapped(std::string_view c) const { return v2_->trapped(c); }
bool Ike::on_acquire(const kernel::AcquireEvent& e) { return v2_->on_acquire(e); }
bool Ike::on_expire(const kernel::ExpireEvent& e) { return v2_->on_expire(e); }
Result<uint64_t> Ike::initiate(std::string_view c) { return v2_->initiate(c); }
Result<void> Ike::delete_ike_sa(uint64_t spi) { return v2_->delete_ike_sa(spi); }
void Ike::on_timer(Millis now) { v2_->on_timer(now); }
std::optional<Millis> Ike::next_timer() const { return v2_->next_timer(); }
std::vector<IkeSaSummary> Ike::sas(bool with_children) const {
  return v2::summaries(*v2_, with_children);
}
std::vector<ClosedSummary> Ike::closed_sas() const { return v2::closed_summaries(*v2_); }

void Ike::on_datagram(const Endpoint& local, const Endpoint& remote, ByteView datagram) {
  // RFC 7296 §3.1 / RFC 2408 §3.1: the version byte follows the SPIs and Next Payload.
  const unsigned major = datagram.size() > 17 ? datagram[17] >> 4 : 0;
  if (major == 2) return v2_->on_datagram(local, remote, datagram);
  if (major == 1) {
    ++own_.dropped_unsupported;
    log::debug("IKEv1 message from " + remote.str() + " dropped: IKEv1 is not implemented yet");
    return;
  }
  ++own_.dropped_malformed;
  log::debug("datagram from " + remote.str() + " dropped: IKE major version " +
             std::to_string(major));
}

Counters Ike::counters() const {
  Counters c = v2_->counters();
  c.dropped_unsupported += own_.dropped_unsupported;
  c.dropped_malformed += own_.dropped_malformed;
  if (ocsp_ != nullptr) {
    const crypto::OcspCounters& o = ocsp_->counters();
    c.ocsp_requests = o.requests;
    c.ocsp_cache_hits = o.cache_hits;
    c.ocsp_failed = o.failed;
    c.ocsp_revoked = o.revoked;
  }
  return c;
}

}  // namespace ipsec::ike
