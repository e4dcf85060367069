// SPDX-License-Identifier: Apache-2.0
// The in-memory kernel's XFRM lifecycle emulation: lifetimes and EXPIRE,
// traffic counters, the outbound policy lookup and ACQUIRE (trap) semantics.
#include <doctest/doctest.h>
#include <errno.h>
#include <netinet/in.h>

#include <algorithm>

#include "common/bytes.h"
#include "kernel/memory_kernel.h"

using namespace ipsec;
namespace k = ipsec::kernel;
using Fate = k::MemoryKernel::Fate;

namespace {

// An epoch-like start, so that times are never the "never" value 0.
constexpr uint64_t kT0 = 1'700'000'000;
constexpr uint32_t kReqid = 7;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
Prefix pfx(const char* text) { return *Prefix::parse(text); }

// An outbound tunnel SA 192.0.2.1 -> 192.0.2.2 with reqid 7.
k::SaParams out_sa(uint32_t spi) {
  k::SaParams s;
  s.src = ip("192.0.2.1");
  s.dst = ip("192.0.2.2");
  s.spi = spi;
  s.mode = k::Mode::Tunnel;
  s.reqid = kReqid;
  s.aead = k::Algorithm{"rfc4106(gcm(aes))", SecretBytes(Bytes(20, 0x11)), 128};
  s.replay_window = 32;
  return s;
}

k::Template tunnel_tmpl() {
  return k::Template{ip("192.0.2.1"), ip("192.0.2.2"), 0,    k::Proto::Esp,
                     k::Mode::Tunnel, kReqid,          false};
}

// A trap: 198.51.100.0/24 -> 203.0.113.0/24 out, through the tunnel above.
k::PolicyParams trap_policy() {
  k::PolicyParams p;
  p.sel.src = pfx("198.51.100.0/24");
  p.sel.dst = pfx("203.0.113.0/24");
  p.dir = k::Dir::Out;
  p.tmpls = {tunnel_tmpl()};
  return p;
}

// A UDP datagram from 198.51.100.1:5000 to `dst`:4242.
k::Selector packet(const char* dst = "203.0.113.5", const char* src = "198.51.100.1") {
  k::Selector s;
  s.src = Prefix::host(ip(src));
  s.dst = Prefix::host(ip(dst));
  s.proto = IPPROTO_UDP;
  s.sport = 5000;
  s.dport = 4242;
  return s;
}

k::SpiRequest spi_request(const IpAddress& src, const IpAddress& dst) {
  k::SpiRequest r;
  r.src = src;
  r.dst = dst;
  return r;
}

template <class T>
std::vector<T> events_of(k::EventSource& src) {
  auto got = src.read();
  REQUIRE(got.has_value());
  std::vector<T> out;
  for (const auto& e : *got)
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  return out;
}

size_t larval_count(k::MemoryKernel& kern) {
  auto sas = *kern.dump_sas();
  return static_cast<size_t>(
      std::count_if(sas.begin(), sas.end(), [](const k::SaParams& s) { return s.larval; }));
}

}  // namespace

TEST_CASE("memory kernel: add_sa stamps add_time from the clock; add_traffic counts like XFRM") {
  k::MemoryKernel kern;
  kern.set_time(kT0);
  REQUIRE(kern.add_sa(out_sa(0x1000)));
  auto got = *kern.get_sa(out_sa(0x1000).id());
  CHECK(got.counters.add_time == kT0);
  CHECK(got.counters.use_time == 0);
  CHECK(got.counters.bytes == 0);

  kern.set_time(kT0 + 5);
  kern.add_traffic(out_sa(0x1000).id(), 1500, 3);
  kern.set_time(kT0 + 9);
  kern.add_traffic(out_sa(0x1000).id(), 500, 1);
  got = *kern.get_sa(out_sa(0x1000).id());
  CHECK(got.counters.bytes == 2000);
  CHECK(got.counters.packets == 4);
  CHECK(got.counters.use_time == kT0 + 5);  // the first packet's time
  CHECK(got.counters.add_time == kT0);

  // Unknown SAs and larval states count nothing, and nothing breaks.
  kern.add_traffic(out_sa(0x9999).id(), 100, 1);
  k::SpiRequest req = spi_request(ip("192.0.2.2"), ip("192.0.2.1"));
  auto spi = kern.alloc_spi(req);
  REQUIRE(spi);
  k::SaId larval{ip("192.0.2.1"), *spi, k::Proto::Esp, {}, {}};
  kern.add_traffic(larval, 100, 1);
  CHECK(kern.get_sa(larval)->counters.packets == 0);

  // update_sa keeps what was counted.
  k::SaParams changed = out_sa(0x1000);
  changed.lifetime.hard_bytes = 1 << 20;
  REQUIRE(kern.update_sa(changed));
  CHECK(kern.get_sa(changed.id())->counters.bytes == 2000);
  CHECK(kern.get_sa(changed.id())->counters.add_time == kT0);
}

