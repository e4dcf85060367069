// SPDX-License-Identifier: Apache-2.0
// The responder picks the connection by the peer's identity at IKE_AUTH (RFC 7296 §2.15):
// IKE_SA_INIT only narrows the candidates by address. Two connections from one address told
// apart by IDi, a wildcard remote id serving two peers, an exact id preferred over a
// wildcard, and the identity patterns themselves.
#include <doctest/doctest.h>

#include <cstring>

#include "ike/traffic_selectors.h"
#include "ike/v2/exchanges.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

SecretBytes secret(const char* s) {
  return SecretBytes(ByteView(reinterpret_cast<const uint8_t*>(s), std::strlen(s)));
}

// Three engines on one in-memory network, each at its own address.
struct Trio {
  FakeClock clock;
  Network net;
  kernel::MemoryKernel kernels[3];
  crypto::DeterministicRandom randoms[3]{crypto::DeterministicRandom{11},
                                         crypto::DeterministicRandom{12},
                                         crypto::DeterministicRandom{13}};
  Engine engines[3]{{net, kernels[0], clock}, {net, kernels[1], clock}, {net, kernels[2], clock}};
  IpAddress addrs[3] = {ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3")};
  Trio() {
    for (int i = 0; i < 3; ++i) engines[i].set_random(randoms[i]);
  }
  void run() {
    for (int guard = 0; guard < 1000 && !net.queue.empty(); ++guard) {
      Packet p = std::move(net.queue.front());
      net.queue.pop_front();
      for (int i = 0; i < 3; ++i)
        if (p.to.addr == addrs[i]) engines[i].on_datagram(p.to, p.from, p.data);
    }
  }
};

// A road warrior at `self` with identity `id` and the given PSK, to the gateway .2.
ConnectionConfig warrior(const char* self, const char* id, const char* psk, const char* subnet) {
  ConnectionConfig c = connection(true);
  c.name = std::string("as-") + id;
  c.local = {ip(self), 500};
  c.local_id = Identity::fqdn(id);
  c.psk = secret(psk);
  c.children[0].local_ts = {prefix(subnet)};
  return c;
}

// The gateway's connection for peers matching `remote_id`, from any address.
ConnectionConfig gateway(const char* name, IdentityMatch remote_id, const char* psk,
                         const char* remote_subnet) {
  ConnectionConfig c = connection(false);
  c.name = name;
  c.remote = {ip("0.0.0.0"), 500};  // as a policy file writes "any address"
  c.remote_id = std::move(remote_id);
  c.psk = secret(psk);
  c.children[0].remote_ts = {prefix(remote_subnet)};
  return c;
}

const IkeSa* only_sa(Engine& e) {
  auto all = e.sas();
  return all.size() == 1 ? all.front() : nullptr;
}

}  // namespace

