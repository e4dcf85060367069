// SPDX-License-Identifier: Apache-2.0
// The IKEv2 engine: owns the IKE SAs, dispatches datagrams to them by SPI, runs
// the retransmission timers. No I/O of its own: datagrams leave through Sender,
// time comes from Clock and on_timer(), the kernel is reached through
// kernel::Kernel.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ike/config.h"
#include "ike/connections.h"
#include "ike/events.h"
#include "ike/io.h"
#include "ike/policy_refs.h"
#include "ike/sa_table.h"
#include "ike/summary.h"
#include "ike/v2/cookie.h"
#include "ike/v2/ike_sa.h"
#include "ike/v2/inbound.h"
#include "kernel/kernel.h"

namespace ipsec::ike::v2 {

// What is left of an IKE SA the engine removed from its table (failed, deleted,
// expired): kept for operators, the most recent kClosedKept of them.
struct ClosedSa {
  uint64_t local_spi = 0;
  std::string label;                  // as in log lines
  IkeState state = IkeState::Closed;  // Closed (deleted) or Failed
  std::string reason;                 // the failure, or why it was closed ("deleted by peer")
  ChildState child_state = ChildState::None;  // before the removal
  std::string child_failure;
};

class Engine {
 public:
  // `policies`: shared with the other engines on the same kernel; nullptr: its own.
  Engine(Sender& sender, kernel::Kernel& kernel, const Clock& clock, RetransmitConfig rt = {},
         EngineLimits limits = {}, std::shared_ptr<PolicyRefs> policies = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void set_limits(EngineLimits limits);
  // NAT-T port and keepalive interval (RFC 7296 §2.23); applies to SAs from now on.
  void set_nat(NatConfig nat) { ctx_.nat = nat; }
  // Where nonces, SPIs, key exchange private keys and jitter come from (default: the
  // system's DRBG). `source` must outlive the engine.
  void set_random(crypto::RandomSource& source) { ctx_.random = &source; }
  // Who answers OCSP questions about peers' certificates (RFC 6960). Without a fetcher the
  // client asks inside IKE_AUTH (bounded by its transport, crypto::kOcspTimeout); with one,
  // an IKE_AUTH message whose answers are not cached is kept (the request unanswered, our
  // own request still retransmitted) until resume(). Without a client, a certificate that
  // needs OCSP under its connection's policy fails. `client` must outlive the engine.
  void set_ocsp(crypto::OcspClient& client) { connections_.set_ocsp(&client); }
  // Processes again the IKE_AUTH messages kept while OCSP answers were fetched (after
  // OcspClient::complete); one that still lacks answers is kept again.
  void resume();
  size_t waiting() const { return parked_.size(); }
  static constexpr size_t kMaxParked = 1024;  // beyond it the oldest waits for a retransmission

  // Every event (up, rekeyed, down, DPD failure, ACQUIRE) goes here, on the engine's thread.
  void set_event_handler(EventHandler handler);

  // Connections this engine initiates by name and accepts from their remote
  // address.
  void add_connection(ConnectionConfig config);
  // Forgets a connection (a reload); its IKE SAs keep the config they share until they go.
  // Its trap policies, if this engine installed them, are removed.
  void remove_connection(std::string_view name);
  // A reload that changed only a connection's CRLs: its SAs stay, the next authentication
  // checks against the new ones.
  void replace_crls(std::string_view name, const std::vector<Bytes>& crls) {
    connections_.replace_crls(name, crls);
  }

  // On-demand (StartAction::Trap, also dpd/close action Trap): installs the policies of the
  // connection's children from their configured traffic selectors with no SA behind them,
  // so that matching traffic is held by the kernel (never sent in the clear) and announced
  // as ACQUIRE. The children whose start, dpd or close action is trap; all of them when
  // none is. Only the engine that should initiate for the connection does this.
  Result<void> install_trap(std::string_view connection);
  // Removes them (CHILD SAs using the same policies keep them until they go).
  void remove_trap(std::string_view connection);
  bool trapped(std::string_view connection) const;

  // Kernel events. ACQUIRE for a policy of ours (by the template's reqid): initiates the
  // connection, or a CHILD SA on its IKE SA, unless one is already being negotiated (one
  // negotiation for any number of ACQUIREs); the packet's addresses go first in the
  // traffic selectors (§2.9). EXPIRE of one of our CHILD SAs' kernel SAs: soft starts a
  // rekey, hard deletes the CHILD SA (Delete to the peer). Both return false when the
  // event is not this engine's (the daemon asks every worker).
  bool on_acquire(const kernel::AcquireEvent& event);
  bool on_expire(const kernel::ExpireEvent& event);
  // Drift repair: `kernel_sas` holds kernel::identity_key of every SA the kernel has (a dump
  // taken after the events that asked for it). A CHILD SA of ours whose inbound or
  // outbound ESP SA is not there is rekeyed (CREATE_CHILD_SA: new SAs, the old ones' Delete)
  // and shows as "missing" until then; each is a warning, a Repair event and
  // kernel_sas_missing. Returns how many were found.
  // Only CHILD SAs installed before `taken_at` (when the dump began) are judged.
  size_t reconcile(const std::unordered_set<std::string>& kernel_sas, Millis taken_at);

  // A restart that keeps the tunnels (handover.h). busy(): the IKE SAs that cannot be
  // handed over yet but should be (an exchange of theirs in flight, or our own IKE_SA_INIT
  // or IKE_AUTH); the daemon waits, bounded, for it to reach 0. hand_over(): the records of
  // every IKE SA that can be handed over now, each removed from the table without a
  // message to the peer and with its CHILD SAs left in the kernel; what stays is the
  // caller's (a normal shutdown, or crash recovery in the next process).
  size_t busy() const;
  std::vector<HandoverRecord> hand_over();
  // Continues an IKE SA of the previous process from its record: into the table as it
  // was, its CHILD SAs' policies counted (PolicyRefs: an update of what the kernel holds).
  // Run reconcile() with a kernel dump afterwards: a CHILD SA the kernel lost is rekeyed.
  // Returns our SPI.
  Result<uint64_t> take_over(ByteView record);

  // Starts IKE_SA_INIT for a connection; returns our SPI (SPIi) of the new IKE
  // SA.
  Result<uint64_t> initiate(std::string_view connection);

  // INFORMATIONAL requests (RFC 7296 §1.4, §1.5) on an established IKE SA, by
  // our SPI; sent at once or after the request in flight. Deleting the IKE SA
  // removes its CHILD SA from the kernel at once.
  Result<void> delete_ike_sa(uint64_t local_spi);
  // `inbound_spi`: our inbound ESP SPI of the CHILD SA (host order).
  Result<void> delete_child_sa(uint64_t local_spi, uint32_t inbound_spi);
  Result<void> check_liveness(uint64_t local_spi);
  // CREATE_CHILD_SA (§1.3) on an established IKE SA: another CHILD SA of the connection's
  // child config; a rekey of the CHILD SA with our inbound SPI `inbound_spi` (with a new
  // key exchange when the ESP proposal has groups: PFS); a rekey of the IKE SA itself
  // (§2.18), or its reauthentication when the connection has reauth_time set.
  // `child`: the name of one of the connection's children (empty: the first).
  Result<void> create_child_sa(uint64_t local_spi, std::string_view child = {});
  Result<void> rekey_child_sa(uint64_t local_spi, uint32_t inbound_spi);
  Result<void> rekey_ike_sa(uint64_t local_spi);

  void on_datagram(const Endpoint& local, const Endpoint& remote, ByteView datagram);
  // Runs every timer due at `now` (retransmissions, give-ups, half-open expiry, IKE SA
  // rekey/reauth/expiry, DPD, inactivity, keepalives).
  void on_timer(Millis now);
  // When on_timer() should next run, if anything waits.
  std::optional<Millis> next_timer() const;

  // By our SPI (SPIi when we initiated, SPIr when we responded); nullptr if
  // none.
  const IkeSa* find(uint64_t local_spi) const;
  std::vector<const IkeSa*> sas() const;
  const Counters& counters() const { return counters_; }
  // The removed SA with this local SPI, newest first; nullptr if none kept.
  const ClosedSa* closed(uint64_t local_spi) const;
  const std::deque<ClosedSa>& closed_sas() const { return closed_; }
  static constexpr size_t kClosedKept = 64;

 private:
  IkeSa* established(uint64_t local_spi);
  // The SA a message after IKE_SA_INIT belongs to, from its SPIs and I flag.
  IkeSa* sa_for(const wire::Header& h);
  // Removes failed and closed SAs (kernel state included) from the table.
  void reap();
  void expire_half_open(IkeSa& sa, Millis now);
  size_t half_open_count() const;
  void on_initial_contact(const IkeSa& fresh);
  // §2.6: true when the request may create state; otherwise it was answered
  // with N(COOKIE).
  bool cookie_ok(const Endpoint& local, const Endpoint& remote, const wire::Message& m);
  IkeSa* half_open(const Endpoint& remote, uint64_t spi_i, size_t& from_source);
  // The receive path (receive.cpp).
  void on_request(Inbound& in);
  void answer_unparsable(const Endpoint& local, const Endpoint& remote, ByteView datagram,
                         const Error& e);
  void refuse_critical(IkeSa& sa, const Inbound& in, const Error& e);
  void on_response(Inbound& in);
  // After open(): the handler of a request the SA expects, the task of our request in
  // flight for a response; a message the handler cannot judge yet (sa.auth_waiting) kept.
  void handle_request(IkeSa& sa, const Inbound& in);
  void handle_response(IkeSa& sa, const Inbound& in);
  bool response_expected(const IkeSa& sa, const wire::Header& h) const;
  void park(const IkeSa& sa, const Inbound& in);
  void on_sa_init_request(const Inbound& in);
  // Verifies, decrypts and checks the SK payload once for every exchange: fills in.inner,
  // or counts the drop and returns false.
  bool open(IkeSa& sa, Inbound& in);

  // Starts IKE_SA_INIT for `config`; `trigger`: an ACQUIRE's packet; `replaces`: the IKE
  // SA a reauthentication replaces; `want`: the children to bring up, the first in
  // IKE_AUTH (empty: children_to_start).
  Result<uint64_t> start(std::shared_ptr<const ConnectionConfig> config,
                         std::optional<kernel::Selector> trigger, uint64_t replaces,
                         std::vector<const ChildConfig*> want);
  static std::vector<const ChildConfig*> children_to_start(const ConnectionConfig& c);
  std::shared_ptr<const ConnectionConfig> connection(std::string_view name) const;
  // ACQUIRE for `cc` of `conn`: a CHILD SA on an IKE SA we hold, or a new IKE SA.
  void acquire_child(const std::shared_ptr<const ConnectionConfig>& conn, const ChildConfig& cc,
                     const kernel::Selector& packet);
  void emit(const IkeSa& sa, EngineEvent event);
  void on_peer_gone(const ConnectionConfig& config, bool dead);
  void forget_peer(const IkeSa& dead);
  void on_reauth(IkeSa& sa);
  Result<uint64_t> fresh_spi() const;
  // What exchanges asked for while the table was being walked: done by reap().
  void run_deferred();
  // Timers without walking the table (ike/timers.h): every SA an entry point touched is
  // rescheduled at the end of it (reap()).
  // A sweep, at most every kSweep when timers run anyway, reschedules every SA in case
  // an entry point missed one.
  void touch(uint64_t spi) { sas_.touch(spi); }
  void reschedule();
  std::optional<Millis> deadline_of(const IkeSa& sa) const;
  static constexpr Millis kSweep{5000};

  struct Hooks final : EngineHooks {
    explicit Hooks(Engine& e) : engine(e) {}
    void emit(const IkeSa& sa, EngineEvent event) override;
    void initial_contact(const IkeSa& fresh) override;
    void adopt(std::unique_ptr<IkeSa> fresh) override;
    Result<uint64_t> new_ike_spi() override;
    void peer_gone(const ConnectionConfig& config, bool dead) override;
    void forget_peer(const IkeSa& dead) override;
    void reauth(IkeSa& sa) override;
    Engine& engine;
  };

  Context ctx_;
  Hooks hooks_{*this};
  Counters counters_;
  EventHandler handler_;
  std::shared_ptr<PolicyRefs> policies_;
  std::map<std::string, std::vector<kernel::PolicyParams>, std::less<>> traps_;
  std::vector<std::unique_ptr<IkeSa>> adopted_;
  struct Deferred {
    enum class Kind { Restart, Trap, DeleteReplaced } kind;
    std::string connection;
    uint64_t spi = 0;
  };
  std::vector<Deferred> deferred_;
  Millis next_sweep_{0};
  CookieJar cookies_;
  Connections connections_;
  SaTable<IkeSa> sas_;           // by our SPI, with their timers and the half-open ones
  std::deque<ClosedSa> closed_;  // newest first
  struct Parked {  // an opened message whose IKE_AUTH waits for OCSP answers
    uint64_t spi = 0;
    Bytes datagram;
    Endpoint local, remote;
    std::vector<wire::Payload> inner;
  };
  std::deque<Parked> parked_;
};

}  // namespace ipsec::ike::v2