TEST_CASE("memory kernel: soft then hard add-seconds EXPIRE, once each; the SA goes at hard") {
  k::MemoryKernel kern;
  auto expires = kern.subscribe(k::kGroupExpire);
  auto changes = kern.subscribe(k::kGroupSa);
  REQUIRE((expires && changes));
  kern.set_time(kT0);
  k::SaParams sa = out_sa(0x1000);
  sa.lifetime.soft_add_seconds = 3000;
  sa.lifetime.hard_add_seconds = 3600;
  REQUIRE(kern.add_sa(sa));
  (void)(*changes)->read();  // the NEWSA

  kern.set_time(kT0 + 2999);
  CHECK(kern.poll_expires().empty());
  kern.set_time(kT0 + 3000);
  auto soft = kern.poll_expires();
  REQUIRE(soft.size() == 1);
  CHECK_FALSE(soft[0].hard);
  CHECK(soft[0].sa.spi == 0x1000);
  CHECK(soft[0].sa.lifetime == sa.lifetime);
  // Like the kernel's EXPIRE message: no algorithms or keys, not larval.
  CHECK_FALSE(soft[0].sa.aead.has_value());
  CHECK_FALSE(soft[0].sa.larval);
  kern.set_time(kT0 + 3100);
  CHECK(kern.poll_expires().empty());  // announced once: the SA is dying
  CHECK(kern.get_sa(sa.id()));         // ... and still there

  kern.set_time(kT0 + 3600);
  auto hard = kern.poll_expires();
  REQUIRE(hard.size() == 1);
  CHECK(hard[0].hard);
  CHECK(hard[0].sa.spi == 0x1000);
  auto gone = kern.get_sa(sa.id());
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == ESRCH);
  CHECK(kern.poll_expires().empty());

  // Subscribers got the same two events; no DELSA for an expiry (as XFRM).
  auto published = events_of<k::ExpireEvent>(**expires);
  REQUIRE(published.size() == 2);
  CHECK_FALSE(published[0].hard);
  CHECK(published[1].hard);
  CHECK((*changes)->read()->empty());
}

TEST_CASE("memory kernel: byte and packet limits; a jump past both gives soft then hard") {
  k::MemoryKernel kern;
  kern.set_time(kT0);
  k::SaParams bytes = out_sa(0x1000);
  bytes.lifetime.soft_bytes = 1000;
  bytes.lifetime.hard_bytes = 2000;
  k::SaParams packets = out_sa(0x1001);
  packets.lifetime.soft_packets = 10;
  packets.lifetime.hard_packets = 20;
  REQUIRE(kern.add_sa(bytes));
  REQUIRE(kern.add_sa(packets));

  kern.add_traffic(bytes.id(), 999, 1);
  kern.add_traffic(packets.id(), 100, 9);
  CHECK(kern.poll_expires().empty());
  kern.add_traffic(bytes.id(), 1, 1);
  kern.add_traffic(packets.id(), 100, 1);
  auto soft = kern.poll_expires();
  REQUIRE(soft.size() == 2);
  CHECK((!soft[0].hard && !soft[1].hard));
  CHECK(soft[0].sa.counters.bytes == 1000);
  CHECK(soft[1].sa.counters.packets == 10);

  // Straight past both limits of a fresh SA: the soft EXPIRE comes first.
  k::SaParams jump = out_sa(0x1002);
  jump.lifetime = bytes.lifetime;
  REQUIRE(kern.add_sa(jump));
  kern.add_traffic(jump.id(), 5000, 4);
  auto both = kern.poll_expires();
  REQUIRE(both.size() == 2);
  CHECK(both[0].sa.spi == 0x1002);
  CHECK_FALSE(both[0].hard);
  CHECK(both[1].sa.spi == 0x1002);
  CHECK(both[1].hard);
  CHECK_FALSE(kern.get_sa(jump.id()));
}

