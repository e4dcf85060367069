// SPDX-License-Identifier: Apache-2.0
// The daemon's one door into IKE: a facade over the version engines (IKEv2 today; IKEv1
// goes beside it). Datagrams are routed by the IKE header's major version (RFC 7296 §3.1,
// RFC 2408 §3.1); everything else by connection (its `version`) or by SA. What comes back
// is summaries (ike/summary.h), never engine internals, so nothing outside src/ike needs
// an engine's headers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"
#include "crypto/random_source.h"
#include "ike/config.h"
#include "ike/events.h"
#include "ike/io.h"
#include "ike/policy_refs.h"
#include "ike/summary.h"
#include "kernel/events.h"
#include "kernel/kernel.h"

namespace ipsec::ike {

namespace v2 {
class Engine;
}

class Ike {
 public:
  // `policies`: shared with the other workers' facades on the same kernel.
  Ike(Sender& sender, kernel::Kernel& kernel, const Clock& clock, RetransmitConfig rt,
      EngineLimits limits, std::shared_ptr<PolicyRefs> policies);
  ~Ike();
  Ike(const Ike&) = delete;
  Ike& operator=(const Ike&) = delete;

  void set_limits(EngineLimits limits);
  void set_nat(NatConfig nat);
  void set_event_handler(EventHandler handler);
  void set_random(crypto::RandomSource& source);
  void set_ocsp(crypto::OcspClient& client);  // as v2::Engine::set_ocsp; counted in counters()
  void resume();  // as v2::Engine::resume: after OCSP answers came
  // As v2::Engine::reconcile (drift repair).
  size_t reconcile(const std::unordered_set<std::string>& kernel_sas, Millis taken_at);

  // A restart that keeps the tunnels (v2/handover.h): the IKE SAs not ready to be handed
  // over yet; the records of those that are (removed here, their CHILD SAs left in the
  // kernel), each led by its IKE version; an IKE SA of the previous process continued from
  // its record (our SPI). Records hold keys: SecretBytes only.
  size_t busy() const;
  std::vector<HandoverRecord> hand_over();
  Result<uint64_t> take_over(ByteView record);

  void add_connection(ConnectionConfig config);
  void remove_connection(std::string_view name);
  void replace_crls(std::string_view name, const std::vector<Bytes>& crls);
  Result<void> install_trap(std::string_view connection);
  void remove_trap(std::string_view connection);
  bool trapped(std::string_view connection) const;
  bool on_acquire(const kernel::AcquireEvent& event);
  bool on_expire(const kernel::ExpireEvent& event);
  Result<uint64_t> initiate(std::string_view connection);
  Result<void> delete_ike_sa(uint64_t local_spi);

  // By the header's major version (byte 17's high nibble): 2 to the IKEv2 engine; 1 is
  // counted (dropped_unsupported) and dropped until IKEv1 is in; others are malformed.
  void on_datagram(const Endpoint& local, const Endpoint& remote, ByteView datagram);
  void on_timer(Millis now);
  std::optional<Millis> next_timer() const;

  // `with_children` false: the IKE SAs only (no CHILD SA summaries, whose selectors are
  // costly to describe), for `down`, ACQUIRE routing and shutdown.
  std::vector<IkeSaSummary> sas(bool with_children = true) const;
  std::vector<ClosedSummary> closed_sas() const;
  Counters counters() const;

 private:
  std::unique_ptr<v2::Engine> v2_;
  Counters own_;  // messages the facade itself dropped
  const crypto::OcspClient* ocsp_ = nullptr;
};

}  // namespace ipsec::ike
