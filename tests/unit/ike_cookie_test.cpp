// SPDX-License-Identifier: Apache-2.0
// IKEv2 COOKIE (RFC 7296 §2.6): the stateless cookie itself, and the engine
// pair with a responder that asks for cookies.
#include <doctest/doctest.h>

#include <cstring>

#include "ike/v2/cookie.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

bool is_cookie_request(const Packet& pk) {
  auto m = wire::parse(pk.data);
  if (!m || !m->header.response || m->payloads.size() != 1) return false;
  const auto* n = std::get_if<wire::NotifyPayload>(&m->payloads[0]);
  return n != nullptr && n->type == wire::NotifyType::Cookie;
}

}  // namespace

TEST_SUITE("ike cookie") {
  TEST_CASE("the cookie binds Ni, IPi and SPIi, and survives one secret rotation") {
    CookieJar jar(Millis(1000));
    const Bytes ni(32, 0x11);
    const IpAddress a = ip("192.0.2.1");
    auto c = jar.make(ni, a, 0x1122334455667788, Millis(0));
    REQUIRE(c);
    CHECK(c->size() == CookieJar::kSize);
    CHECK(jar.verify(*c, ni, a, 0x1122334455667788, Millis(10)));
    CHECK_FALSE(jar.verify(*c, ni, a, 0x1122334455667789, Millis(10)));
    CHECK_FALSE(jar.verify(*c, ni, ip("192.0.2.9"), 0x1122334455667788, Millis(10)));
    CHECK_FALSE(jar.verify(*c, Bytes(32, 0x12), a, 0x1122334455667788, Millis(10)));
    Bytes bad = *c;
    bad.back() ^= 1;
    CHECK_FALSE(jar.verify(bad, ni, a, 0x1122334455667788, Millis(10)));
    CHECK(jar.verify(*c, ni, a, 0x1122334455667788, Millis(1500)));        // previous secret
    CHECK_FALSE(jar.verify(*c, ni, a, 0x1122334455667788, Millis(2600)));  // two rotations on
  }

  //   Alice                                         Bob (threshold 0)
  //   HDR, SAi1, KEi, Ni                      -->
  //                                           <--   HDR, N(COOKIE)
  //   HDR, N(COOKIE), SAi1, KEi, Ni           -->
  //                                           <--   HDR, SAr1, KEr, Nr
  //   HDR, SK {IDi, AUTH, SAi2, TSi, TSr}     -->   ...
  TEST_CASE("threshold 0: every IKE_SA_INIT gets a cookie, and the SA still comes up") {
    Pair p;
    EngineLimits limits;
    limits.cookie_threshold = 0;
    p.bob.set_limits(limits);
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    REQUIRE(a);
    INFO(a->failure);
    REQUIRE(a->state == IkeState::Established);
    CHECK(first_child(a).state == ChildState::Installed);
    CHECK(first_child(p.bob_sa()).state == ChildState::Installed);
    CHECK(p.bob.counters().cookies_sent == 1);
    CHECK(p.bob.counters().cookies_invalid == 0);
    REQUIRE(p.net.sent.size() == 6);
    CHECK(is_cookie_request(p.net.sent[1]));
    auto retry = wire::parse(p.net.sent[2].data);
    REQUIRE(retry);
    REQUIRE(!retry->payloads.empty());
    const auto* first = std::get_if<wire::NotifyPayload>(&retry->payloads[0]);
    REQUIRE(first);
    CHECK(first->type == wire::NotifyType::Cookie);
    CHECK(retry->header.message_id == 0);
  }

  TEST_CASE("a wrong cookie is answered with a new cookie, and no state is kept") {
    Pair p;
    EngineLimits limits;
    limits.cookie_threshold = 0;
    p.bob.set_limits(limits);
    p.net.filter = [](const Packet&, size_t i) { return i == 0 ? 1 : 0; };
    p.start();
    p.run();
    CHECK(p.bob.sas().empty());  // the first request: cookie asked, nothing kept
    // Alice's request again, with a cookie Bob never made in front.
    auto m = wire::parse(p.net.sent[0].data);
    REQUIRE(m);
    wire::NotifyPayload forged;
    forged.type = wire::NotifyType::Cookie;
    forged.data = Bytes(CookieJar::kSize, 0x42);
    m->payloads.insert(m->payloads.begin(), forged);
    const Packet first = p.net.sent[0];
    p.net.filter = nullptr;
    p.bob.on_datagram(first.to, first.from, wire::encode(*m));
    CHECK(p.bob.sas().empty());
    CHECK(p.bob.counters().cookies_invalid == 1);
    CHECK(p.bob.counters().cookies_sent == 2);
    REQUIRE(!p.net.queue.empty());
    CHECK(is_cookie_request(p.net.queue.back()));
    CHECK(p.kernel_empty(p.bob_kernel));
  }

  TEST_CASE("below the threshold no cookie is asked for") {
    Pair p;
    const uint64_t spi = p.start();
    p.run();
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(p.bob.counters().cookies_sent == 0);
    CHECK(p.net.sent.size() == 4);
  }
}