TEST_CASE("memory kernel: use-seconds count from the first packet; 0 limits mean none") {
  k::MemoryKernel kern;
  kern.set_time(kT0);
  k::SaParams sa = out_sa(0x1000);
  sa.lifetime.soft_use_seconds = 60;
  sa.lifetime.hard_use_seconds = 120;
  REQUIRE(kern.add_sa(sa));
  REQUIRE(kern.add_sa(out_sa(0x1001)));  // no limits at all
  kern.set_time(kT0 + 1000);
  CHECK(kern.poll_expires().empty());  // never used: no use expiry
  kern.add_traffic(sa.id(), 100, 1);
  kern.set_time(kT0 + 1059);
  CHECK(kern.poll_expires().empty());
  kern.set_time(kT0 + 1060);
  auto soft = kern.poll_expires();
  REQUIRE(soft.size() == 1);
  CHECK_FALSE(soft[0].hard);
  kern.add_traffic(sa.id(), 100, 1);  // later traffic does not move use_time
  kern.set_time(kT0 + 1120);
  auto hard = kern.poll_expires();
  REQUIRE(hard.size() == 1);
  CHECK(hard[0].hard);

  // A week later, with traffic, the SA without limits is still there.
  for (uint64_t day = 1; day <= 7; ++day) {
    kern.set_time(kT0 + day * 86400);
    kern.add_traffic(out_sa(0x1001).id(), 1 << 30, 1 << 20);
    CHECK(kern.poll_expires().empty());
  }
  CHECK(kern.get_sa(out_sa(0x1001).id()));
}

TEST_CASE("memory kernel: an SPI allocated and never filled goes after 30 s with a hard EXPIRE") {
  k::MemoryKernel kern;
  kern.set_time(kT0);
  k::SpiRequest req = spi_request(ip("192.0.2.2"), ip("192.0.2.1"));
  req.reqid = kReqid;
  auto spi = kern.alloc_spi(req);
  REQUIRE(spi);
  auto larval = *kern.get_sa(k::SaId{ip("192.0.2.1"), *spi, k::Proto::Esp, {}, {}});
  CHECK(larval.larval);
  CHECK(larval.lifetime.hard_add_seconds == k::MemoryKernel::kAcquireExpireSeconds);
  kern.set_time(kT0 + 29);
  CHECK(kern.poll_expires().empty());
  kern.set_time(kT0 + 30);
  auto ex = kern.poll_expires();
  REQUIRE(ex.size() == 1);
  CHECK(ex[0].hard);
  CHECK(ex[0].sa.spi == *spi);
  CHECK(kern.dump_sas()->empty());

  // Filled in time, it lives by its own lifetime.
  kern.set_time(kT0 + 100);
  spi = kern.alloc_spi(req);
  REQUIRE(spi);
  k::SaParams in = out_sa(*spi);
  in.src = ip("192.0.2.2");
  in.dst = ip("192.0.2.1");
  REQUIRE(kern.add_sa(in));
  kern.set_time(kT0 + 1000);
  CHECK(kern.poll_expires().empty());
  CHECK(kern.get_sa(in.id())->counters.add_time == kT0 + 100);
}

