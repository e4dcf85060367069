// SPDX-License-Identifier: Apache-2.0
// A netlink socket over libmnl: requests with acks, dumps, batches sent with
// one send() and their acks read back with recvmmsg(), multicast groups.
#include "netlink/xfrm_socket.h"

#include <libmnl/libmnl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/secret.h"
#include "netlink/xfrm_codec.h"

namespace ipsec::netlink {

namespace {

constexpr size_t kRxBytes = 64 * 1024;  // dumps come in skbs of at most 32 KiB
constexpr int kSndBuf = 4 * 1024 * 1024;
constexpr int kRcvBuf = 32 * 1024 * 1024;
constexpr size_t kMaxBatchBytes = 256 * 1024;
// Receive-buffer accounting charges each ack skb's truesize, about 1 KiB
// for a capped ack (NETLINK_CAP_ACK); keep a margin for extended acks.
constexpr size_t kAckCharge = 2048;
constexpr size_t kAckSlot = 512;  // one ack per slot; an extack fits easily
constexpr size_t kAckSlots = 256;

void set_int_option(int fd, int level, int name, int value) {
  (void)setsockopt(fd, level, name, &value, sizeof value);
}

int get_int_option(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof value;
  return getsockopt(fd, level, name, &value, &len) == 0 ? value : 0;
}

// SO_*BUFFORCE needs CAP_NET_ADMIN; without it fall back to the capped size.
void raise_buffer(int fd, int force_name, int name, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_name, &bytes, sizeof bytes) != 0)
    set_int_option(fd, SOL_SOCKET, name, bytes);
}

struct RequestCtx {
  const NlSocket::Handler* handler = nullptr;
  bool finished = false;
  bool failed = false;
  Error error;
};

int data_cb(const nlmsghdr* nlh, void* data) {
  auto& ctx = *static_cast<RequestCtx*>(data);
  if (ctx.handler == nullptr || !*ctx.handler) return MNL_CB_OK;
  auto r = (*ctx.handler)(nlh);
  if (r) return MNL_CB_OK;
  ctx.failed = true;
  ctx.error = std::move(r.error());
  return MNL_CB_ERROR;
}

int error_cb(const nlmsghdr* nlh, void* data) {
  auto& ctx = *static_cast<RequestCtx*>(data);
  Ack ack;
  ctx.finished = true;
  if (!parse_ack(nlh, nlh->nlmsg_len, ack)) {
    ctx.failed = true;
    ctx.error = Error{"malformed netlink acknowledgement", EBADMSG};
    return MNL_CB_ERROR;
  }
  if (ack.error == 0) return MNL_CB_STOP;
  ctx.failed = true;
  ctx.error = Error{std::string(ack.extack), ack.error};
  return MNL_CB_ERROR;
}

// NLMSG_DONE may carry the dump's error as an int (netlink_dump_done).
int done_cb(const nlmsghdr* nlh, void* data) {
  auto& ctx = *static_cast<RequestCtx*>(data);
  ctx.finished = true;
  int err = 0;
  if (mnl_nlmsg_get_payload_len(nlh) >= sizeof err)
    std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
  if (err == 0) return MNL_CB_STOP;
  ctx.failed = true;
  ctx.error = Error{std::string(), err < 0 ? -err : err};
  return MNL_CB_ERROR;
}

int overrun_cb(const nlmsghdr*, void* data) {
  auto& ctx = *static_cast<RequestCtx*>(data);
  ctx.failed = true;
  ctx.error = Error{"netlink overrun", EIO};
  return MNL_CB_ERROR;
}

const mnl_cb_t kCtl[NLMSG_MIN_TYPE] = {nullptr, nullptr, error_cb, done_cb, overrun_cb};

}  // namespace

std::string cause_text(int code, std::string_view extack) {
  const char* name = strerrorname_np(code);
  std::string out = extack.empty() ? std::string(std::strerror(code)) : std::string(extack);
  if (name != nullptr) return out + " (" + name + ")";
  return out + " (errno " + std::to_string(code) + ")";
}

