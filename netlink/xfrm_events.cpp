// SPDX-License-Identifier: Apache-2.0
// Reads and parses XFRM multicast events (linux/xfrm.h, enum xfrm_nlgroups).
#include "netlink/xfrm_events.h"

#include <libmnl/libmnl.h>
#include <linux/xfrm.h>

#include <cerrno>

#include "common/secret.h"
#include "netlink/xfrm_codec.h"
#include "netlink/xfrm_socket.h"

namespace ipsec::netlink {

namespace {

using namespace ipsec::kernel;

constexpr size_t kRxBytes = 64 * 1024;
constexpr int kMaxDatagramsPerRead = 1024;

// POLEXPIRE is sent on XFRMNLGRP_EXPIRE, FLUSH* on the SA/POLICY groups.
std::vector<unsigned> kernel_groups(uint32_t groups) {
  std::vector<unsigned> out;
  if (groups & kGroupAcquire) out.push_back(XFRMNLGRP_ACQUIRE);
  if (groups & (kGroupExpire | kGroupPolExpire)) out.push_back(XFRMNLGRP_EXPIRE);
  if (groups & kGroupSa) out.push_back(XFRMNLGRP_SA);
  if (groups & kGroupPolicy) out.push_back(XFRMNLGRP_POLICY);
  if (groups & kGroupMapping) out.push_back(XFRMNLGRP_MAPPING);
  return out;
}

// Which of our groups a message type belongs to; 0 for types not reported.
uint32_t group_of(uint16_t type) {
  switch (type) {
    case XFRM_MSG_ACQUIRE:
      return kGroupAcquire;
    case XFRM_MSG_EXPIRE:
      return kGroupExpire;
    case XFRM_MSG_POLEXPIRE:
      return kGroupPolExpire;
    case XFRM_MSG_NEWSA:
    case XFRM_MSG_UPDSA:
    case XFRM_MSG_DELSA:
    case XFRM_MSG_FLUSHSA:
      return kGroupSa;
    case XFRM_MSG_NEWPOLICY:
    case XFRM_MSG_UPDPOLICY:
    case XFRM_MSG_DELPOLICY:
    case XFRM_MSG_FLUSHPOLICY:
      return kGroupPolicy;
    case XFRM_MSG_MAPPING:
      return kGroupMapping;
    default:
      return 0;
  }
}

}  // namespace

XfrmEventSource::XfrmEventSource(std::unique_ptr<NlSocket> sock, uint32_t groups)
    : sock_(std::move(sock)), groups_(groups), rx_(kRxBytes) {}

XfrmEventSource::~XfrmEventSource() = default;

Result<std::unique_ptr<XfrmEventSource>> XfrmEventSource::open(uint32_t groups) {
  auto sock = NlSocket::open(NETLINK_XFRM);
  if (!sock) return fail("subscribing to XFRM events: " + sock.error().message, sock.error().code);
  for (unsigned g : kernel_groups(groups)) {
    auto r = (*sock)->join_group(g);
    if (!r) return fail("subscribing to XFRM events: " + r.error().message, r.error().code);
  }
  return std::unique_ptr<XfrmEventSource>(new XfrmEventSource(std::move(*sock), groups));
}

int XfrmEventSource::fd() const { return sock_->fd(); }

Result<std::vector<Event>> XfrmEventSource::read() {
  std::vector<Event> out;
  if (overflow_pending_) {
    overflow_pending_ = false;
    return fail("XFRM events were lost: " + cause_text(ENOBUFS, "the event queue overflowed"),
                ENOBUFS);
  }
  for (int i = 0; i < kMaxDatagramsPerRead; ++i) {
    auto n = sock_->receive_now(rx_);
    if (!n) {
      if (n.error().code != ENOBUFS || out.empty())
        return fail("reading XFRM events: " + cause_text(n.error().code, {}), n.error().code);
      overflow_pending_ = true;
      break;
    }
    if (*n == 0) break;
    take(std::span<const uint8_t>(rx_.data(), *n), out);
    secure_wipe(rx_.data(), *n);  // SA events carry keys
  }
  return out;
}

// One datagram may hold several messages; each is parsed on its own and a
// malformed one is counted and skipped.
void XfrmEventSource::take(std::span<const uint8_t> datagram, std::vector<Event>& out) {
  int len = static_cast<int>(datagram.size());
  for (auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data()); message_ok(nlh, len);
       nlh = mnl_nlmsg_next(nlh, &len)) {
    if ((group_of(nlh->nlmsg_type) & groups_) == 0) continue;
    auto ev = parse_event(nlh);
    if (!ev) {
      ++malformed_;
      continue;
    }
    if (*ev) out.push_back(std::move(**ev));
  }
}

}  // namespace ipsec::netlink
