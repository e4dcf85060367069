// SPDX-License-Identifier: Apache-2.0
// IKEv2 NAT traversal (RFC 7296 §2.23, RFC 3948): NAT_DETECTION_* notifies, the move to
// the NAT-T port, UDP-encapsulated CHILD SAs, keepalives, forced encapsulation.
//
//   Alice 198.51.100.10 --[NAT 203.0.113.1, 500->40500, 4500->44500]-- Bob 192.0.2.2
//
//   HDR(500), SAi1, KEi, Ni, N(NAT_D_SRC), N(NAT_D_DST)  -->
//                    <--  HDR(500), SAr1, KEr, Nr, N(NAT_D_SRC), N(NAT_D_DST)
//   HDR(4500), SK {IDi, AUTH, SAi2, TSi, TSr}  -->   (the Sender adds the non-ESP marker)
//                    <--  HDR(4500), SK {IDr, AUTH, SAr2, TSi, TSr}
//   0xFF (keepalive, Alice only) every 20 s  -->
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "ike/from_policy.h"
#include "ike/v2/nat.h"
#include "ike_test_harness.h"
#include "policy/static_config.h"
#include "wire/message.h"

using namespace ike_test;
namespace fs = std::filesystem;

namespace {

const IpAddress kAlicePrivate = ip("198.51.100.10");
const IpAddress kNatPublic = ip("203.0.113.1");
const IpAddress kBob = ip("192.0.2.2");

bool is_keepalive(const Packet& p) { return p.data.size() == 1 && p.data[0] == 0xff; }

// An engine pair with an optional NAT in front of Alice that rewrites her source
// endpoint on the way out and the destination back on the way in (port + 40000).
struct NatPair : Pair {
  bool nat = true;
  std::vector<Packet> delivered;   // as the receiver saw them (after translation)
  std::vector<Packet> keepalives;  // as they left the sender

  explicit NatPair(bool with_nat, NatConfig cfg = {}) : nat(with_nat) {
    alice.set_nat(cfg);
    bob.set_nat(cfg);
    if (nat) alice_config.local = {kAlicePrivate, 500};
    bob_config.remote = {IpAddress{}, 500};  // any peer: Bob sees the NAT's address
  }
  IpAddress alice_addr() const { return alice_config.local.addr; }

  std::optional<Packet> translate(Packet p) const {
    if (!nat) return p;
    if (p.from.addr == kAlicePrivate)
      p.from = {kNatPublic, static_cast<uint16_t>(p.from.port + 40000)};
    if (p.to.addr == kNatPublic) {
      if (p.to.port < 40000) return std::nullopt;  // no mapping: the NAT drops it
      p.to = {kAlicePrivate, static_cast<uint16_t>(p.to.port - 40000)};
    }
    return p;
  }

  void run_nat() {
    for (int budget = 1000; !net.queue.empty() && budget > 0; --budget) {
      Packet sent = std::move(net.queue.front());
      net.queue.pop_front();
      if (is_keepalive(sent)) {
        keepalives.push_back(sent);  // the kernel's UDP_ENCAP socket consumes these
        continue;
      }
      auto p = translate(sent);
      if (!p) continue;
      delivered.push_back(*p);
      Engine& to = p->to.addr == alice_addr() ? alice : bob;
      to.on_datagram(p->to, p->from, p->data);
    }
    REQUIRE(net.queue.empty());
  }
  void advance_nat(Millis d) {
    clock.t += d;
    alice.on_timer(clock.t);
    bob.on_timer(clock.t);
    run_nat();
  }
};

// By SPI and destination: both MemoryKernels hand out the same SPI sequence.
const kernel::SaParams* find_sa(const std::vector<kernel::SaParams>& sas, uint32_t spi,
                                const IpAddress& dst) {
  for (const auto& s : sas)
    if (s.spi == spi && s.dst == dst) return &s;
  return nullptr;
}

std::vector<const wire::NotifyPayload*> natd_notifies(const wire::Message& m) {
  std::vector<const wire::NotifyPayload*> out;
  for (const auto& p : m.payloads)
    if (const auto* n = std::get_if<wire::NotifyPayload>(&p))
      if (n->type == wire::NotifyType::NatDetectionSourceIp ||
          n->type == wire::NotifyType::NatDetectionDestinationIp)
        out.push_back(n);
  return out;
}

const wire::NotifyPayload* find_notify(const wire::Message& m, wire::NotifyType t) {
  for (const auto* n : natd_notifies(m))
    if (n->type == t) return n;
  return nullptr;
}

Bytes hash(uint64_t spi_i, uint64_t spi_r, const IpAddress& a, uint16_t port) {
  auto h = natd_hash(spi_i, spi_r, Endpoint{a, port});
  REQUIRE(h);
  return *h;
}

void require_established(NatPair& p, uint64_t spi) {
  const IkeSa* a = p.alice.find(spi);
  const IkeSa* b = p.bob_sa();
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  INFO("alice: " << a->failure << first_child(a).failure << " / bob: " << b->failure
                 << first_child(b).failure);
  REQUIRE(a->state == IkeState::Established);
  REQUIRE(b->state == IkeState::Established);
  REQUIRE(first_child(a).state == ChildState::Installed);
  REQUIRE(first_child(b).state == ChildState::Installed);
}

}  // namespace