TEST_CASE("memory kernel: send: no policy is clear, block holds, allow without template is clear") {
  k::MemoryKernel kern;
  CHECK(kern.send(packet()).fate == Fate::Clear);

  k::PolicyParams block = trap_policy();
  block.action = k::Action::Block;
  REQUIRE(kern.add_policy(block));
  auto held = kern.send(packet());
  CHECK(held.fate == Fate::Held);
  CHECK_FALSE(held.acquire.has_value());
  CHECK_FALSE(held.sa.has_value());
  CHECK(kern.send(packet("192.0.2.99")).fate == Fate::Clear);  // outside the selector

  k::PolicyParams bypass;
  bypass.sel.src = pfx("198.51.100.1/32");
  bypass.sel.dst = pfx("203.0.113.5/32");
  bypass.dir = k::Dir::Out;
  REQUIRE(kern.add_policy(bypass));
  CHECK(kern.send(packet()).fate == Fate::Clear);              // the more specific one
  CHECK(kern.send(packet("203.0.113.6")).fate == Fate::Held);  // only the block matches

  // A lower priority value wins over specificity.
  block.priority = 0;
  bypass.priority = 10;
  REQUIRE(kern.update_policy(bypass));
  CHECK(kern.send(packet()).fate == Fate::Held);
  // In and Fwd policies do not take part.
  REQUIRE(kern.flush_policies());
  k::PolicyParams in = block;
  in.dir = k::Dir::In;
  REQUIRE(kern.add_policy(in));
  CHECK(kern.send(packet()).fate == Fate::Clear);
}

TEST_CASE("memory kernel: a trap without SA holds and acquires once while it is pending") {
  k::MemoryKernel kern;
  auto acquires = kern.subscribe(k::kGroupAcquire);
  REQUIRE(acquires);
  kern.set_time(kT0);
  REQUIRE(kern.add_policy(trap_policy()));

  auto first = kern.send(packet());
  CHECK(first.fate == Fate::Held);
  REQUIRE(first.acquire.has_value());
  const k::AcquireEvent& acq = *first.acquire;
  CHECK(acq.src == ip("192.0.2.1"));  // the template's endpoints
  CHECK(acq.dst == ip("192.0.2.2"));
  CHECK(acq.tmpl == tunnel_tmpl());
  CHECK(acq.policy.same_config(trap_policy()));
  CHECK(acq.sel.src == pfx("198.51.100.1/32"));  // the packet
  CHECK(acq.sel.dst == pfx("203.0.113.5/32"));
  CHECK(acq.sel.proto == IPPROTO_UDP);
  CHECK(acq.sel.sport == 5000);
  CHECK(acq.sel.dport == 4242);
  CHECK(acq.sel.dport_mask == 0xffff);
  CHECK(acq.seq != 0);
  auto published = events_of<k::AcquireEvent>(**acquires);
  REQUIRE(published.size() == 1);
  CHECK(published[0].seq == acq.seq);

  // The kernel's ACQ state: larval, spi 0, the template's reqid and mode.
  auto sas = *kern.dump_sas();
  REQUIRE(sas.size() == 1);
  CHECK(sas[0].larval);
  CHECK(sas[0].spi == 0);
  CHECK(sas[0].reqid == kReqid);
  CHECK(sas[0].mode == k::Mode::Tunnel);

  // More packets, other hosts behind the same tunnel: held, no new ACQUIRE.
  for (const char* dst : {"203.0.113.5", "203.0.113.6", "203.0.113.200"}) {
    auto again = kern.send(packet(dst));
    CHECK(again.fate == Fate::Held);
    CHECK_FALSE(again.acquire.has_value());
  }
  CHECK(events_of<k::AcquireEvent>(**acquires).empty());

  // An SA for the template ends the acquire and carries the traffic.
  kern.set_time(kT0 + 2);
  REQUIRE(kern.add_sa(out_sa(0x1000)));
  CHECK(larval_count(kern) == 0);
  auto sent = kern.send(packet());
  CHECK(sent.fate == Fate::Protected);
  REQUIRE(sent.sa.has_value());
  CHECK(sent.sa->spi == 0x1000);
  CHECK_FALSE(sent.acquire.has_value());
  auto counted = *kern.get_sa(out_sa(0x1000).id());
  CHECK(counted.counters.packets == 1);
  CHECK(counted.counters.bytes == k::MemoryKernel::kBytesPerPacket);
  CHECK(counted.counters.use_time == kT0 + 2);
}

