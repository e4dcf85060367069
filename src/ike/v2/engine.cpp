// Dispatch of datagrams to IKE SAs, duplicate requests, timers.
#include "ike/v2/engine.h"

#include <algorithm>

#include "common/log.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "wire/names.h"
#include "wire/rules.h"

namespace ipsec::ike::v2 {

Engine::Engine(Sender &sender, kernel::Kernel &kernel, const Clock &clock, RetransmitConfig rt,
               EngineLimits limits)
    : ctx_{sender, kernel, clock, counters_, rt, limits},
      cookies_(Millis(limits.cookie_secret_lifetime)) {
  ctx_.initial_contact = [this](const IkeSa &fresh) { on_initial_contact(fresh); };
}

Engine::~Engine() = default;

void Engine::set_limits(EngineLimits limits) {
  ctx_.limits = limits;
  cookies_ = CookieJar(limits.cookie_secret_lifetime);
}

void Engine::add_connection(ConnectionConfig config) { connections_.push_back(std::move(config)); }

void Engine::remove_connection(std::string_view name) {
  std::erase_if(connections_, [&](const ConnectionConfig &c) { return c.name == name; });
}

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
  sa->created = ctx_.clock.now();
  // §2.4: INITIAL_CONTACT only when we hold no other IKE SA with this peer.
  sa->initial_contact = std::none_of(sas_.begin(), sas_.end(), [&](const auto &e) {
    return e.second->config.name == it->name && e.second->remote == it->remote;
  });
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

IkeSa *Engine::established(uint64_t local_spi) {
  auto it = sas_.find(local_spi);
  if (it == sas_.end() || it->second->state != IkeState::Established) return nullptr;
  return it->second.get();
}

Result<void> Engine::delete_ike_sa(uint64_t local_spi) {
  IkeSa *sa = established(local_spi);
  if (sa == nullptr) return fail("no established IKE SA " + spi_str(local_spi));
  start_informational(ctx_, *sa, {Request::DeleteIke, 0});
  reap();
  return ok();
}

Result<void> Engine::delete_child_sa(uint64_t local_spi, uint32_t inbound_spi) {
  IkeSa *sa = established(local_spi);
  if (sa == nullptr) return fail("no established IKE SA " + spi_str(local_spi));
  if (sa->child.state != ChildState::Installed || sa->child.spi_in != inbound_spi)
    return fail(label(*sa) + ": no installed CHILD SA with inbound SPI " +
                std::to_string(inbound_spi));
  start_informational(ctx_, *sa, {Request::DeleteChild, inbound_spi});
  reap();
  return ok();
}

Result<void> Engine::check_liveness(uint64_t local_spi) {
  IkeSa *sa = established(local_spi);
  if (sa == nullptr) return fail("no established IKE SA " + spi_str(local_spi));
  start_informational(ctx_, *sa, {Request::Liveness, 0});
  reap();
  return ok();
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
    on_response(local, remote, datagram, *m);
  else
    on_request(local, remote, datagram, *m);
  reap();
}

// §3.1: the I flag names the original initiator of the IKE SA, whichever side
// sends; we are the original responder iff the sender set it.
IkeSa *Engine::sa_for(const wire::Header &h) {
  auto it = sas_.find(h.initiator ? h.spi_r : h.spi_i);
  if (it == sas_.end()) return nullptr;
  IkeSa &sa = *it->second;
  if (sa.initiator == h.initiator) return nullptr;
  if (sa.initiator && sa.spi_r != 0 && sa.spi_r != h.spi_r) return nullptr;
  if (!sa.initiator && sa.spi_i != h.spi_i) return nullptr;
  return &sa;
}

void Engine::on_response(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                         const wire::Message &m) {
  IkeSa *found = sa_for(m.header);
  if (found == nullptr) return void(++counters_.dropped_unknown_spi);
  IkeSa &sa = *found;
  const bool expected = sa.awaiting_response && m.header.message_id + 1 == sa.next_request_mid;
  if (!expected) return void(++counters_.dropped_unexpected);
  const auto ex = m.header.exchange;
  if (sa.state == IkeState::SaInitSent && ex == wire::ExchangeType::IkeSaInit)
    process_sa_init_response(ctx_, sa, local, remote, datagram, m);
  else if (sa.state == IkeState::AuthSent && ex == wire::ExchangeType::IkeAuth)
    process_auth_response(ctx_, sa, datagram, m);
  else if (ex == wire::ExchangeType::Informational && sa.in_flight.kind != Request::SaInit &&
           sa.in_flight.kind != Request::Auth)
    process_informational_response(ctx_, sa, datagram, m);
  else
    ++counters_.dropped_unexpected;
}

void Engine::on_request(const Endpoint &local, const Endpoint &remote, ByteView datagram,
                        const wire::Message &m) {
  const auto ex = m.header.exchange;
  if (ex == wire::ExchangeType::IkeSaInit) {
    if (!m.header.initiator || m.header.spi_r != 0) return void(++counters_.dropped_unexpected);
    return on_sa_init_request(local, remote, datagram, m);
  }
  IkeSa *found = sa_for(m.header);
  if (found == nullptr) return void(++counters_.dropped_unknown_spi);
  IkeSa &sa = *found;
  if (sa.cached_response_mid == m.header.message_id) {
    // §2.1: a retransmitted request is answered with the same response, not
    // reprocessed.
    ++counters_.duplicates_answered;
    return ctx_.sender.send(sa.local, sa.remote, sa.cached_response);
  }
  if (m.header.message_id != sa.expected_request_mid) return void(++counters_.dropped_unexpected);
  const bool up = sa.state == IkeState::Established || sa.state == IkeState::Deleting;
  if (ex == wire::ExchangeType::IkeAuth && !sa.initiator && sa.state == IkeState::SaInitDone)
    return respond_auth(ctx_, sa, local, remote, datagram, m);
  if (ex == wire::ExchangeType::Informational && up)
    return respond_informational(ctx_, sa, datagram, m);
  if (ex == wire::ExchangeType::CreateChildSa && up) {
    ++counters_.dropped_unsupported;
    return log::debug(label(sa) + ": CREATE_CHILD_SA request dropped: not supported yet");
  }
  ++counters_.dropped_unexpected;
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
  if (!cookie_ok(local, remote, m)) return;
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

// §2.4: the peer restarted; its older IKE SAs (same authenticated identity)
// and their CHILD SAs are gone on its side, so they go here without a Delete.
void Engine::on_initial_contact(const IkeSa &fresh) {
  for (auto &[spi, sa] : sas_) {
    if (sa.get() == &fresh || sa->config.remote_id != fresh.config.remote_id) continue;
    if (sa->state != IkeState::Established && sa->state != IkeState::Deleting) continue;
    remove_child(ctx_, *sa);
    sa->awaiting_response = false;
    sa->close_reason = "replaced by " + label(fresh) + " (INITIAL_CONTACT)";
    sa->state = IkeState::Closed;
    ++counters_.initial_contact_closed;
    log::info(label(*sa) + ": IKE SA closed: peer sent INITIAL_CONTACT");
  }
}

size_t Engine::half_open_count() const {
  size_t n = 0;
  for (const auto &[spi, sa] : sas_) n += !sa->initiator && sa->state == IkeState::SaInitDone;
  return n;
}

bool Engine::cookie_ok(const Endpoint &local, const Endpoint &remote, const wire::Message &m) {
  if (half_open_count() < ctx_.limits.cookie_threshold) return true;
  // §2.6: the cookie comes back as the first payload.
  const auto *first =
      m.payloads.empty() ? nullptr : std::get_if<wire::NotifyPayload>(&m.payloads.front());
  const ByteView ni = m.find<wire::NoncePayload>()->data;
  const Millis now = ctx_.clock.now();
  if (first != nullptr && first->type == wire::NotifyType::Cookie) {
    if (cookies_.verify(first->data, ni, remote.addr, m.header.spi_i, now)) return true;
    ++counters_.cookies_invalid;
    log::debug("IKE_SA_INIT from " + remote.str() + ": COOKIE did not verify");
  }
  auto cookie = cookies_.make(ni, remote.addr, m.header.spi_i, now);
  if (!cookie) {
    log::warn("IKE_SA_INIT from " + remote.str() + " dropped: " + cookie.error().message);
    return false;
  }
  ++counters_.cookies_sent;
  send_init_notify(ctx_, local, remote, m.header, wire::NotifyType::Cookie, std::move(*cookie));
  return false;
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

void Engine::expire_half_open(IkeSa &sa, Millis now) {
  if (sa.initiator || sa.state != IkeState::SaInitDone) return;
  if (now < sa.created + ctx_.limits.half_open_timeout) return;
  ++counters_.half_open_expired;
  fail_sa(sa, "half-open IKE SA expired: no IKE_AUTH within " +
                  std::to_string(ctx_.limits.half_open_timeout.count()) + " ms");
}

void Engine::on_timer(Millis now) {
  for (auto &[spi, sa] : sas_) {
    on_retransmit_timer(ctx_, *sa, now);
    on_keepalive_timer(ctx_, *sa, now);
    expire_half_open(*sa, now);
  }
  reap();
}

std::optional<Millis> Engine::next_timer() const {
  std::optional<Millis> next;
  auto consider = [&next](Millis t) {
    if (!next || t < *next) next = t;
  };
  for (const auto &[spi, sa] : sas_) {
    if (sa->awaiting_response) consider(sa->deadline);
    if (auto k = keepalive_deadline(ctx_, *sa)) consider(*k);
    if (!sa->initiator && sa->state == IkeState::SaInitDone)
      consider(sa->created + ctx_.limits.half_open_timeout);
  }
  return next;
}

void Engine::reap() {
  for (auto it = sas_.begin(); it != sas_.end();) {
    IkeSa &sa = *it->second;
    if (sa.state != IkeState::Failed && sa.state != IkeState::Closed) {
      ++it;
      continue;
    }
    ClosedSa c{it->first,       label(sa),        sa.state,
               sa.failure.empty() ? sa.close_reason : sa.failure,
               sa.child.state, sa.child.failure};
    remove_child(ctx_, sa);  // whatever is left in the kernel: installed or larval
    closed_.push_front(std::move(c));
    if (closed_.size() > kClosedKept) closed_.pop_back();
    it = sas_.erase(it);
  }
}

const ClosedSa *Engine::closed(uint64_t local_spi) const {
  for (const auto &c : closed_)
    if (c.local_spi == local_spi) return &c;
  return nullptr;
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
