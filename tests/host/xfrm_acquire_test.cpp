// SPDX-License-Identifier: Apache-2.0
// Traps on the real kernel: the ACQUIRE raised when traffic meets a policy
// whose template has no SA, what happens to those packets meanwhile, and the
// life of the kernel's ACQ state (one ACQUIRE while pending, its expiry,
// ALLOCSPI with the ACQUIRE's seq, replaced by the SA). Each case makes its
// own namespace with a veth pair whose ends both stay in it: nothing leaves.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>

#include "common/bytes.h"
#include "host_util.h"
#include "netlink/rtnl.h"

using namespace ipsec;
using namespace ipsec::kernel;
using ipsec::host_test::ip;
using ipsec::host_test::pfx;
using ipsec::host_test::sel;

namespace {

constexpr uint32_t kReqid = 42;
constexpr uint16_t kPort = 4242;

template <class T>
const T* as(const Event& e) {
  return std::get_if<T>(&e);
}

// The trap: 198.51.100.0/24 -> 203.0.113.0/24 out, ESP tunnel 192.0.2.1 -> 192.0.2.2.
PolicyParams trap_policy() {
  PolicyParams p;
  p.sel = sel("198.51.100.0/24", "203.0.113.0/24");
  p.dir = Dir::Out;
  p.tmpls = {
      Template{ip("192.0.2.1"), ip("192.0.2.2"), 0, Proto::Esp, Mode::Tunnel, kReqid, false}};
  return p;
}

// A veth pair in this namespace: "trap0" (198.51.100.1/24, 192.0.2.1/24)
// sends, 203.0.113.0/24 routed through it via 198.51.100.2; "trap1", without
// addresses, is where a packet sent in the clear (or as ESP) lands. ARP is
// off on trap0 (no address answers it; frames go to trap0's own MAC), which
// needs iproute2: without it, `arp_off` is false and the captures are skipped.
struct TrapNet {
  int out_index = 0;
  int peer_index = 0;
  bool arp_off = false;
};

void add_address(netlink::Rtnl& rtnl, int index, const char* addr) {
  auto r = rtnl.add_address(index, ip(addr), 24);
  REQUIRE_MESSAGE(r.has_value(), host_test::why(r));
}

// Empty when the namespace has no veth (then the case skips).
std::optional<TrapNet> trap_net() {
  auto rtnl = netlink::Rtnl::open();
  REQUIRE(rtnl.has_value());
  if (auto made = (*rtnl)->add_veth("trap0", "trap1"); !made) {
    host_test::skip("ACQUIRE traffic", "no veth: " + made.error().message);
    return std::nullopt;
  }
  auto out = (*rtnl)->link("trap0");
  auto peer = (*rtnl)->link("trap1");
  REQUIRE((out.has_value() && peer.has_value()));
  TrapNet net{out->index, peer->index, false};
  if (host_test::have_iproute2()) {
    auto r = host_test::run("ip link set dev trap0 arp off");
    CHECK_MESSAGE(r.status == 0, r.output);
    net.arp_off = r.status == 0;
  }
  if (!net.arp_off) host_test::skip("ACQUIRE captures", "no `ip` to turn ARP off on trap0");
  REQUIRE((*rtnl)->set_up(peer->index, true).has_value());
  REQUIRE((*rtnl)->set_up(out->index, true).has_value());
  add_address(**rtnl, out->index, "198.51.100.1");
  add_address(**rtnl, out->index, "192.0.2.1");
  netlink::Route route{pfx("203.0.113.0/24"), ip("198.51.100.2"), out->index};
  auto routed = (*rtnl)->add_route(route);
  REQUIRE_MESSAGE(routed.has_value(), host_test::why(routed));
  return net;
}

// The result of one sendto: bytes sent or -errno.
ssize_t send_udp(const char* dst) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, "198.51.100.1", &local.sin_addr);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kPort);
  inet_pton(AF_INET, dst, &to.sin_addr);
  ssize_t n = sendto(fd, "hello", 5, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (n < 0) n = -errno;
  close(fd);
  return n;
}

