// The IKEv2 engine: owns the IKE SAs, dispatches datagrams to them by SPI, runs
// the retransmission timers. No I/O of its own: datagrams leave through Sender,
// time comes from Clock and on_timer(), the kernel is reached through
// kernel::Kernel.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "ike/v2/config.h"
#include "ike/v2/cookie.h"
#include "ike/v2/ike_sa.h"
#include "ike/v2/io.h"
#include "kernel/kernel.h"

namespace ipsec::ike::v2 {

// What is left of an IKE SA the engine removed from its table (failed, deleted,
// expired): kept for operators, the most recent kClosedKept of them.
struct ClosedSa {
  uint64_t local_spi = 0;
  std::string label;    // as in log lines
  IkeState state = IkeState::Closed;  // Closed (deleted) or Failed
  std::string reason;   // the failure, or why it was closed ("deleted by peer")
  ChildState child_state = ChildState::None;  // before the removal
  std::string child_failure;
};

class Engine {
 public:
  Engine(Sender &sender, kernel::Kernel &kernel, const Clock &clock, RetransmitConfig rt = {},
         EngineLimits limits = {});
  ~Engine();
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  void set_limits(EngineLimits limits);
  // NAT-T port and keepalive interval (RFC 7296 §2.23); applies to SAs from now on.
  void set_nat(NatConfig nat) { ctx_.nat = nat; }

  // Connections this engine initiates by name and accepts from their remote
  // address.
  void add_connection(ConnectionConfig config);
  // Forgets a connection (a reload); its IKE SAs keep their own copy of the config.
  void remove_connection(std::string_view name);

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

  void on_datagram(const Endpoint &local, const Endpoint &remote, ByteView datagram);
  // Runs every timer due at `now` (retransmissions, give-ups, half-open expiry).
  void on_timer(Millis now);
  // When on_timer() should next run, if anything waits.
  std::optional<Millis> next_timer() const;

  // By our SPI (SPIi when we initiated, SPIr when we responded); nullptr if
  // none.
  const IkeSa *find(uint64_t local_spi) const;
  std::vector<const IkeSa *> sas() const;
  const Counters &counters() const { return counters_; }
  // The removed SA with this local SPI, newest first; nullptr if none kept.
  const ClosedSa *closed(uint64_t local_spi) const;
  const std::deque<ClosedSa> &closed_sas() const { return closed_; }
  static constexpr size_t kClosedKept = 64;

 private:
  IkeSa *established(uint64_t local_spi);
  // The SA a message after IKE_SA_INIT belongs to, from its SPIs and I flag.
  IkeSa *sa_for(const wire::Header &h);
  // Removes failed and closed SAs (kernel state included) from the table.
  void reap();
  void expire_half_open(IkeSa &sa, Millis now);
  size_t half_open_count() const;
  void on_initial_contact(const IkeSa &fresh);
  // §2.6: true when the request may create state; otherwise it was answered
  // with N(COOKIE).
  bool cookie_ok(const Endpoint &local, const Endpoint &remote, const wire::Message &m);
  const ConnectionConfig *connection_for(const Endpoint &local, const Endpoint &remote) const;
  IkeSa *half_open(const Endpoint &remote, uint64_t spi_i);
  void on_request(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                  const wire::Message &m);
  void on_response(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                   const wire::Message &m);
  void on_sa_init_request(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                          const wire::Message &m);

  Context ctx_;
  Counters counters_;
  CookieJar cookies_;
  std::vector<ConnectionConfig> connections_;
  std::map<uint64_t, std::unique_ptr<IkeSa>> sas_;  // by our SPI
  std::deque<ClosedSa> closed_;                      // newest first
};

}  // namespace ipsec::ike::v2
