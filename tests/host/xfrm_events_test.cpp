// SPDX-License-Identifier: Apache-2.0
// Events from the XFRM multicast groups: policy and SA changes, ACQUIRE.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_util.h"
#include "netlink/rtnl.h"

using namespace ipsec;
using namespace ipsec::kernel;
using ipsec::host_test::ip;
using ipsec::host_test::sel;

namespace {

template <class T>
const T* as(const Event& e) {
  return std::get_if<T>(&e);
}

PolicyParams trap_policy() {
  PolicyParams p;
  p.sel = sel("192.0.2.1/32", "192.0.2.2/32", IPPROTO_UDP);
  p.dir = Dir::Out;
  p.tmpls = {Template{ip("192.0.2.1"), ip("192.0.2.2"), 0, Proto::Esp, Mode::Tunnel, 7, false}};
  return p;
}

void send_udp(const char* src, const char* dst, uint16_t port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, src, &local.sin_addr);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, dst, &to.sin_addr);
  // The kernel holds or drops the packet while it asks for an SA; the
  // result of sendto does not matter here.
  (void)sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  close(fd);
}

}  // namespace

TEST_CASE("events: NEWPOLICY, UPDPOLICY, DELPOLICY and FLUSHPOLICY arrive parsed") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  auto src = k->subscribe(kGroupPolicy);
  REQUIRE_MESSAGE(src.has_value(), host_test::why(src));
  PolicyParams p = trap_policy();
  REQUIRE(k->add_policy(p).has_value());
  p.priority = 9;
  REQUIRE(k->update_policy(p).has_value());
  REQUIRE(k->delete_policy(p.id()).has_value());
  REQUIRE(k->add_policy(p).has_value());
  REQUIRE(k->flush_policies().has_value());
  auto events = host_test::wait_events(**src, 5);
  REQUIRE(events.size() == 5);

  const auto* added = as<PolicyChangeEvent>(events[0]);
  REQUIRE(added != nullptr);
  CHECK(added->kind == ChangeKind::New);
  REQUIRE(added->policy.has_value());
  PolicyParams first = trap_policy();
  CHECK(added->policy->same_config(first));

  const auto* updated = as<PolicyChangeEvent>(events[1]);
  REQUIRE(updated != nullptr);
  CHECK(updated->kind == ChangeKind::Update);
  CHECK(updated->policy->priority == 9);

  const auto* deleted = as<PolicyChangeEvent>(events[2]);
  REQUIRE(deleted != nullptr);
  CHECK(deleted->kind == ChangeKind::Delete);
  REQUIRE(deleted->id.has_value());
  CHECK(*deleted->id == p.id());
  REQUIRE(deleted->policy.has_value());
  CHECK(deleted->policy->same_config(p));

  const auto* flushed = as<PolicyChangeEvent>(events[4]);
  REQUIRE(flushed != nullptr);
  CHECK(flushed->kind == ChangeKind::Flush);
}

TEST_CASE("events: deleting a larval SA and flushing SAs are announced; others filtered") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  auto src = k->subscribe(kGroupSa);
  REQUIRE(src.has_value());
  SpiRequest req;
  req.src = ip("192.0.2.1");
  req.dst = ip("192.0.2.2");
  auto spi = k->alloc_spi(req);
  REQUIRE(spi.has_value());
  req.dst = ip("192.0.2.3");
  REQUIRE(k->alloc_spi(req).has_value());             // ALLOCSPI itself is not announced
  REQUIRE(k->add_policy(trap_policy()).has_value());  // not subscribed: filtered
  REQUIRE(k->delete_sa(SaId{ip("192.0.2.2"), *spi, Proto::Esp, {}, {}}).has_value());
  // The kernel announces a flush only when it removed something (the other
  // larval state here): an empty table flushes silently.
  REQUIRE(k->flush_sas().has_value());
  auto events = host_test::wait_events(**src, 2);
  REQUIRE(events.size() == 2);
  const auto* del = as<SaChangeEvent>(events[0]);
  REQUIRE(del != nullptr);
  CHECK(del->kind == ChangeKind::Delete);
  REQUIRE(del->id.has_value());
  CHECK(del->id->spi == *spi);
  CHECK(del->id->dst == ip("192.0.2.2"));
  REQUIRE(del->sa.has_value());
  CHECK(del->sa->src == req.src);
  const auto* flush = as<SaChangeEvent>(events[1]);
  REQUIRE(flush != nullptr);
  CHECK(flush->kind == ChangeKind::Flush);
  CHECK(flush->flush_proto == 0);
}

