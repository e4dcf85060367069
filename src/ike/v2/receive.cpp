// SPDX-License-Identifier: Apache-2.0
// The engine's one receive path (RFC 7296 §2.1, §3.1): parse and outer payload rules,
// find the IKE SA, answer retransmitted requests, pick the exchange from a table,
// verify and decrypt the SK payload once (or each SKF fragment, reassembled per RFC 7383
// §2.6), inner payload rules, then hand the exchange an Inbound.
// Every message dropped on the way bumps a named counter.
#include <algorithm>

#include "common/log.h"
#include "ike/v2/create_child_util.h"
#include "ike/v2/engine.h"
#include "ike/v2/exchanges.h"
#include "wire/names.h"
#include "wire/reader.h"
#include "wire/rules.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;

bool up(const IkeSa& sa) {
  return sa.state == IkeState::Established || sa.state == IkeState::Deleting;
}

using Handler = void (*)(Context&, IkeSa&, const Inbound&);

// Which request may arrive in which state of the SA, and who answers it. A request with
// no row here is dropped as unexpected (dropped_unexpected), before any decryption. A
// response goes to the task of our request in flight (tasks.h) if it is of that task's
// exchange, and is dropped as unexpected otherwise.
struct Route {
  ExchangeType exchange;
  bool (*admits)(const IkeSa&);
  Handler handle;
};

const Route kRoutes[] = {
    {ExchangeType::IkeAuth,
     [](const IkeSa& sa) { return !sa.initiator && sa.state == IkeState::SaInitDone; },
     respond_auth},
    {ExchangeType::Informational, up, respond_informational},
    {ExchangeType::CreateChildSa, up, respond_create_child},
};

const Route* route(const IkeSa& sa, const wire::Header& h) {
  for (const auto& r : kRoutes)
    if (r.exchange == h.exchange && r.admits(sa)) return &r;
  return nullptr;
}

// A fragment that verified into the SA's reassembly (RFC 7383 §2.6); true once the
// message is complete, with its plaintext in `plain` and first payload type in `first`.
bool reassemble(IkeSa& sa, Counters& counters, Millis now, const Inbound& in,
                const wire::SkfPayload& skf, Bytes& plain, wire::PayloadType& first) {
  ++counters.fragments_received;
  const auto verdict =
      sa.reassembly.add(in.message_id(), in.header().response, skf, std::move(plain), now);
  if (verdict == Reassembly::Verdict::Dropped) {
    ++counters.fragments_dropped;
    log::debug(label(sa) + ": " + wire::exchange_name(in.header().exchange) +
               " fragment dropped: " + sa.reassembly.why());
    return false;
  }
  if (verdict == Reassembly::Verdict::Kept) return false;
  ++counters.fragments_reassembled;
  auto [type, whole] = sa.reassembly.take();
  first = type;
  plain = std::move(whole);
  log::debug(label(sa) + ": " + wire::exchange_name(in.header().exchange) + " reassembled from " +
             std::to_string(skf.total_fragments) + " fragments");
  return true;
}

}  // namespace

void Engine::on_datagram(const Endpoint& local, const Endpoint& remote, ByteView datagram) {
  auto m = wire::parse(datagram);
  if (!m) {
    ++counters_.dropped_malformed;
    log::debug("datagram from " + remote.str() + " dropped: " + m.error().message);
    answer_unparsable(local, remote, datagram, m.error());
    return;
  }
  if (auto r = wire::check_rules(*m); !r) {
    ++counters_.dropped_malformed;
    log::debug("datagram from " + remote.str() + " dropped: " + r.error().message);
    return;
  }
  Inbound in{*m, datagram, local, remote, {}};
  if (m->header.response)
    on_response(in);
  else
    on_request(in);
  reap();
}