// Frames arriving on one interface (AF_PACKET), counted by what they carry.
class Capture {
 public:
  explicit Capture(int ifindex) {
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    REQUIRE_MESSAGE(fd_ >= 0, "AF_PACKET socket: ", std::strerror(errno));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = ifindex;
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);
  }
  ~Capture() { close(fd_); }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Reads for `ms` (or until `enough` matches) and counts IPv4 packets of
  // protocol `proto` whose destination is in `dst`.
  int count(uint8_t proto, const Prefix& dst, int ms, int enough = 1 << 30) {
    int n = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (n < enough) {  // bounded by the deadline
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      uint8_t frame[2048];
      ssize_t len = recv(fd_, frame, sizeof frame, 0);
      if (len >= 34 && frame[12] == 0x08 && frame[13] == 0x00 && frame[23] == proto) {
        uint32_t to;
        std::memcpy(&to, frame + 30, 4);
        if (dst.contains(IpAddress::v4(ntohl(to)))) ++n;
      }
    }
    return n;
  }

 private:
  int fd_ = -1;
};

// A counter of /proc/net/xfrm_stat (this namespace's), -1 when absent.
long xfrm_stat(const std::string& name) {
  std::ifstream in("/proc/net/xfrm_stat");
  std::string key;
  long value = 0;
  while (in >> key >> value)
    if (key == name) return value;
  return -1;
}

// A per-namespace sysctl under /proc/sys/net/core.
std::string core_sysctl(const char* name) {
  std::ifstream in(std::string("/proc/sys/net/core/") + name);
  std::string v;
  in >> v;
  return v;
}

void set_core_sysctl(const char* name, const char* value) {
  std::ofstream out(std::string("/proc/sys/net/core/") + name);
  out << value;
  out.close();
  REQUIRE_MESSAGE(core_sysctl(name) == value, "cannot set net.core.", name);
}

std::vector<SaParams> larval_states(Kernel& k) {
  auto all = k.dump_sas();
  REQUIRE_MESSAGE(all.has_value(), host_test::why(all));
  std::vector<SaParams> out;
  for (auto& s : *all)
    if (s.larval) out.push_back(s);
  return out;
}

// Sends to `dst` and returns the one ACQUIRE it raises.
AcquireEvent first_acquire(EventSource& src, const char* dst) {
  ssize_t sent = send_udp(dst);
  CHECK_MESSAGE(sent == 5, "sendto: ", sent);
  auto events = host_test::wait_events(src, 1);
  REQUIRE_MESSAGE(events.size() == 1, "no ACQUIRE from the kernel");
  const auto* acq = as<AcquireEvent>(events[0]);
  REQUIRE(acq != nullptr);
  return *acq;
}

// An AES-GCM tunnel SA 192.0.2.1 -> 192.0.2.2 for the trap's template.
SaParams tunnel_sa(uint32_t spi) {
  SaParams sa;
  sa.src = ip("192.0.2.1");
  sa.dst = ip("192.0.2.2");
  sa.spi = spi;
  sa.mode = Mode::Tunnel;
  sa.reqid = kReqid;
  sa.aead = Algorithm{"rfc4106(gcm(aes))", SecretBytes(Bytes(20, 0x42)), 128};
  sa.replay_window = 32;
  return sa;
}

}  // namespace

