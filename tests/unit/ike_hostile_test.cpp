// SPDX-License-Identifier: Apache-2.0
// Hostile IKEv2 datagrams at a responder (RFC 7296 §1.5, §2.2, §2.5, §3.1): what is dropped
// silently, what gets the unauthenticated answer the RFC asks for, and the per-source
// limit on half-open SAs; a connection removed while its IKE SA is being set up stops it.
#include <doctest/doctest.h>

#include "ike/v2/sk_message.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

// Alice's first IKE_SA_INIT request, as sent.
Bytes sa_init_request(Pair& p) {
  p.start();
  REQUIRE(!p.net.queue.empty());
  Bytes d = p.net.queue.front().data;
  p.net.queue.clear();
  p.net.sent.clear();
  return d;
}

const Endpoint kAlice{ip("192.0.2.1"), 500}, kBob{ip("192.0.2.2"), 500};

// What Bob sent back, parsed (nullopt: nothing).
std::optional<wire::Message> bobs_answer(Pair& p) {
  if (p.net.sent.empty()) return std::nullopt;
  auto m = wire::parse(p.net.sent.back().data);
  REQUIRE(m);
  return *m;
}

void put_u32(Bytes& d, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) d[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

}  // namespace

TEST_SUITE("ike hostile") {
  TEST_CASE("IKE_SA_INIT with SPIi 0 or a message ID other than 0 is dropped, no SA") {
    for (int which : {0, 1}) {
      CAPTURE(which);
      Pair p;
      Bytes d = sa_init_request(p);
      if (which == 0)
        std::fill(d.begin(), d.begin() + 8, 0);  // SPIi
      else
        put_u32(d, 20, 1);  // Message ID
      p.bob.on_datagram(kBob, kAlice, d);
      CHECK(p.net.sent.empty());
      CHECK(p.bob.sas().empty());
      CHECK(p.bob.counters().dropped_unexpected == 1);
    }
  }

  TEST_CASE("another major version: INVALID_MAJOR_VERSION in a 2.0 header, nothing kept") {
    Pair p;
    Bytes d = sa_init_request(p);
    d[17] = 0x30;  // version 3.0
    p.bob.on_datagram(kBob, kAlice, d);
    auto m = bobs_answer(p);
    REQUIRE(m);
    CHECK(m->header.major_version == 2);
    CHECK(m->header.response);
    CHECK(m->header.exchange == wire::ExchangeType::IkeSaInit);
    auto req = wire::parse(sa_init_request(p));
    REQUIRE(req);
    CHECK(m->header.spi_i == req->header.spi_i);
    REQUIRE(m->payloads.size() == 1);
    CHECK(std::get<wire::NotifyPayload>(m->payloads[0]).type ==
          wire::NotifyType::InvalidMajorVersion);
    CHECK(p.bob.sas().empty());
    // A response of another version is only dropped (no answer to an answer).
    p.net.sent.clear();
    d[19] |= 0x20;
    p.bob.on_datagram(kBob, kAlice, d);
    CHECK(p.net.sent.empty());
  }

  TEST_CASE("IKE_SA_INIT with an unknown critical payload: UNSUPPORTED_CRITICAL_PAYLOAD") {
    Pair p;
    auto req = wire::parse(sa_init_request(p));
    REQUIRE(req);
    req->payloads.push_back(wire::UnknownPayload{static_cast<wire::PayloadType>(200), true,
                                                 Bytes{1, 2, 3}});
    p.bob.on_datagram(kBob, kAlice, wire::encode(*req));
    auto m = bobs_answer(p);
    REQUIRE(m);
    REQUIRE(m->payloads.size() == 1);
    const auto& n = std::get<wire::NotifyPayload>(m->payloads[0]);
    CHECK(n.type == wire::NotifyType::UnsupportedCriticalPayload);
    CHECK(n.data == Bytes{200});
    CHECK(p.bob.sas().empty());
    // The same payload without the critical bit is skipped (§2.5): the SA is made.
    p.net.sent.clear();
    std::get<wire::UnknownPayload>(req->payloads.back()).critical = false;
    p.bob.on_datagram(kBob, kAlice, wire::encode(*req));
    CHECK(p.bob.sas().size() == 1);
  }

  TEST_CASE("an unknown critical payload inside SK: a protected UNSUPPORTED_CRITICAL_PAYLOAD") {
    Pair p;
    const uint64_t spi = p.start();
    p.run();
    auto* a = const_cast<IkeSa*>(p.alice.find(spi));
    REQUIRE(a);
    REQUIRE(a->state == IkeState::Established);
    wire::Header h;
    h.spi_i = a->spi_i;
    h.spi_r = a->spi_r;
    h.exchange = wire::ExchangeType::Informational;
    h.initiator = true;
    h.message_id = a->next_request_mid;
    auto d = seal_message(
        h, {wire::UnknownPayload{static_cast<wire::PayloadType>(201), true, Bytes{9}}},
        *a->out_cipher);
    REQUIRE(d);
    p.net.sent.clear();
    p.bob.on_datagram(kBob, kAlice, *d);
    REQUIRE(p.net.sent.size() == 1);
    auto m = wire::parse(p.net.sent.back().data);
    REQUIRE(m);
    CHECK(m->header.response);
    CHECK(m->header.message_id == h.message_id);
    const auto* sk = m->find<wire::SkPayload>();
    REQUIRE(sk);
    const Bytes& raw = p.net.sent.back().data;
    auto plain = a->in_cipher->open(ByteView(raw).first(raw.size() - sk->data.size()), sk->data);
    REQUIRE(plain);
    auto inner = wire::parse_payloads(sk->inner_first, *plain);
    REQUIRE(inner);
    REQUIRE(inner->size() == 1);
    const auto& n = std::get<wire::NotifyPayload>(inner->front());
    CHECK(n.type == wire::NotifyType::UnsupportedCriticalPayload);
    CHECK(n.data == Bytes{201});
    // Bob's IKE SA is still up, and the next request is the one after.
    CHECK(p.bob_sa()->state == IkeState::Established);
    CHECK(p.bob_sa()->expected_request_mid == h.message_id + 1);
  }

  TEST_CASE("one address may hold at most half_open_per_source half-open SAs") {
    Pair p;
    EngineLimits limits;
    limits.half_open_per_source = 3;
    p.bob.set_limits(limits);
    p.bob_config.remote.addr = IpAddress{};  // any peer
    auto req = wire::parse(sa_init_request(p));
    REQUIRE(req);
    p.alice.remove_connection(p.alice_config.name);  // her own SA retransmits no more
    for (uint64_t i = 1; i <= 5; ++i) {
      req->header.spi_i = 0x1000 + i;
      p.bob.on_datagram(kBob, kAlice, wire::encode(*req));
    }
    CHECK(p.bob.sas().size() == 3);
    CHECK(p.bob.counters().dropped_half_open_limit == 2);
    // Another address is not affected.
    req->header.spi_i = 0x2000;
    p.bob.on_datagram(kBob, {ip("192.0.2.7"), 500}, wire::encode(*req));
    CHECK(p.bob.sas().size() == 4);
    // Expired half-open SAs are counted, and free the address's places.
    p.advance(Millis(31'000));
    CHECK(p.bob.counters().half_open_expired == 4);
    CHECK(p.bob.sas().empty());
    req->header.spi_i = 0x3000;
    p.bob.on_datagram(kBob, kAlice, wire::encode(*req));
    CHECK(p.bob.sas().size() == 1);
  }

  TEST_CASE("a connection removed while its IKE SA is being set up: the SA ends, no more retransmissions") {
    Pair p;
    p.net.filter = [](const Packet&, size_t) { return 0; };  // Bob never hears
    const uint64_t spi = p.start();
    p.advance(Millis(1500));
    REQUIRE(p.alice.find(spi) != nullptr);
    const size_t sent = p.net.sent.size();
    p.alice.remove_connection(p.alice_config.name);
    CHECK(p.alice.find(spi) == nullptr);
    const ClosedSa* c = p.alice.closed(spi);
    REQUIRE(c);
    CHECK(c->reason == "connection to-bob removed before the IKE SA was set up");
    p.advance(Millis(60'000));
    CHECK(p.net.sent.size() == sent);
  }
}