TEST_SUITE("ike nat traversal") {
  TEST_CASE("NAT-D hash: SHA-1 of SPIi | SPIr | address | port (test vectors)") {
    // python3: hashlib.sha1(struct.pack('>QQ', spi_i, spi_r) + inet_pton(a) + pack('>H', port))
    CHECK(to_hex(hash(0x0102030405060708, 0, ip("192.0.2.1"), 500)) ==
          "644b4575455bd6fcc1efe2be8162a9218e448e5f");
    CHECK(to_hex(hash(0x0102030405060708, 0x1112131415161718, ip("2001:db8::1"), 4500)) ==
          "1ee24423bf8f59515e0265c6d0f08be3d038f7e5");
  }

  TEST_CASE("no NAT: NAT-D in both IKE_SA_INIT messages, IKE stays on 500, no encapsulation") {
    NatPair p(false);
    const uint64_t spi = p.start();
    p.run_nat();
    require_established(p, spi);
    const IkeSa* a = p.alice.find(spi);
    const IkeSa* b = p.bob_sa();

    // The hashes are those of §2.23: SPIr zero in the request.
    REQUIRE(p.net.sent.size() == 4);
    auto req = wire::parse(p.net.sent[0].data);
    auto resp = wire::parse(p.net.sent[1].data);
    REQUIRE((req && resp));
    REQUIRE(natd_notifies(*req).size() == 2);
    REQUIRE(natd_notifies(*resp).size() == 2);
    CHECK(find_notify(*req, wire::NotifyType::NatDetectionSourceIp)->data ==
          hash(a->spi_i, 0, ip("192.0.2.1"), 500));
    CHECK(find_notify(*req, wire::NotifyType::NatDetectionDestinationIp)->data ==
          hash(a->spi_i, 0, kBob, 500));
    CHECK(find_notify(*resp, wire::NotifyType::NatDetectionSourceIp)->data ==
          hash(a->spi_i, a->spi_r, kBob, 500));
    CHECK(find_notify(*resp, wire::NotifyType::NatDetectionDestinationIp)->data ==
          hash(a->spi_i, a->spi_r, ip("192.0.2.1"), 500));

    CHECK_FALSE(a->nat.any());
    CHECK_FALSE(b->nat.any());
    for (const auto& pk : p.net.sent) {
      CHECK(pk.from.port == 500);
      CHECK(pk.to.port == 500);
    }
    for (auto* k : {&p.alice_kernel, &p.bob_kernel})
      for (const auto& s : p.sas(*k)) CHECK_FALSE(s.encap.has_value());
    p.advance_nat(Millis(60000));
    CHECK(p.keepalives.empty());
    CHECK(p.alice.counters().nat_detected == 0);
    CHECK(p.bob.counters().nat_detected == 0);
  }

  TEST_CASE(
      "Alice behind a NAT: both move to 4500, ESP in UDP with the ports seen, "
      "keepalives from Alice only") {
    NatPair p(true);
    const uint64_t spi = p.start();
    p.run_nat();
    require_established(p, spi);
    const IkeSa* a = p.alice.find(spi);
    const IkeSa* b = p.bob_sa();

    // Detection: Alice's destination hash did not match (her own NAT), Bob saw a
    // source hash that matched no address of the packet's.
    CHECK(a->nat.local);
    CHECK_FALSE(a->nat.remote);
    CHECK_FALSE(b->nat.local);
    CHECK(b->nat.remote);
    CHECK_FALSE(a->nat.fake);
    CHECK(p.alice.counters().nat_detected == 1);
    CHECK(p.bob.counters().nat_detected == 1);

    // IKE_SA_INIT on 500, IKE_AUTH on 4500, as the peers saw them.
    REQUIRE(p.delivered.size() == 4);
    CHECK(p.delivered[0].from == Endpoint{kNatPublic, 40500});
    CHECK(p.delivered[0].to == Endpoint{kBob, 500});
    CHECK(p.delivered[1].to == Endpoint{kAlicePrivate, 500});
    CHECK(p.delivered[2].from == Endpoint{kNatPublic, 44500});
    CHECK(p.delivered[2].to == Endpoint{kBob, 4500});
    CHECK(p.delivered[3].from == Endpoint{kBob, 4500});
    CHECK(p.delivered[3].to == Endpoint{kAlicePrivate, 4500});
    CHECK(p.net.sent[2].from == Endpoint{kAlicePrivate, 4500});

    // Each side keeps the endpoints it uses now; Bob followed Alice's new mapping.
    CHECK(a->local == Endpoint{kAlicePrivate, 4500});
    CHECK(a->remote == Endpoint{kBob, 4500});
    CHECK(b->local == Endpoint{kBob, 4500});
    CHECK(b->remote == Endpoint{kNatPublic, 44500});

    // ESP SAs: UDP-encapsulated with the ports each kernel sees.
    auto as = p.sas(p.alice_kernel), bs = p.sas(p.bob_kernel);
    REQUIRE(as.size() == 2);
    REQUIRE(bs.size() == 2);
    const auto* a_out = find_sa(as, first_child(a).spi_out, kBob);
    const auto* a_in = find_sa(as, first_child(a).spi_in, kAlicePrivate);
    const auto* b_out = find_sa(bs, first_child(b).spi_out, kNatPublic);
    const auto* b_in = find_sa(bs, first_child(b).spi_in, kBob);
    REQUIRE((a_out && a_in && b_out && b_in));
    for (const auto* s : {a_out, a_in, b_out, b_in}) {
      REQUIRE(s->encap.has_value());
      CHECK(s->encap->type == 2);  // UDP_ENCAP_ESPINUDP
    }
    CHECK(a_out->src == kAlicePrivate);
    CHECK(a_out->encap->sport == 4500);
    CHECK(a_out->encap->dport == 4500);
    CHECK(a_in->encap->sport == 4500);
    CHECK(a_in->encap->dport == 4500);
    CHECK(b_out->src == kBob);
    CHECK(b_out->dst == kNatPublic);
    CHECK(b_out->encap->sport == 4500);
    CHECK(b_out->encap->dport == 44500);
    CHECK(b_in->src == kNatPublic);
    CHECK(b_in->encap->sport == 44500);
    CHECK(b_in->encap->dport == 4500);
    // Bob's tunnel policy points at the NAT's address.
    auto bp = p.policies(p.bob_kernel);
    REQUIRE_FALSE(bp.empty());
    CHECK(bp[0].tmpls[0].dst == kNatPublic);

    // Keepalives: Alice's side only, every 20 s, to Bob's NAT-T port.
    CHECK(p.alice.next_timer() == Millis(20000));
    CHECK_FALSE(p.bob.next_timer().has_value());
    p.advance_nat(Millis(19999));
    CHECK(p.keepalives.empty());
    p.advance_nat(Millis(1));
    REQUIRE(p.keepalives.size() == 1);
    CHECK(p.keepalives[0].from == Endpoint{kAlicePrivate, 4500});
    CHECK(p.keepalives[0].to == Endpoint{kBob, 4500});
    for (int i = 0; i < 5; ++i) p.advance_nat(Millis(10000));  // 70 s in all
    CHECK(p.keepalives.size() == 3);
    for (const auto& k : p.keepalives) CHECK(k.from.addr == kAlicePrivate);
    CHECK(p.alice.counters().nat_keepalives == 3);
    CHECK(p.bob.counters().nat_keepalives == 0);

    // A Delete still travels over 4500 through the NAT and cleans up both kernels.
    const size_t before = p.delivered.size();
    REQUIRE(p.alice.delete_ike_sa(spi));
    p.run_nat();
    REQUIRE(p.delivered.size() == before + 2);
    CHECK(p.delivered[before].to == Endpoint{kBob, 4500});
    CHECK(p.delivered[before + 1].to == Endpoint{kAlicePrivate, 4500});
    CHECK(p.alice.sas().empty());
    CHECK(p.bob.sas().empty());
    CHECK(p.kernel_empty(p.alice_kernel));
    CHECK(p.kernel_empty(p.bob_kernel));
    // No keepalives for a deleted SA.
    p.advance_nat(Millis(60000));
    CHECK(p.keepalives.size() == 3);
  }

  TEST_CASE("a configured NAT-T port and keepalive interval") {
    NatConfig cfg;
    cfg.port = 14500;
    cfg.keepalive_interval = Millis(5000);
    NatPair p(true, cfg);
    const uint64_t spi = p.start();
    p.run_nat();
    require_established(p, spi);
    CHECK(p.alice.find(spi)->local.port == 14500);
    CHECK(p.bob_sa()->remote == Endpoint{kNatPublic, 54500});
    for (const auto& s : p.sas(p.alice_kernel)) {
      REQUIRE(s.encap);
      CHECK(s.encap->sport == 14500);
      CHECK(s.encap->dport == 14500);
    }
    for (int i = 0; i < 4; ++i) p.advance_nat(Millis(5000));
    CHECK(p.keepalives.size() == 4);
  }

  TEST_CASE("keepalive interval 0: NAT traversal without keepalives") {
    NatConfig cfg;
    cfg.keepalive_interval = Millis(0);
    NatPair p(true, cfg);
    const uint64_t spi = p.start();
    p.run_nat();
    require_established(p, spi);
    CHECK_FALSE(p.alice.next_timer().has_value());
    p.advance_nat(Millis(60000));
    CHECK(p.keepalives.empty());
  }

  TEST_CASE("NAT-T port 0: no NAT-D sent or answered, IKE stays on 500 even behind a NAT") {
    NatConfig cfg;
    cfg.port = 0;
    NatPair p(true, cfg);
    const uint64_t spi = p.start();
    p.run_nat();
    require_established(p, spi);
    for (const auto& pk : p.delivered) {
      auto m = wire::parse(pk.data);
      REQUIRE(m);
      CHECK(natd_notifies(*m).empty());
      CHECK(pk.to.port % 40000 == 500);
    }
    CHECK_FALSE(p.alice.find(spi)->nat.any());
    for (const auto& s : p.sas(p.alice_kernel)) CHECK_FALSE(s.encap.has_value());
  }

  TEST_CASE("forced encapsulation without a NAT (encap: true), on either side") {
    for (bool initiator : {true, false}) {
      CAPTURE(initiator);
      NatPair p(false);
      (initiator ? p.alice_config : p.bob_config).force_encap = true;
      const uint64_t spi = p.start();
      p.run_nat();
      require_established(p, spi);
      const IkeSa* a = p.alice.find(spi);
      const IkeSa* b = p.bob_sa();
      // The forcing side fakes; the other one believes its peer is behind a NAT.
      CHECK((initiator ? a : b)->nat.fake);
      CHECK((initiator ? b : a)->nat.remote);
      CHECK_FALSE(a->nat.local);
      CHECK_FALSE(b->nat.local);
      CHECK(a->local.port == 4500);
      CHECK(b->remote == Endpoint{ip("192.0.2.1"), 4500});
      CHECK(p.net.sent[2].from.port == 4500);
      CHECK(p.net.sent[2].to.port == 4500);
      for (auto* k : {&p.alice_kernel, &p.bob_kernel})
        for (const auto& s : p.sas(*k)) {
          REQUIRE(s.encap.has_value());
          CHECK(s.encap->sport == 4500);
          CHECK(s.encap->dport == 4500);
        }
      // Nobody is really behind a NAT: no keepalives.
      p.advance_nat(Millis(60000));
      CHECK(p.keepalives.empty());
    }
  }

  TEST_CASE("NAT-D of the wrong length is ignored: no NAT detection, none in the response") {
    for (auto bad :
         {wire::NotifyType::NatDetectionSourceIp, wire::NotifyType::NatDetectionDestinationIp}) {
      CAPTURE(static_cast<int>(bad));
      NatPair p(true);
      p.start();
      REQUIRE(p.net.queue.size() == 1);
      auto m = wire::parse(p.net.queue.front().data);
      REQUIRE(m);
      for (auto& pl : m->payloads)
        if (auto* n = std::get_if<wire::NotifyPayload>(&pl); n && n->type == bad)
          n->data.resize(19);
      p.net.queue.front().data = wire::encode(*m);
      Packet req = std::move(p.net.queue.front());
      p.net.queue.pop_front();
      auto in = p.translate(req);
      REQUIRE(in);
      p.bob.on_datagram(in->to, in->from, in->data);
      CHECK(p.bob.counters().natd_ignored == 1);
      const IkeSa* b = p.bob_sa();
      REQUIRE(b != nullptr);
      CHECK(b->state == IkeState::SaInitDone);
      CHECK_FALSE(b->nat.any());
      REQUIRE(p.net.queue.size() == 1);
      auto resp = wire::parse(p.net.queue.front().data);
      REQUIRE(resp);
      CHECK(natd_notifies(*resp).empty());
    }
  }

  TEST_CASE("a peer without NAT-D: nothing detected, nothing forced, IKE stays on 500") {
    NatPair p(false);
    p.alice_config.force_encap = true;  // cannot work without the peer's NAT-D
    p.start();
    auto m = wire::parse(p.net.queue.front().data);
    REQUIRE(m);
    std::erase_if(m->payloads, [](const wire::Payload& pl) {
      const auto* n = std::get_if<wire::NotifyPayload>(&pl);
      return n != nullptr && (n->type == wire::NotifyType::NatDetectionSourceIp ||
                              n->type == wire::NotifyType::NatDetectionDestinationIp);
    });
    p.net.queue.front().data = wire::encode(*m);
    p.run_nat();
    // Alice signed her original request, so IKE_AUTH fails; the point is IKE_SA_INIT.
    REQUIRE(p.delivered.size() >= 2);
    auto resp = wire::parse(p.delivered[1].data);
    REQUIRE(resp);
    CHECK(natd_notifies(*resp).empty());
    CHECK(p.delivered[2].to.port == 500);
    CHECK(p.alice.counters().nat_detected == 0);
    CHECK(p.bob.counters().nat_detected == 0);
  }

  TEST_CASE("policy: \"encap\": true maps to force_encap, a non-boolean is an error") {
    std::string tmpl = (fs::temp_directory_path() / "ipsec-natt-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    const fs::path dir = tmpl;
    const fs::path example = fs::path(IPSEC_SOURCE_DIR) / "policies/examples/ikev2-psk-tunnel";
    fs::copy_file(example / "shared.psk", dir / "shared.psk");
    REQUIRE(::chmod((dir / "shared.psk").c_str(), 0600) == 0);
    auto j = nlohmann::json::parse(std::ifstream(example / "left.json"));
    auto load = [&](const nlohmann::json& value) {
      j["connections"]["to-right"]["encap"] = value;
      std::ofstream(dir / "left.json") << j.dump();
      return policy::load_files({(dir / "left.json").string()});
    };
    auto yes = load(true);
    REQUIRE_MESSAGE(yes.ok(), (yes.errors.empty() ? "" : yes.errors.front().str()));
    REQUIRE(yes.config.connections.size() == 1);
    auto c = to_engine_config(yes.config.connections.front());
    REQUIRE(c);
    CHECK(c->force_encap);
    auto no = load(false);
    REQUIRE(no.ok());
    CHECK_FALSE(to_engine_config(no.config.connections.front())->force_encap);
    auto bad = load("yes");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.errors.front().str().find("encap") != std::string::npos);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
}

// The daemon's side of the contract (daemon/udp.h): NAT-T sockets on loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "daemon/udp.h"

namespace {

// Binds to 127.0.0.1 on a port the kernel picks and records it in s.local.
ipsec::daemon::UdpSocket loopback(bool natt) {
  auto s = ipsec::daemon::open_udp(Endpoint{ip("127.0.0.1"), 0}, false, natt);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  sockaddr_in sin{};
  socklen_t len = sizeof sin;
  REQUIRE(::getsockname(s->fd.get(), reinterpret_cast<sockaddr*>(&sin), &len) == 0);
  s->local.port = ntohs(sin.sin_port);
  return std::move(*s);
}

void raw_send(const ipsec::daemon::UdpSocket& from, const ipsec::daemon::UdpSocket& to,
              const Bytes& data) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(to.local.port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::sendto(from.fd.get(), data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&sin),
                   sizeof sin) == static_cast<ssize_t>(data.size()));
}