// (larval_drop=1, the default) The first datagram raises one ACQUIRE and
// leaves an ACQ state; sendto succeeds, the packet goes to a blackhole
// (XfrmOutNoStates); later datagrams under the same template, to any host,
// raise nothing more. A capture on the veth peer shows nothing in the clear,
// where the same datagram before the policy existed did arrive.
TEST_CASE("acquire: a trap holds UDP to 203.0.113.0/24, asks once, nothing goes in the clear") {
  host_test::fresh_netns();
  auto net = trap_net();
  if (!net) return;
  set_core_sysctl("xfrm_larval_drop", "1");
  auto k = host_test::open_kernel();
  Capture cap(net->peer_index);
  const Prefix protected_net = pfx("203.0.113.0/24");

  // The control: without the policy the datagram arrives in the clear.
  CHECK(send_udp("203.0.113.9") == 5);
  if (net->arp_off)
    REQUIRE_MESSAGE(cap.count(IPPROTO_UDP, protected_net, 3000, 1) == 1,
                    "the capture misses a clear datagram: the check below would prove nothing");

  auto src = k->subscribe(kGroupAcquire);
  REQUIRE_MESSAGE(src.has_value(), host_test::why(src));
  PolicyParams p = trap_policy();
  REQUIRE(k->add_policy(p).has_value());
  long no_states = xfrm_stat("XfrmOutNoStates");

  AcquireEvent acq = first_acquire(**src, "203.0.113.5");
  CHECK(acq.tmpl == p.tmpls[0]);
  CHECK(acq.tmpl.reqid == kReqid);
  CHECK(acq.policy.same_config(p));
  CHECK(acq.policy.sel == p.sel);
  CHECK(acq.src == ip("192.0.2.1"));
  CHECK(acq.dst == ip("192.0.2.2"));
  CHECK(acq.sel.src == pfx("198.51.100.1/32"));
  CHECK(acq.sel.dst == pfx("203.0.113.5/32"));
  CHECK(acq.sel.proto == IPPROTO_UDP);
  CHECK(acq.sel.dport == kPort);
  CHECK(acq.seq != 0);

  // Pending: more datagrams, to the same and other hosts, raise nothing.
  for (const char* dst : {"203.0.113.5", "203.0.113.6", "203.0.113.5", "203.0.113.200"})
    CHECK_MESSAGE(send_udp(dst) == 5, "sendto ", dst);
  CHECK(host_test::wait_events(**src, 1, 1000).empty());
  if (net->arp_off) CHECK(cap.count(IPPROTO_UDP, protected_net, 500) == 0);
  if (no_states >= 0)
    CHECK(xfrm_stat("XfrmOutNoStates") - no_states == 5);
  else
    host_test::skip("XfrmOutNoStates", "no /proc/net/xfrm_stat (CONFIG_XFRM_STATISTICS)");

  // The ACQ state: larval, spi 0, the template's reqid and mode, the packet's
  // selector, and net.core.xfrm_acq_expires seconds to live.
  auto acqs = larval_states(*k);
  REQUIRE(acqs.size() == 1);
  CHECK(acqs[0].spi == 0);
  CHECK(acqs[0].reqid == kReqid);
  CHECK(acqs[0].mode == Mode::Tunnel);
  CHECK(acqs[0].sel.dst == pfx("203.0.113.5/32"));
  CHECK(std::to_string(acqs[0].lifetime.hard_add_seconds) == core_sysctl("xfrm_acq_expires"));
}

// Without a listener on the ACQUIRE group the kernel keeps no ACQ state
// (xfrm_state_find: km_is_alive) and drops every packet; once the daemon
// listens, the next packet asks.
TEST_CASE("acquire: with nobody listening, packets are dropped and nothing is pending") {
  host_test::fresh_netns();
  auto net = trap_net();
  if (!net) return;
  auto k = host_test::open_kernel();
  Capture cap(net->peer_index);
  REQUIRE(k->add_policy(trap_policy()).has_value());
  long no_states = xfrm_stat("XfrmOutNoStates");
  for (int i = 0; i < 3; ++i) CHECK(send_udp("203.0.113.5") == 5);
  if (net->arp_off) CHECK(cap.count(IPPROTO_UDP, pfx("203.0.113.0/24"), 500) == 0);
  CHECK(k->dump_sas()->empty());
  if (no_states >= 0) CHECK(xfrm_stat("XfrmOutNoStates") - no_states == 3);

  auto src = k->subscribe(kGroupAcquire);
  REQUIRE(src.has_value());
  AcquireEvent acq = first_acquire(**src, "203.0.113.5");
  CHECK(acq.tmpl.reqid == kReqid);
}

// With net.core.xfrm_larval_drop=0 the kernel queues the packets of a
// pending ACQUIRE instead of dropping them: sendto still succeeds, nothing
// goes out in the clear, and XfrmOutNoStates does not move.
TEST_CASE("acquire: with xfrm_larval_drop=0 packets wait (not dropped, not in the clear)") {
  host_test::fresh_netns();
  auto net = trap_net();
  if (!net) return;
  set_core_sysctl("xfrm_larval_drop", "0");
  auto k = host_test::open_kernel();
  Capture cap(net->peer_index);
  auto src = k->subscribe(kGroupAcquire);
  REQUIRE(src.has_value());
  REQUIRE(k->add_policy(trap_policy()).has_value());
  long no_states = xfrm_stat("XfrmOutNoStates");
  first_acquire(**src, "203.0.113.5");
  CHECK(send_udp("203.0.113.5") == 5);
  CHECK(host_test::wait_events(**src, 1, 500).empty());
  if (net->arp_off) CHECK(cap.count(IPPROTO_UDP, pfx("203.0.113.0/24"), 500) == 0);
  if (no_states >= 0) CHECK(xfrm_stat("XfrmOutNoStates") == no_states);
}