TEST_CASE("memory kernel: a pending acquire ends after 30 s (hard EXPIRE of spi 0) or by flush") {
  k::MemoryKernel kern;
  kern.set_time(kT0);
  REQUIRE(kern.add_policy(trap_policy()));
  auto first = kern.send(packet());
  REQUIRE(first.acquire.has_value());
  kern.set_time(kT0 + 29);
  CHECK_FALSE(kern.send(packet()).acquire.has_value());
  CHECK(kern.poll_expires().empty());

  kern.set_time(kT0 + 30);
  auto ex = kern.poll_expires();
  REQUIRE(ex.size() == 1);  // XFRM announces the ACQ state's end like an SA's
  CHECK(ex[0].hard);
  CHECK(ex[0].sa.spi == 0);
  CHECK(ex[0].sa.reqid == kReqid);
  CHECK(ex[0].sa.sel.dst == pfx("203.0.113.5/32"));
  CHECK(kern.dump_sas()->empty());
  auto second = kern.send(packet());
  REQUIRE(second.acquire.has_value());
  CHECK(second.acquire->seq != first.acquire->seq);

  // Expired but not polled yet: already no longer pending for send().
  kern.set_time(kT0 + 61);
  auto third = kern.send(packet());
  REQUIRE(third.acquire.has_value());
  CHECK(kern.poll_expires().size() == 1);  // the second one's expiry

  REQUIRE(kern.flush_sas());
  CHECK(kern.send(packet()).acquire.has_value());
}

TEST_CASE("memory kernel: a transport template acquires per destination host") {
  k::MemoryKernel kern;
  k::PolicyParams p;
  p.sel.src = pfx("192.0.2.1/32");
  p.sel.dst = pfx("192.0.2.0/24");
  p.dir = k::Dir::Out;
  p.tmpls = {k::Template{{}, {}, 0, k::Proto::Esp, k::Mode::Transport, 9, false}};
  REQUIRE(kern.add_policy(p));
  auto a = kern.send(packet("192.0.2.2", "192.0.2.1"));
  REQUIRE(a.acquire.has_value());
  CHECK(a.acquire->src == ip("192.0.2.1"));  // the packet's addresses
  CHECK(a.acquire->dst == ip("192.0.2.2"));
  CHECK_FALSE(kern.send(packet("192.0.2.2", "192.0.2.1")).acquire.has_value());
  auto b = kern.send(packet("192.0.2.3", "192.0.2.1"));
  REQUIRE(b.acquire.has_value());
  CHECK(b.acquire->dst == ip("192.0.2.3"));

  k::SaParams sa = out_sa(0x2000);
  sa.mode = k::Mode::Transport;
  sa.reqid = 9;
  REQUIRE(kern.add_sa(sa));  // 192.0.2.1 -> 192.0.2.2 only
  CHECK(kern.send(packet("192.0.2.2", "192.0.2.1")).fate == Fate::Protected);
  CHECK(kern.send(packet("192.0.2.3", "192.0.2.1")).fate == Fate::Held);
  CHECK(larval_count(kern) == 1);  // the .3 acquire is still pending
}