// A request we cannot parse still gets the unauthenticated answer the RFC asks for when the
// reason is one it names: INVALID_MAJOR_VERSION for another major version (§2.5, §1.5,
// the header of our answer saying 2.0), UNSUPPORTED_CRITICAL_PAYLOAD with the payload's
// type for an IKE_SA_INIT request carrying a critical payload we do not know (§2.5).
// Nothing else: a response, or any other fault, is only dropped.
void Engine::answer_unparsable(const Endpoint& local, const Endpoint& remote, ByteView d,
                               const Error& e) {
  if (d.size() < 28 || (d[19] & 0x20) != 0) return;  // too short, or a response
  wire::Reader r(d);
  wire::Header h;
  h.spi_i = r.u64();
  h.spi_r = r.u64();
  r.skip(2);  // Next Payload, Version
  h.exchange = static_cast<ExchangeType>(r.u8());
  r.skip(1);  // Flags
  h.message_id = r.u32();
  h.response = true;
  if (h.spi_i == 0) return;
  const wire::WireFault f = wire::wire_fault(e);
  wire::NotifyPayload n;
  n.type = f.notify;
  if (f.notify == wire::NotifyType::UnsupportedCriticalPayload) {
    if (h.exchange != ExchangeType::IkeSaInit || h.spi_r != 0 || h.message_id != 0) return;
    n.data = {static_cast<uint8_t>(f.payload)};
  } else if (f.notify != wire::NotifyType::InvalidMajorVersion) {
    return;
  }
  log::debug("answering " + remote.str() + " with " + wire::notify_name(n.type));
  ctx_.sender.send(local, remote, wire::encode(wire::Message{h, {n}}));
}

// §3.1: the I flag names the original initiator of the IKE SA, whichever side
// sends; we are the original responder iff the sender set it.
IkeSa* Engine::sa_for(const wire::Header& h) {
  auto it = sas_.find(h.initiator ? h.spi_r : h.spi_i);
  if (it == sas_.end()) return nullptr;
  IkeSa& sa = *it->second;
  if (sa.initiator == h.initiator) return nullptr;
  if (sa.initiator && sa.spi_r != 0 && sa.spi_r != h.spi_r) return nullptr;
  if (!sa.initiator && sa.spi_i != h.spi_i) return nullptr;
  touch(it->first);
  return &sa;
}

// Verifies and decrypts the SK payload with the SA's inbound keys, then parses the inner
// chain and checks it against the exchange's rules. A message that does not verify is
// dropped without an answer (§2.21.2: it may be forged); the request stays in flight.
// An SKF fragment is verified on its own and kept until its message is complete (RFC 7383
// §2.6); false until then.
bool Engine::open(IkeSa& sa, Inbound& in) {
  if (in.header().exchange == ExchangeType::IkeSaInit) return true;  // nothing protected
  // Only for the log line of a drop: not built for every message.
  auto what = [&] {
    return wire::exchange_name(in.header().exchange) +
           (in.header().response ? " response" : " request");
  };
  const auto* sk = in.outer.find<wire::SkPayload>();
  const auto* skf = in.outer.find<wire::SkfPayload>();
  if ((sk == nullptr && skf == nullptr) || sa.in_cipher == nullptr) {
    ++counters_.dropped_malformed;
    log::warn(label(sa) + ": " + what() + " dropped: no SK payload");
    return false;
  }
  if (skf != nullptr && !sa.config->fragmentation) {
    // RFC 7383 §2.5: only after we announced support.
    ++counters_.fragments_dropped;
    log::warn(label(sa) + ": " + what() + " fragment dropped: IKE fragmentation is off");
    return false;
  }
  // The strict parse guarantees the SK payload is last and fills the datagram; the
  // header and SK generic header before it are the associated data (RFC 5282 §5.1), for
  // SKF with the fragment's number and total (RFC 7383 §2.5).
  const ByteView sealed = sk != nullptr ? ByteView(sk->data) : ByteView(skf->data);
  const size_t aad_size = in.datagram.size() - sealed.size();
  auto plain = sa.in_cipher->open(in.datagram.first(aad_size), sealed);
  if (!plain) {
    ++counters_.dropped_integrity;
    if (skf != nullptr) ++counters_.fragments_dropped;
    log::warn(label(sa) + ": " + what() + (skf ? " fragment" : "") +
              " dropped: SK payload did not verify: " + plain.error().message);
    return false;
  }
  auto first = sk != nullptr ? sk->inner_first : wire::PayloadType::None;
  if (skf != nullptr && !reassemble(sa, counters_, ctx_.clock.now(), in, *skf, *plain, first))
    return false;
  auto inner = wire::parse_payloads(first, *plain, aad_size);
  if (!inner) refuse_critical(sa, in, inner.error());
  Result<void> rules = inner ? wire::check_rules(in.header(), *inner, wire::Layer::Inner)
                             : Result<void>(fail(inner.error()));
  if (!rules) {
    ++counters_.dropped_malformed;
    log::warn(label(sa) + ": " + what() + " dropped: " + rules.error().message);
    return false;
  }
  in.inner = std::move(*inner);
  return true;
}