TEST_CASE("events: traffic hitting a policy without SA raises ACQUIRE (no ESP needed)") {
  host_test::fresh_netns();
  auto rtnl = netlink::Rtnl::open();
  REQUIRE(rtnl.has_value());
  // Not on lo: loopback routes carry DST_NOXFRM (lo has disable_xfrm=1), so
  // no policy lookup happens there. A veth pair, both ends up.
  auto made = (*rtnl)->add_veth("acq0", "acq1");
  if (!made) return host_test::skip("ACQUIRE", "no veth: " + made.error().message);
  auto dev = (*rtnl)->link("acq0");
  auto peer = (*rtnl)->link("acq1");
  REQUIRE((dev.has_value() && peer.has_value()));
  REQUIRE((*rtnl)->set_up(peer->index, true).has_value());
  REQUIRE((*rtnl)->set_up(dev->index, true).has_value());
  REQUIRE((*rtnl)->add_address(dev->index, ip("192.0.2.1"), 24).has_value());
  auto k = host_test::open_kernel();
  auto src = k->subscribe(kGroupAcquire);
  REQUIRE(src.has_value());
  PolicyParams p = trap_policy();
  p.sel.dport = 4242;
  p.sel.dport_mask = 0xffff;
  REQUIRE(k->add_policy(p).has_value());

  send_udp("192.0.2.1", "192.0.2.2", 4242);
  auto events = host_test::wait_events(**src, 1);
  REQUIRE_MESSAGE(events.size() == 1, "no ACQUIRE from the kernel");
  const auto* acq = as<AcquireEvent>(events[0]);
  REQUIRE(acq != nullptr);
  CHECK(acq->src == ip("192.0.2.1"));
  CHECK(acq->dst == ip("192.0.2.2"));
  CHECK(acq->sel.src == Prefix::host(ip("192.0.2.1")));
  CHECK(acq->sel.dst == Prefix::host(ip("192.0.2.2")));
  CHECK(acq->sel.proto == IPPROTO_UDP);
  CHECK(acq->sel.dport == 4242);
  CHECK(acq->sel.dport_mask == 0xffff);
  CHECK(acq->sel.sport != 0);  // the packet's ephemeral port
  CHECK(acq->sel.ifindex == dev->index);
  CHECK(acq->tmpl == p.tmpls[0]);
  CHECK(acq->policy.same_config(p));
  CHECK(acq->policy.index != 0);
  CHECK(acq->seq != 0);

  // The kernel keeps a larval (acquire) state while it waits for the SA.
  auto sas = k->dump_sas();
  REQUIRE(sas.has_value());
  REQUIRE(sas->size() == 1);
  CHECK(sas->front().larval);
  CHECK(sas->front().reqid == 7);
}

TEST_CASE("events: a policy's soft and hard time limits raise POLEXPIRE, then it is gone") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  auto src = k->subscribe(kGroupPolExpire);
  REQUIRE(src.has_value());
  PolicyParams p = trap_policy();
  p.lifetime.soft_add_seconds = 1;
  p.lifetime.hard_add_seconds = 2;
  REQUIRE(k->add_policy(p).has_value());
  // The kernel's lifetime timers tick in whole seconds (the hard one may land
  // near 3 s); under qemu TCG on a busy host they run late: allow 10 s.
  auto events = host_test::wait_events(**src, 2, 10000);
  REQUIRE(events.size() == 2);
  const auto* soft = as<PolExpireEvent>(events[0]);
  const auto* hard = as<PolExpireEvent>(events[1]);
  REQUIRE((soft != nullptr && hard != nullptr));
  CHECK_FALSE(soft->hard);
  CHECK(hard->hard);
  CHECK(hard->policy.same_config(p));
  CHECK(k->dump_policies()->empty());
}