TEST_CASE("memory kernel: send prefers a non-dying SA, then the newest; a dying one still works") {
  k::MemoryKernel kern;
  kern.set_time(kT0);
  REQUIRE(kern.add_policy(trap_policy()));
  k::SaParams old_sa = out_sa(0x1000);
  old_sa.lifetime.soft_add_seconds = 100;
  old_sa.lifetime.hard_add_seconds = 200;
  REQUIRE(kern.add_sa(old_sa));
  kern.set_time(kT0 + 100);
  REQUIRE(kern.poll_expires().size() == 1);  // old_sa is dying
  auto dying = kern.send(packet());
  CHECK(dying.fate == Fate::Protected);
  CHECK(dying.sa->spi == 0x1000);

  // The rekeyed SA (added later, not dying) takes over at once.
  kern.set_time(kT0 + 101);
  REQUIRE(kern.add_sa(out_sa(0x1001)));
  CHECK(kern.send(packet()).sa->spi == 0x1001);
  // A third, newer one wins over the second (newest non-dying).
  REQUIRE(kern.add_sa(out_sa(0x1002)));
  CHECK(kern.send(packet()).sa->spi == 0x1002);
  // A dying SA loses to an older non-dying one.
  k::SaParams soon = out_sa(0x1003);
  soon.lifetime.soft_packets = 1;
  REQUIRE(kern.add_sa(soon));
  CHECK(kern.send(packet()).sa->spi == 0x1003);
  REQUIRE(kern.poll_expires().size() == 1);
  CHECK(kern.send(packet()).sa->spi == 0x1002);

  // An SA for another reqid, or whose selector excludes the packet, is no match.
  REQUIRE(kern.flush_sas());
  k::SaParams other = out_sa(0x3000);
  other.reqid = kReqid + 1;
  REQUIRE(kern.add_sa(other));
  k::SaParams narrow = out_sa(0x3001);
  narrow.sel.src = pfx("198.51.100.0/24");
  narrow.sel.dst = pfx("203.0.113.128/25");
  REQUIRE(kern.add_sa(narrow));
  CHECK(kern.send(packet("203.0.113.5")).fate == Fate::Held);
  CHECK(kern.send(packet("203.0.113.200")).sa->spi == 0x3001);
}

TEST_CASE("memory kernel: an SA at its hard limit no longer protects, even before the poll") {
  k::MemoryKernel kern;
  kern.set_time(kT0);
  REQUIRE(kern.add_policy(trap_policy()));
  k::SaParams sa = out_sa(0x1000);
  sa.lifetime.hard_packets = 2;
  REQUIRE(kern.add_sa(sa));
  CHECK(kern.send(packet()).fate == Fate::Protected);
  CHECK(kern.send(packet()).fate == Fate::Protected);
  auto after = kern.send(packet());  // XFRM: the state is expired, not valid
  CHECK(after.fate == Fate::Held);
  CHECK(after.acquire.has_value());
  auto ex = kern.poll_expires();
  REQUIRE(ex.size() == 1);
  CHECK(ex[0].hard);
  CHECK(ex[0].sa.counters.packets == 2);
}

TEST_CASE("memory kernel: alloc_spi with an ACQUIRE's seq gives its state the SPI; add_sa fills") {
  k::MemoryKernel kern;
  kern.set_time(kT0);
  REQUIRE(kern.add_policy(trap_policy()));
  auto acq = kern.send(packet()).acquire;
  REQUIRE(acq.has_value());

  k::SpiRequest req = spi_request(acq->src, acq->dst);
  req.reqid = acq->tmpl.reqid;
  req.seq = acq->seq;
  auto spi = kern.alloc_spi(req);
  REQUIRE(spi);
  auto sas = *kern.dump_sas();
  REQUIRE(sas.size() == 1);  // no second larval state
  CHECK(sas[0].spi == *spi);
  CHECK(sas[0].mode == k::Mode::Tunnel);  // still the acquire's state
  auto again = kern.alloc_spi(req);       // asked again: the same SPI
  REQUIRE(again);
  CHECK(*again == *spi);
  CHECK_FALSE(kern.send(packet()).acquire.has_value());  // still pending

  REQUIRE(kern.add_sa(out_sa(*spi)));
  sas = *kern.dump_sas();
  REQUIRE(sas.size() == 1);
  CHECK_FALSE(sas[0].larval);
  CHECK(kern.send(packet()).fate == Fate::Protected);

  // A seq that names no acquire (or another destination): a new larval state.
  k::SpiRequest stray = spi_request(ip("192.0.2.1"), ip("192.0.2.9"));
  stray.seq = acq->seq;
  REQUIRE(kern.alloc_spi(stray));
  CHECK(larval_count(kern) == 1);
}