// §2.5: a request whose SK payload holds a critical payload we do not know is answered
// with UNSUPPORTED_CRITICAL_PAYLOAD (protected) instead of being processed; an IKE_AUTH
// request so refused ends the half-open SA.
void Engine::refuse_critical(IkeSa& sa, const Inbound& in, const Error& e) {
  const wire::WireFault f = wire::wire_fault(e);
  if (in.header().response || f.notify != wire::NotifyType::UnsupportedCriticalPayload) return;
  const auto type = static_cast<uint8_t>(f.payload);
  auto r = send_sk_response(
      ctx_, sa, in.header().exchange, in.message_id(),
      {make_notify(wire::NotifyType::UnsupportedCriticalPayload, wire::ProtocolId::None, {},
                   Bytes{type})});
  if (!r) log::warn(label(sa) + ": " + r.error().message);
  if (in.header().exchange == ExchangeType::IkeAuth && !sa.initiator)
    fail_sa(sa, "IKE_AUTH request with an unsupported critical payload (type " +
                    std::to_string(type) + ")");
}

void Engine::on_response(Inbound& in) {
  const wire::Header& h = in.header();
  IkeSa* found = sa_for(h);
  if (found == nullptr) return void(++counters_.dropped_unknown_spi);
  IkeSa& sa = *found;
  if (!response_expected(sa, h)) return void(++counters_.dropped_unexpected);
  if (!open(sa, in)) return;  // keep retransmitting: a forged response must not end it
  handle_response(sa, in);
}

bool Engine::response_expected(const IkeSa& sa, const wire::Header& h) const {
  return sa.awaiting_response && h.message_id + 1 == sa.next_request_mid &&
         task_for(sa.in_flight.kind).exchange == h.exchange;
}

void Engine::handle_response(IkeSa& sa, const Inbound& in) {
  sa.auth_waiting = false;
  on_task_response(ctx_, sa, in);
  if (sa.auth_waiting) return park(sa, in);
  // DPD: a response that verified (the request is no longer awaited).
  if (!sa.awaiting_response) sa.last_peer_message = ctx_.clock.now();
}

void Engine::handle_request(IkeSa& sa, const Inbound& in) {
  const Route* r = route(sa, in.header());
  if (r == nullptr) return void(++counters_.dropped_unexpected);
  sa.auth_waiting = false;
  r->handle(ctx_, sa, in);
  if (sa.auth_waiting) park(sa, in);
}

// The latest message of each SA is kept: a retransmission replaces the one before.
void Engine::park(const IkeSa& sa, const Inbound& in) {
  std::erase_if(parked_, [&](const Parked& p) { return p.spi == sa.local_spi(); });
  if (parked_.size() >= kMaxParked) parked_.pop_front();
  parked_.push_back(Parked{sa.local_spi(), Bytes(in.datagram.begin(), in.datagram.end()),
                           in.local, in.remote, in.inner});
  log::debug(label(sa) + ": IKE_AUTH " + (in.header().response ? "response" : "request") +
             " kept until OCSP answers come");
}

// Each kept message again, if its SA still expects it (a retransmission may have been
// answered meanwhile, the SA may be gone); it is not opened twice.
void Engine::resume() {
  std::deque<Parked> parked = std::exchange(parked_, {});
  for (Parked& p : parked) {
    auto m = wire::parse(p.datagram);
    IkeSa* sa = m ? sa_for(m->header) : nullptr;
    if (sa == nullptr) continue;
    const wire::Header& h = m->header;
    Inbound in{*m, p.datagram, p.local, p.remote, std::move(p.inner)};
    if (h.response && response_expected(*sa, h)) handle_response(*sa, in);
    if (!h.response && sa->cached_response_mid != h.message_id &&
        h.message_id == sa->expected_request_mid)
      handle_request(*sa, in);
  }
  reap();
}