// struct nlmsgerr, then (NETLINK_EXT_ACK) attributes; they follow the echoed
// request unless the ack was capped (NLM_F_CAPPED), see linux/netlink.h.
bool parse_ack(const nlmsghdr* nlh, size_t avail, Ack& out) {
  size_t len = std::min<size_t>(nlh->nlmsg_len, avail);
  if (len < MNL_NLMSG_HDRLEN + sizeof(nlmsgerr)) return false;
  nlmsgerr err;
  std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
  out.seq = nlh->nlmsg_seq;
  out.error = err.error < 0 ? -err.error : err.error;
  out.extack = {};
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return true;
  size_t off = MNL_NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
    if (err.msg.nlmsg_len < MNL_NLMSG_HDRLEN) return true;
    off += err.msg.nlmsg_len - MNL_NLMSG_HDRLEN;
  }
  const auto* base = reinterpret_cast<const uint8_t*>(nlh);
  for (size_t at = MNL_ALIGN(off); at + MNL_ATTR_HDRLEN <= len;) {
    const auto* attr = reinterpret_cast<const nlattr*>(base + at);
    if (!mnl_attr_ok(attr, static_cast<int>(len - at))) break;
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG) {
      const char* s = static_cast<const char*>(mnl_attr_get_payload(attr));
      out.extack = std::string_view(s, strnlen(s, mnl_attr_get_payload_len(attr)));
    }
    at += MNL_ALIGN(attr->nla_len);
  }
  return true;
}

NlSocket::NlSocket(mnl_socket* sock, uint32_t portid)
    : sock_(sock), portid_(portid), rx_(kRxBytes), ack_rx_(kAckSlot * kAckSlots) {}

NlSocket::~NlSocket() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

Result<std::unique_ptr<NlSocket>> NlSocket::open(int bus) {
  mnl_socket* s = mnl_socket_open2(bus, SOCK_CLOEXEC);
  if (s == nullptr) return fail("opening netlink socket: " + cause_text(errno, {}), errno);
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    mnl_socket_close(s);
    return fail("binding netlink socket: " + cause_text(e, {}), e);
  }
  std::unique_ptr<NlSocket> sock(new NlSocket(s, mnl_socket_get_portid(s)));
  sock->size_buffers();
  return sock;
}

int NlSocket::fd() const { return mnl_socket_get_fd(sock_); }

// Extended acks name the cause; capped acks do not echo whole requests.
// A receive timeout keeps a lost reply from hanging the caller forever.
void NlSocket::size_buffers() {
  int fd = this->fd();
  set_int_option(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
  set_int_option(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
  raise_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, kSndBuf);
  raise_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, kRcvBuf);
  timeval tv{10, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t snd = static_cast<size_t>(get_int_option(fd, SOL_SOCKET, SO_SNDBUF));
  size_t rcv = static_cast<size_t>(get_int_option(fd, SOL_SOCKET, SO_RCVBUF));
  // netlink_sendmsg refuses a message above sk_sndbuf - 32.
  max_batch_bytes_ = std::min(kMaxBatchBytes, snd > 4096 ? snd - 1024 : 4096);
  max_batch_messages_ = std::max<size_t>(16, rcv / kAckCharge);
}

Result<void> NlSocket::join_group(unsigned group) {
  int g = static_cast<int>(group);
  if (mnl_socket_setsockopt(sock_, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) < 0)
    return fail("joining netlink group " + std::to_string(group) + ": " + cause_text(errno, {}),
                errno);
  return ok();
}

Result<void> NlSocket::request(nlmsghdr* nlh, const Handler& handler, bool wipe) {
  nlh->nlmsg_seq = ++seq_;
  uint32_t seq = nlh->nlmsg_seq;
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) return fail(std::string(), errno);
  RequestCtx ctx;
  ctx.handler = &handler;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, rx_.data(), rx_.size());
    if (n < 0) {
      int e = errno == EAGAIN ? ETIMEDOUT : errno;
      return fail(e == ETIMEDOUT ? "no reply from the kernel" : "", e);
    }
    // libmnl 1.0.4 declares the control array non-const but only reads it.
    int ret = mnl_cb_run2(rx_.data(), static_cast<size_t>(n), seq, portid_, data_cb, &ctx,
                          const_cast<mnl_cb_t*>(kCtl), NLMSG_MIN_TYPE);
    int e = errno;
    if (wipe) secure_wipe(rx_.data(), static_cast<size_t>(n));
    if (ret == MNL_CB_STOP && !ctx.failed) return ok();
    if (ret >= MNL_CB_OK && !ctx.failed) continue;
    if (!ctx.failed) ctx.error = Error{std::string(), e};  // mnl: seq, portid, DUMP_INTR
    if (!ctx.finished) (void)drain(seq);
    return fail(std::move(ctx.error));
  }
}