// The ACQ state lives net.core.xfrm_acq_expires seconds (30 by default),
// then goes with a hard EXPIRE of spi 0; the next packet asks again, with a
// new seq. A larval state from ALLOCSPI has the same lifetime and ends the
// same way, with its SPI in the EXPIRE.
TEST_CASE("acquire: the ACQ state and an unused ALLOCSPI state expire after xfrm_acq_expires") {
  host_test::fresh_netns();
  auto net = trap_net();
  if (!net) return;
  set_core_sysctl("xfrm_acq_expires", "1");
  auto k = host_test::open_kernel();
  auto src = k->subscribe(kGroupAcquire | kGroupExpire);
  REQUIRE(src.has_value());
  REQUIRE(k->add_policy(trap_policy()).has_value());
  AcquireEvent first = first_acquire(**src, "203.0.113.5");
  SpiRequest req;
  req.src = ip("192.0.2.2");
  req.dst = ip("192.0.2.1");
  req.reqid = kReqid;
  auto spi = k->alloc_spi(req);
  REQUIRE_MESSAGE(spi.has_value(), host_test::why(spi));

  // The timers tick in whole seconds and run late on a busy (TCG) machine.
  auto events = host_test::wait_events(**src, 2, 10000);
  REQUIRE(events.size() == 2);
  bool acq_gone = false, spi_gone = false;
  for (const auto& e : events) {
    const auto* ex = as<ExpireEvent>(e);
    REQUIRE(ex != nullptr);
    CHECK(ex->hard);
    if (ex->sa.spi == 0) {
      acq_gone = true;
      CHECK(ex->sa.reqid == kReqid);
      CHECK(ex->sa.mode == Mode::Tunnel);
      CHECK(ex->sa.dst == ip("192.0.2.2"));
      CHECK(ex->sa.sel.dst == pfx("203.0.113.5/32"));
    } else {
      spi_gone = ex->sa.spi == *spi && ex->sa.dst == ip("192.0.2.1");
    }
  }
  CHECK(acq_gone);
  CHECK(spi_gone);
  CHECK(k->dump_sas()->empty());

  AcquireEvent second = first_acquire(**src, "203.0.113.5");
  CHECK(second.seq != first.seq);
  CHECK(second.tmpl.reqid == kReqid);
}

// ALLOCSPI carrying the ACQUIRE's seq gives the ACQ state the SPI
// (xfrm_alloc_userspi, xfrm_find_acq_byseq): still one state, still the
// template's reqid and tunnel mode, still pending. Without the seq, our
// ALLOCSPI (mode transport) makes a separate larval state.
TEST_CASE("acquire: ALLOCSPI with the acquire's seq turns the ACQ state into the larval SA") {
  host_test::fresh_netns();
  auto net = trap_net();
  if (!net) return;
  auto k = host_test::open_kernel();
  auto src = k->subscribe(kGroupAcquire);
  REQUIRE(src.has_value());
  REQUIRE(k->add_policy(trap_policy()).has_value());
  AcquireEvent acq = first_acquire(**src, "203.0.113.5");

  SpiRequest req;
  req.src = acq.src;
  req.dst = acq.dst;
  req.reqid = acq.tmpl.reqid;
  req.seq = acq.seq;
  req.min = 0x1000;
  req.max = 0x1fff;
  auto spi = k->alloc_spi(req);
  REQUIRE_MESSAGE(spi.has_value(), host_test::why(spi));
  auto states = larval_states(*k);
  REQUIRE(states.size() == 1);
  CHECK(states[0].spi == *spi);
  CHECK(states[0].reqid == kReqid);
  CHECK(states[0].mode == Mode::Tunnel);
  CHECK(states[0].sel.dst == pfx("203.0.113.5/32"));  // the ACQ state's selector
  auto again = k->alloc_spi(req);                     // the state has an SPI: the kernel returns it
  REQUIRE(again.has_value());
  CHECK(*again == *spi);
  CHECK(send_udp("203.0.113.5") == 5);
  CHECK(host_test::wait_events(**src, 1, 500).empty());  // still pending

  req.seq = 0;
  auto other = k->alloc_spi(req);
  REQUIRE(other.has_value());
  CHECK(*other != *spi);
  states = larval_states(*k);
  REQUIRE(states.size() == 2);
  CHECK(std::count_if(states.begin(), states.end(),
                      [](const SaParams& s) { return s.mode == Mode::Transport; }) == 1);
}

