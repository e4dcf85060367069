// The IKEv2 engine: owns the IKE SAs, dispatches datagrams to them by SPI, runs
// the retransmission timers. No I/O of its own: datagrams leave through Sender,
// time comes from Clock and on_timer(), the kernel is reached through
// kernel::Kernel.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "ike/v2/config.h"
#include "ike/v2/ike_sa.h"
#include "ike/v2/io.h"
#include "kernel/kernel.h"

namespace ipsec::ike::v2 {

class Engine {
 public:
  Engine(Sender &sender, kernel::Kernel &kernel, const Clock &clock, RetransmitConfig rt = {});
  ~Engine();
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  // Connections this engine initiates by name and accepts from their remote
  // address.
  void add_connection(ConnectionConfig config);

  // Starts IKE_SA_INIT for a connection; returns our SPI (SPIi) of the new IKE
  // SA.
  Result<uint64_t> initiate(std::string_view connection);

  void on_datagram(const Endpoint &local, const Endpoint &remote, ByteView datagram);
  // Runs every timer due at `now` (retransmissions, give-ups).
  void on_timer(Millis now);
  // When on_timer() should next run, if anything waits.
  std::optional<Millis> next_timer() const;

  // By our SPI (SPIi when we initiated, SPIr when we responded); nullptr if
  // none.
  const IkeSa *find(uint64_t local_spi) const;
  std::vector<const IkeSa *> sas() const;
  const Counters &counters() const { return counters_; }

 private:
  const ConnectionConfig *connection_for(const Endpoint &local, const Endpoint &remote) const;
  IkeSa *half_open(const Endpoint &remote, uint64_t spi_i);
  void on_request(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                  const wire::Message &m);
  void on_response(ByteView datagram, const wire::Message &m);
  void on_sa_init_request(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                          const wire::Message &m);

  Context ctx_;
  Counters counters_;
  std::vector<ConnectionConfig> connections_;
  std::map<uint64_t, std::unique_ptr<IkeSa>> sas_;  // by our SPI
};

}  // namespace ipsec::ike::v2