// Reads the rest of an abandoned reply (a dump stopped by an error), so the
// next request starts on a clean socket.
Result<void> NlSocket::drain(uint32_t seq) {
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, rx_.data(), rx_.size());
    if (n < 0) return fail(std::string(), errno);
    int len = static_cast<int>(n);
    bool done = false;
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data()); message_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_seq == seq &&
          (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR))
        done = true;
    }
    secure_wipe(rx_.data(), static_cast<size_t>(n));
    if (done) return ok();
  }
}

}  // namespace ipsec::netlink

namespace ipsec::netlink {

// The kernel handles XFRM requests synchronously inside send() and queues one
// ack per message (netlink_rcv_skb), so after send() returns every ack is
// either waiting or was dropped for lack of receive buffer (then the next
// read fails with ENOBUFS).
NlSocket::BatchOutcome NlSocket::send_batch(std::span<uint8_t> msgs, size_t count, AckSink& sink) {
  BatchOutcome out;
  uint32_t first_seq = seq_ + 1;
  size_t off = 0;
  for (size_t i = 0; i < count; ++i) {
    auto* nlh = reinterpret_cast<nlmsghdr*>(msgs.data() + off);
    nlh->nlmsg_seq = ++seq_;
    off += NLMSG_ALIGN(nlh->nlmsg_len);
  }
  ssize_t sent;
  do {
    sent = mnl_socket_sendto(sock_, msgs.data(), off);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    out.send_error = errno;
    return out;
  }
  read_acks(first_seq, count, sink, out);
  return out;
}

void NlSocket::read_acks(uint32_t first_seq, size_t count, AckSink& sink, BatchOutcome& out) {
  seen_.assign(count, 0);
  mmsghdr hdrs[kAckSlots];
  iovec iov[kAckSlots];
  bool waited = false;
  while (out.acked < count) {
    size_t want = std::min(kAckSlots, count - out.acked);
    for (size_t i = 0; i < want; ++i) {
      iov[i] = iovec{ack_rx_.data() + i * kAckSlot, kAckSlot};
      hdrs[i] = mmsghdr{};
      hdrs[i].msg_hdr.msg_iov = &iov[i];
      hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd(), hdrs, static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
    if (n > 0) {
      for (int i = 0; i < n; ++i)
        out.acked += take_ack(ack_rx_.data() + static_cast<size_t>(i) * kAckSlot, hdrs[i].msg_len,
                              first_seq, count, sink);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOBUFS) {
      out.overflowed = true;
      continue;
    }
    // Nothing waiting although acks are missing: allow a short grace period
    // once, then give up on them.
    pollfd p{fd(), POLLIN, 0};
    if (waited || poll(&p, 1, 100) <= 0) break;
    waited = true;
  }
}

// One received datagram holding one ack; 1 when it acked a message of this
// batch for the first time.
size_t NlSocket::take_ack(const uint8_t* slot, size_t len, uint32_t first_seq, size_t count,
                          AckSink& sink) {
  if (len < MNL_NLMSG_HDRLEN) return 0;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(slot);
  if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != portid_) return 0;
  Ack ack;
  if (!parse_ack(nlh, len, ack)) return 0;
  size_t index = ack.seq - first_seq;  // wraps to a huge value for older seqs
  if (index >= count || seen_[index]) return 0;
  seen_[index] = 1;
  sink.on_ack(index, ack.error, ack.extack);
  return 1;
}

Result<size_t> NlSocket::receive_now(std::span<uint8_t> buf) {
  for (;;) {
    ssize_t n = recv(fd(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return size_t{0};
    return fail(std::string(), errno);
  }
}

}  // namespace ipsec::netlink