// Bounded wait for a datagram (loopback delivery is immediate, but be safe).
Bytes receive_one(const ipsec::daemon::UdpSocket& s) {
  for (int i = 0; i < 200; ++i) {
    auto d = ipsec::daemon::receive(s);
    REQUIRE(d);
    if (!d->data.empty()) return d->data;
    ::usleep(5000);
  }
  return {};
}

}  // namespace

TEST_SUITE("daemon nat-t sockets") {
  TEST_CASE("marker added on send and removed on receive, keepalives without, non-IKE dropped") {
    auto natt = loopback(true);
    auto plain = loopback(false);
    CHECK(natt.natt);
    const Bytes ike{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99};
    Bytes with_marker{0, 0, 0, 0};
    with_marker.insert(with_marker.end(), ike.begin(), ike.end());

    // In: the marker is stripped; what has none is read past (a keepalive; data that is
    // not ESP either, too short for the kernel to take it for ESP).
    raw_send(plain, natt, Bytes{0xff});
    raw_send(plain, natt, Bytes{0x01, 0x02, 0x03});
    raw_send(plain, natt, with_marker);
    CHECK(receive_one(natt) == ike);

    // Out: the Sender adds the marker on the NAT-T socket, not on a keepalive, and never
    // on a plain socket.
    std::vector<ipsec::daemon::UdpSocket> sockets;
    sockets.push_back(std::move(natt));
    sockets.push_back(loopback(false));
    ipsec::daemon::UdpSender sender(sockets);
    sender.send(sockets[0].local, plain.local, ike);
    CHECK(receive_one(plain) == with_marker);
    const uint8_t keepalive = 0xff;
    sender.send(sockets[0].local, plain.local, ByteView(&keepalive, 1));
    CHECK(receive_one(plain) == Bytes{0xff});
    sender.send(sockets[1].local, plain.local, ike);
    CHECK(receive_one(plain) == ike);
    CHECK(sender.send_errors() == 0);
  }

  TEST_CASE("pure helpers: ike_payload and marker_for") {
    ipsec::daemon::UdpSocket natt, plain;
    natt.natt = true;
    const Bytes ike{1, 2, 3, 4, 5};
    auto bytes = [](ByteView v) { return Bytes(v.begin(), v.end()); };
    CHECK(bytes(ipsec::daemon::marker_for(natt, ike)) == Bytes{0, 0, 0, 0});
    CHECK(ipsec::daemon::marker_for(plain, ike).empty());
    CHECK(ipsec::daemon::marker_for(natt, Bytes{0xff}).empty());
    const Bytes in{0, 0, 0, 0, 9};
    auto p = ipsec::daemon::ike_payload(natt, in);
    REQUIRE(p);
    CHECK(Bytes(p->begin(), p->end()) == Bytes{9});
    CHECK_FALSE(ipsec::daemon::ike_payload(natt, Bytes{0, 0, 0}));
    CHECK_FALSE(ipsec::daemon::ike_payload(natt, Bytes{0, 0, 1, 0, 7}));
    CHECK(ipsec::daemon::ike_payload(plain, Bytes{0, 0, 1, 0, 7}));
  }
}
