// Dispatch of datagrams to IKE SAs, duplicate requests, timers.
#include "ike/v2/engine.h"

#include <algorithm>

#include "common/log.h"
#include "ike/v2/exchanges.h"
#include "wire/names.h"
#include "wire/rules.h"

namespace ipsec::ike::v2 {

Engine::Engine(Sender &sender, kernel::Kernel &kernel, const Clock &clock, RetransmitConfig rt)
    : ctx_{sender, kernel, clock, counters_, rt} {}

Engine::~Engine() = default;

void Engine::add_connection(ConnectionConfig config) { connections_.push_back(std::move(config)); }

Result<uint64_t> Engine::initiate(std::string_view connection) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [&](const ConnectionConfig &c) { return c.name == connection; });
  if (it == connections_.end()) return fail("no connection named " + std::string(connection));
  if (it->proposals.empty() || it->proposals.front().dh.empty())
    return fail("connection " + it->name + ": no IKE proposal with a key exchange group");
  auto group = crypto::ke_group_from_id(static_cast<uint16_t>(it->proposals.front().dh.front()));
  if (!group) return fail("connection " + it->name + ": " + group.error().message);
  auto sa = std::make_unique<IkeSa>();
  sa->config = *it;
  sa->initiator = true;
  sa->local = it->local;
  sa->remote = it->remote;
  sa->ke_group = *group;
  for (int tries = 0; sa->spi_i == 0 || sas_.count(sa->spi_i) != 0; ++tries) {
    if (tries == 8) return fail("no free IKE SPI");
    sa->spi_i = 0;
    if (auto r = start_sa_init(ctx_, *sa); !r) return fail(r.error());
  }
  const uint64_t spi = sa->spi_i;
  log::info(label(*sa) + ": initiating, offering " + describe(to_wire(sa->config.proposals)));
  sas_.emplace(spi, std::move(sa));
  return spi;
}

void Engine::on_datagram(const Endpoint &local, const Endpoint &remote, ByteView datagram) {
  auto m = wire::parse(datagram);
  if (!m) {
    ++counters_.dropped_malformed;
    log::debug("datagram from " + remote.str() + " dropped: " + m.error().message);
    return;
  }
  if (auto r = wire::check_rules(*m); !r) {
    ++counters_.dropped_malformed;
    log::debug("datagram from " + remote.str() + " dropped: " + r.error().message);
    return;
  }
  if (m->header.response)
    on_response(datagram, *m);
  else
    on_request(local, remote, datagram, *m);
}

void Engine::on_response(ByteView datagram, const wire::Message &m) {
  // A response to our request: we are the original initiator iff its I flag is
  // clear.
  if (m.header.initiator) return void(++counters_.dropped_unexpected);
  auto it = sas_.find(m.header.spi_i);
  if (it == sas_.end() || !it->second->initiator) return void(++counters_.dropped_unknown_spi);
  IkeSa &sa = *it->second;
  const bool expected = sa.awaiting_response && m.header.message_id + 1 == sa.next_request_mid;
  if (!expected) return void(++counters_.dropped_unexpected);
  if (sa.state == IkeState::SaInitSent && m.header.exchange == wire::ExchangeType::IkeSaInit)
    process_sa_init_response(ctx_, sa, datagram, m);
  else if (sa.state == IkeState::AuthSent && m.header.exchange == wire::ExchangeType::IkeAuth)
    process_auth_response(ctx_, sa, datagram, m);
  else
    ++counters_.dropped_unexpected;
}

void Engine::on_request(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                        const wire::Message &m) {
  if (!m.header.initiator) return void(++counters_.dropped_unexpected);  // CHILD/INFO: not yet
  if (m.header.exchange == wire::ExchangeType::IkeSaInit && m.header.spi_r == 0)
    return on_sa_init_request(local, remote, datagram, m);
  auto it = sas_.find(m.header.spi_r);
  if (it == sas_.end() || it->second->initiator || it->second->spi_i != m.header.spi_i)
    return void(++counters_.dropped_unknown_spi);
  IkeSa &sa = *it->second;
  if (sa.cached_response_mid == m.header.message_id) {
    // §2.1: a retransmitted request is answered with the same response, not
    // reprocessed.
    ++counters_.duplicates_answered;
    return ctx_.sender.send(sa.local, sa.remote, sa.cached_response);
  }
  if (m.header.message_id != sa.expected_request_mid || sa.state != IkeState::SaInitDone ||
      m.header.exchange != wire::ExchangeType::IkeAuth)
    return void(++counters_.dropped_unexpected);
  respond_auth(ctx_, sa, datagram, m);
}

void Engine::on_sa_init_request(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                                const wire::Message &m) {
  if (IkeSa *sa = half_open(remote, m.header.spi_i)) {
    if (ByteView(sa->init_request).size() == datagram.size() &&
        std::equal(datagram.begin(), datagram.end(), sa->init_request.begin())) {
      ++counters_.duplicates_answered;
      ctx_.sender.send(sa->local, sa->remote, sa->cached_response);
    } else {
      ++counters_.dropped_unexpected;
    }
    return;
  }
  const ConnectionConfig *config = connection_for(local, remote);
  if (config == nullptr) {
    ++counters_.dropped_unexpected;
    log::warn("IKE_SA_INIT from " + remote.str() + " to " + local.str() + ": no connection");
    return;
  }
  auto sa = respond_sa_init(ctx_, *config, local, remote, datagram, m);
  if (!sa) return;
  if (sas_.count(sa->spi_r) != 0) return void(++counters_.dropped_unexpected);  // 2^-64
  const uint64_t spi = sa->spi_r;
  sas_.emplace(spi, std::move(sa));
}

const ConnectionConfig *Engine::connection_for(const Endpoint &local,
                                               const Endpoint &remote) const {
  for (const auto &c : connections_)
    if ((c.local.addr.is_unspec() || c.local.addr == local.addr) &&
        (c.remote.addr.is_unspec() || c.remote.addr == remote.addr))
      return &c;
  return nullptr;
}

// Linear for now: the responder's SAs keyed by (peer, SPIi) would make this a
// lookup.
IkeSa *Engine::half_open(const Endpoint &remote, uint64_t spi_i) {
  for (auto &[spi, sa] : sas_)
    if (!sa->initiator && sa->spi_i == spi_i && sa->remote == remote) return sa.get();
  return nullptr;
}

void Engine::on_timer(Millis now) {
  for (auto &[spi, sa] : sas_) on_retransmit_timer(ctx_, *sa, now);
}

std::optional<Millis> Engine::next_timer() const {
  std::optional<Millis> next;
  for (const auto &[spi, sa] : sas_)
    if (sa->awaiting_response && (!next || sa->deadline < *next)) next = sa->deadline;
  return next;
}

const IkeSa *Engine::find(uint64_t local_spi) const {
  auto it = sas_.find(local_spi);
  return it == sas_.end() ? nullptr : it->second.get();
}

std::vector<const IkeSa *> Engine::sas() const {
  std::vector<const IkeSa *> out;
  for (const auto &[spi, sa] : sas_) out.push_back(sa.get());
  return out;
}

}  // namespace ipsec::ike::v2