TEST_SUITE("real-sa") {
  // (needs ESP) The SA for an ACQUIRE, on the SPI from ALLOCSPI with its seq:
  // add_sa (NEWSA: EEXIST, then UPDSA) replaces the ACQ state; the trap then
  // protects: the datagram leaves as ESP to 192.0.2.2 and is counted on the SA.
  TEST_CASE(
      "real-sa: acquire, ALLOCSPI with its seq, add_sa: no ACQ state left, traffic protected") {
    host_test::fresh_netns();
    auto net = trap_net();
    if (!net) return;
    auto k = host_test::open_kernel();
    auto src = k->subscribe(kGroupAcquire);
    REQUIRE(src.has_value());
    REQUIRE(k->add_policy(trap_policy()).has_value());
    AcquireEvent acq = first_acquire(**src, "203.0.113.5");
    SpiRequest req;
    req.src = acq.src;
    req.dst = acq.dst;
    req.reqid = acq.tmpl.reqid;
    req.seq = acq.seq;
    auto spi = k->alloc_spi(req);
    REQUIRE_MESSAGE(spi.has_value(), host_test::why(spi));
    auto added = k->add_sa(tunnel_sa(*spi));
    REQUIRE_MESSAGE(added.has_value(), host_test::why(added));

    CHECK(larval_states(*k).empty());
    auto all = k->dump_sas();
    REQUIRE(all.has_value());
    CHECK(all->size() == 1);
    auto shown = host_test::run("ip xfrm state list");
    CHECK_MESSAGE(shown.output.find("spi 0x00000000") == std::string::npos, shown.output);
    CHECK_MESSAGE(shown.output.find("aead rfc4106(gcm(aes))") != std::string::npos, shown.output);

    Capture cap(net->peer_index);
    CHECK(send_udp("203.0.113.5") == 5);
    if (net->arp_off) {
      CHECK(cap.count(IPPROTO_ESP, pfx("192.0.2.2/32"), 3000, 1) == 1);
      CHECK(cap.count(IPPROTO_UDP, pfx("203.0.113.0/24"), 300) == 0);
    }
    auto sa = k->get_sa(tunnel_sa(*spi).id());
    REQUIRE(sa.has_value());
    CHECK(sa->counters.packets == 1);
    CHECK(host_test::wait_events(**src, 1, 300).empty());
  }

  // (needs ESP) Without ALLOCSPI (the peer chose the outbound SPI): NEWSA of an
  // SA with the ACQ state's reqid, mode and addresses deletes the ACQ state
  // (xfrm_state_add, __find_acq_core).
  TEST_CASE("real-sa: acquire, then add_sa of the peer's SPI: the ACQ state is gone") {
    host_test::fresh_netns();
    auto net = trap_net();
    if (!net) return;
    auto k = host_test::open_kernel();
    auto src = k->subscribe(kGroupAcquire);
    REQUIRE(src.has_value());
    REQUIRE(k->add_policy(trap_policy()).has_value());
    first_acquire(**src, "203.0.113.5");
    REQUIRE(larval_states(*k).size() == 1);
    auto added = k->add_sa(tunnel_sa(0x5000));
    REQUIRE_MESSAGE(added.has_value(), host_test::why(added));
    CHECK(larval_states(*k).empty());
    CHECK(k->dump_sas()->size() == 1);
    auto shown = host_test::run("ip xfrm state list");
    CHECK_MESSAGE(shown.output.find("spi 0x00000000") == std::string::npos, shown.output);
  }

}  // TEST_SUITE