void Engine::on_request(Inbound& in) {
  const wire::Header& h = in.header();
  if (h.exchange == ExchangeType::IkeSaInit) {
    // §3.1, §2.2: the initiator's SPI is never zero, the first message ID is zero.
    if (!h.initiator || h.spi_r != 0 || h.spi_i == 0 || h.message_id != 0)
      return void(++counters_.dropped_unexpected);
    return on_sa_init_request(in);
  }
  IkeSa* found = sa_for(h);
  if (found == nullptr) return void(++counters_.dropped_unknown_spi);
  IkeSa& sa = *found;
  if (sa.cached_response_mid == h.message_id) {
    // §2.1: a retransmitted request is answered with the same response, not
    // reprocessed; when fragmented, only on its first fragment (RFC 7383 §2.6.1).
    const auto* skf = in.outer.find<wire::SkfPayload>();
    if (skf != nullptr && skf->fragment_number != 1) return;
    ++counters_.duplicates_answered;
    return send_datagrams(ctx_, sa, sa.cached_response);
  }
  if (h.message_id != sa.expected_request_mid) return void(++counters_.dropped_unexpected);
  if (route(sa, h) == nullptr) return void(++counters_.dropped_unexpected);
  if (!open(sa, in)) return;
  handle_request(sa, in);
}

void Engine::on_sa_init_request(const Inbound& in) {
  const wire::Message& m = in.outer;
  size_t from_source = 0;
  if (IkeSa* sa = half_open(in.remote, m.header.spi_i, from_source)) {
    if (ByteView(sa->init_request).size() == in.datagram.size() &&
        std::equal(in.datagram.begin(), in.datagram.end(), sa->init_request.begin())) {
      ++counters_.duplicates_answered;
      send_datagrams(ctx_, *sa, sa->cached_response);
    } else {
      ++counters_.dropped_unexpected;
    }
    return;
  }
  if (ctx_.limits.half_open_per_source != 0 && from_source >= ctx_.limits.half_open_per_source) {
    ++counters_.dropped_half_open_limit;
    log::debug("IKE_SA_INIT from " + in.remote.str() + " dropped: " + std::to_string(from_source) +
               " half-open IKE SAs from that address already");
    return;
  }
  if (!cookie_ok(in.local, in.remote, m)) return;
  auto config = connections_.by_address(in.local, in.remote);
  if (config == nullptr) {
    ++counters_.dropped_unexpected;
    log::warn("IKE_SA_INIT from " + in.remote.str() + " to " + in.local.str() + ": no connection");
    return;
  }
  auto sa = respond_sa_init(ctx_, config, in.local, in.remote, in.datagram, m);
  if (!sa) return;
  if (sas_.count(sa->spi_r) != 0) return void(++counters_.dropped_unexpected);  // 2^-64
  const uint64_t spi = sa->spi_r;
  sas_.add(spi, std::move(sa));
}

bool Engine::cookie_ok(const Endpoint& local, const Endpoint& remote, const wire::Message& m) {
  if (half_open_count() < ctx_.limits.cookie_threshold) return true;
  // §2.6: the cookie comes back as the first payload.
  const auto* first =
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

// Among the half-open SAs only (at most about the COOKIE threshold of them); counts those
// from the same address on the way (the per-source limit).
IkeSa* Engine::half_open(const Endpoint& remote, uint64_t spi_i, size_t& from_source) {
  from_source = 0;
  IkeSa* found = nullptr;
  for (uint64_t spi : sas_.half_open()) {
    auto it = sas_.find(spi);
    if (it == sas_.end()) continue;
    IkeSa& sa = *it->second;
    if (sa.initiator || sa.state != IkeState::SaInitDone || sa.remote.addr != remote.addr) continue;
    ++from_source;
    if (sa.spi_i == spi_i && sa.remote == remote) found = &sa;
  }
  return found;
}

}  // namespace ipsec::ike::v2