TEST_SUITE("ike identity") {
  TEST_CASE("identity patterns: exact, any, domain, address prefix") {
    const Identity gw = Identity::fqdn("gw.example.org");
    CHECK(IdentityMatch(gw).matches(gw));
    CHECK_FALSE(IdentityMatch(gw).matches(Identity::fqdn("gx.example.org")));
    CHECK(IdentityMatch::any().matches(Identity::key_id(Bytes{1, 2})));
    const auto dom = IdentityMatch::domain_suffix("example.org");
    CHECK(dom.matches(gw));
    CHECK(dom.matches(Identity::rfc822("alice@example.org")));
    CHECK(dom.matches(Identity::rfc822("alice@lab.example.org")));
    CHECK_FALSE(dom.matches(Identity::fqdn("example.org")));
    CHECK_FALSE(dom.matches(Identity::fqdn("gw.badexample.org")));
    CHECK_FALSE(dom.matches(Identity::address(ip("192.0.2.1"))));
    const auto net = IdentityMatch::address_prefix(prefix("192.0.2.0/24"));
    CHECK(net.matches(Identity::address(ip("192.0.2.77"))));
    CHECK_FALSE(net.matches(Identity::address(ip("198.51.100.1"))));
    CHECK_FALSE(net.matches(Identity::address(ip("2001:db8::1"))));
    CHECK_FALSE(net.matches(Identity::fqdn("192.0.2.1")));
    CHECK(dom.str() == "fqdn:*.example.org");
    CHECK(net.str() == "ipv4:192.0.2.0/24");
    CHECK(IdentityMatch::any().str() == "any");
  }

  TEST_CASE("two connections from one peer address, told apart by IDi") {
    LifecyclePair p;
    // Alice runs two connections to Bob with different identities and keys.
    ConnectionConfig carol = connection(true);
    carol.name = "as-carol";
    carol.local_id = Identity::fqdn("carol.example");
    carol.psk = secret("carol's own secret, long enough");
    carol.children[0].local_ts = {prefix("10.3.0.0/16")};
    carol.children[0].reqid = 8;
    ConnectionConfig from_carol = connection(false);
    from_carol.name = "from-carol";
    from_carol.remote_id = Identity::fqdn("carol.example");
    from_carol.psk = carol.psk;
    from_carol.children[0].name = "carol-lan";
    from_carol.children[0].remote_ts = {prefix("10.3.0.0/16")};
    from_carol.children[0].reqid = 10;
    p.alice.add_connection(p.alice_config);
    p.alice.add_connection(carol);
    p.bob.add_connection(p.bob_config);  // from-alice comes first: IKE_SA_INIT picks it
    p.bob.add_connection(from_carol);
    auto a1 = p.alice.initiate("to-bob");
    auto a2 = p.alice.initiate("as-carol");
    REQUIRE(a1);
    REQUIRE(a2);
    p.run();
    REQUIRE(p.bob.sas().size() == 2);
    for (const IkeSa* sa : p.bob.sas()) {
      CAPTURE(sa->peer_id.str());
      REQUIRE(sa->state == IkeState::Established);
      REQUIRE(sa->children.size() == 1);
      const ChildSa& c = sa->children.front();
      if (sa->peer_id == Identity::fqdn("carol.example")) {
        CHECK(sa->config->name == "from-carol");
        CHECK(child_name(c) == "carol-lan");
        CHECK(c.cfg->reqid == 10);
      } else {
        CHECK(sa->config->name == "from-alice");
        CHECK(child_name(c) == "lan");
      }
    }
    CHECK(p.alice.find(*a1)->state == IkeState::Established);
    CHECK(p.alice.find(*a2)->state == IkeState::Established);
    CHECK(p.esp(p.bob_kernel).size() == 4);
  }

  TEST_CASE("a wildcard remote id serves two peers; an exact one is preferred over it") {
    Trio t;
    const char* shared = "the road warriors' shared secret";
    t.engines[0].add_connection(warrior("192.0.2.1", "a.example.org", shared, "10.1.0.0/16"));
    t.engines[2].add_connection(warrior("192.0.2.3", "d.example.org", shared, "10.3.0.0/16"));
    // The gateway: a wildcard for *.example.org, and an exact one for d with its own key,
    // added after the wildcard (so address order alone would pick the wildcard).
    t.engines[1].add_connection(
        gateway("warriors", IdentityMatch::domain_suffix("example.org"), shared, "10.0.0.0/8"));
    ConnectionConfig d_only =
        gateway("dave", Identity::fqdn("d.example.org"), shared, "10.3.0.0/16");
    d_only.children[0].name = "dave-lan";
    t.engines[1].add_connection(d_only);
    REQUIRE(t.engines[0].initiate("as-a.example.org"));
    REQUIRE(t.engines[2].initiate("as-d.example.org"));
    t.run();
    REQUIRE(t.engines[1].sas().size() == 2);
    for (const IkeSa* sa : t.engines[1].sas()) {
      CAPTURE(sa->peer_id.str());
      REQUIRE(sa->state == IkeState::Established);
      REQUIRE(sa->children.size() == 1);
      if (sa->remote.addr == ip("192.0.2.1")) {
        CHECK(sa->config->name == "warriors");
        CHECK(sa->peer_id == Identity::fqdn("a.example.org"));
        CHECK(describe(sa->children.front().remote_ts) == "10.1.0.0/16");
      } else {
        CHECK(sa->config->name == "dave");
        CHECK(child_name(sa->children.front()) == "dave-lan");
        CHECK(describe(sa->children.front().remote_ts) == "10.3.0.0/16");
      }
    }
    REQUIRE(only_sa(t.engines[0]) != nullptr);
    REQUIRE(only_sa(t.engines[2]) != nullptr);
    CHECK(only_sa(t.engines[0])->state == IkeState::Established);
    CHECK(only_sa(t.engines[2])->state == IkeState::Established);
  }

  TEST_CASE("no connection accepts the peer's identity: AUTHENTICATION_FAILED, named") {
    Trio t;
    t.engines[0].add_connection(
        warrior("192.0.2.1", "a.example.net", "some shared secret!!", "10.1.0.0/16"));
    t.engines[1].add_connection(gateway("warriors", IdentityMatch::domain_suffix("example.org"),
                                        "some shared secret!!", "10.0.0.0/8"));
    REQUIRE(t.engines[0].initiate("as-a.example.net"));
    t.run();
    CHECK(t.engines[1].sas().empty());
    REQUIRE(!t.engines[1].closed_sas().empty());
    CHECK(t.engines[1].closed_sas().front().reason ==
          "authentication failed: peer identity fqdn:a.example.net is not the expected "
          "fqdn:*.example.org (connection warriors), nor one of another connection from "
          "192.0.2.1");
    CHECK(t.engines[1].counters().auth_failed == 1);
    CHECK(t.kernels[1].dump_sas()->empty());
  }
}

TEST_CASE("identities from packets print with control characters escaped") {
  const Identity evil = Identity::fqdn("gw\x1b[31m.example\n");
  CHECK(evil.str() == "fqdn:gw\\x1b[31m.example\\x0a");
  CHECK(printable("a\\b\x7f") == "a\\x5cb\\x7f");
  CHECK(printable("Müller") == "Müller");  // UTF-8 unchanged
}
