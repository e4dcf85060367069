// SPDX-License-Identifier: Apache-2.0
// kernel::Kernel over XFRM netlink: single requests, dumps, info and batches.
#include "netlink/xfrm_kernel.h"

#include <linux/xfrm.h>

#include <cerrno>

#include "common/secret.h"
#include "netlink/xfrm_codec.h"
#include "netlink/xfrm_events.h"
#include "netlink/xfrm_socket.h"

namespace ipsec::netlink {

namespace {

using namespace ipsec::kernel;

constexpr size_t kTxBytes = 16 * 1024;  // the largest single request (an SA) is ~1 KiB
constexpr int kDumpRetries = 3;         // a dump interrupted by changes is restarted

Unexpected<Error> failure(const std::string& what, const Error& e) {
  return fail(what + ": " + cause_text(e.code, e.message), e.code);
}

// Wipes a request buffer that held key material, on every exit path.
class WipeGuard {
 public:
  WipeGuard(std::vector<uint8_t>& buf, bool active) : buf_(buf), active_(active) {}
  ~WipeGuard() {
    if (active_) secure_wipe(buf_.data(), buf_.size());
  }
  WipeGuard(const WipeGuard&) = delete;
  WipeGuard& operator=(const WipeGuard&) = delete;

 private:
  std::vector<uint8_t>& buf_;
  bool active_;
};

// Runs one request built by `built`; `what` names the object in errors.
template <class What>
Result<void> run(NlSocket& sock, Built built, What what, const NlSocket::Handler& handler = {},
                 bool wipe = false) {
  if (!built) {
    Error e = built.error();
    if (e.message.empty()) e.message = "message too large";
    return failure(what(), e);
  }
  auto r = sock.request(*built, handler, wipe);
  if (!r) return failure(what(), r.error());
  return ok();
}

// Collects the acks of one chunk into per-op results.
class ResultSink final : public AckSink {
 public:
  ResultSink(std::span<const Op> ops, std::span<const uint32_t> map,
             std::vector<Result<void>>& results)
      : ops_(ops), map_(map), results_(results), acked_(map.size(), 0) {}
  void on_ack(size_t index, int error, std::string_view extack) override {
    acked_[index] = 1;
    if (error == 0) return;
    uint32_t op = map_[index];
    results_[op] = fail(describe(ops_[op]) + ": " + cause_text(error, extack), error);
  }
  // Every message without an ack fails: the kernel's answer was lost.
  void fail_unacked(int code) {
    for (size_t i = 0; i < acked_.size(); ++i) {
      if (acked_[i]) continue;
      uint32_t op = map_[i];
      std::string why = code == ENOBUFS ? "no acknowledgement, the receive queue overflowed"
                                        : "no acknowledgement from the kernel";
      results_[op] = fail(describe(ops_[op]) + ": " + cause_text(code, why), code);
    }
  }

 private:
  std::span<const Op> ops_;
  std::span<const uint32_t> map_;
  std::vector<Result<void>>& results_;
  std::vector<uint8_t> acked_;
};

// Whether the state with this id is larval (an SPI reserved by ALLOCSPI).
bool holds_larval(Kernel& k, const SaId& id) {
  auto got = k.get_sa(id);
  return got.has_value() && got->larval;
}

}  // namespace

XfrmKernel::XfrmKernel(std::unique_ptr<NlSocket> sock)
    : sock_(std::move(sock)), tx_(kTxBytes), batch_(sock_->max_batch_bytes()) {}

XfrmKernel::~XfrmKernel() { secure_wipe(tx_.data(), tx_.size()); }

Result<std::unique_ptr<XfrmKernel>> XfrmKernel::open() {
  auto sock = NlSocket::open(NETLINK_XFRM);
  if (!sock) return fail(std::move(sock.error()));
  return std::unique_ptr<XfrmKernel>(new XfrmKernel(std::move(*sock)));
}

Result<uint32_t> XfrmKernel::alloc_spi(const SpiRequest& req) {
  uint32_t spi = 0;
  auto handler = [&spi](const nlmsghdr* nlh) -> Result<void> {
    if (nlh->nlmsg_type != XFRM_MSG_NEWSA) return ok();
    auto sa = parse_sa(nlh);
    if (!sa) return fail(std::move(sa.error()));
    spi = sa->spi;
    return ok();
  };
  auto what = [&req] {
    return "allocating SPI " + req.src.str() + "->" + req.dst.str() + " " + to_string(req.proto);
  };
  auto r = run(*sock_, build_alloc_spi(tx_, req), what, handler);
  if (!r) return fail(std::move(r.error()));
  if (spi == 0) return failure(what(), Error{"the kernel returned no SPI", EPROTO});
  return spi;
}

// NEWSA over an SPI that ALLOCSPI reserved fails with EEXIST: the larval
// state already holds (dst, spi, proto) (net/xfrm/xfrm_state.c,
// xfrm_state_add). UPDSA replaces a larval state (xfrm_state_update), as
// strongSwan does for inbound SAs. The model lets add_sa fill an allocated
// SPI (the memory kernel does), so such a refusal is retried as an update.
Result<void> XfrmKernel::add_sa(const SaParams& sa) {
  Result<void> r;
  {
    WipeGuard guard(tx_, true);
    r = run(*sock_, build_sa(tx_, sa, false), [&sa] { return "adding " + describe(sa); });
  }
  if (r || r.error().code != EEXIST || !holds_larval(*this, sa.id())) return r;
  return update_sa(sa);
}

Result<void> XfrmKernel::update_sa(const SaParams& sa) {
  WipeGuard guard(tx_, true);
  return run(*sock_, build_sa(tx_, sa, true), [&sa] { return "updating " + describe(sa); });
}

Result<void> XfrmKernel::delete_sa(const SaId& id) {
  return run(*sock_, build_sa_id(tx_, XFRM_MSG_DELSA, id),
             [&id] { return "deleting " + describe(id); });
}

Result<SaParams> XfrmKernel::get_sa(const SaId& id) {
  std::optional<SaParams> found;
  auto handler = [&found](const nlmsghdr* nlh) -> Result<void> {
    if (nlh->nlmsg_type != XFRM_MSG_NEWSA) return ok();
    auto sa = parse_sa(nlh);
    if (!sa) return fail(std::move(sa.error()));
    found = std::move(*sa);
    return ok();
  };
  auto what = [&id] { return "getting " + describe(id); };
  auto r = run(*sock_, build_sa_id(tx_, XFRM_MSG_GETSA, id), what, handler, true);
  if (!r) return fail(std::move(r.error()));
  if (!found) return failure(what(), Error{"the kernel sent no state", EPROTO});
  return std::move(*found);
}

Result<std::vector<SaParams>> XfrmKernel::dump_sas() {
  for (int attempt = 0;; ++attempt) {
    std::vector<SaParams> out;
    auto handler = [&out](const nlmsghdr* nlh) -> Result<void> {
      if (nlh->nlmsg_type != XFRM_MSG_NEWSA) return ok();
      auto sa = parse_sa(nlh);
      if (!sa) return fail(std::move(sa.error()));
      out.push_back(std::move(*sa));
      return ok();
    };
    auto r = run(
        *sock_, build_dump(tx_, XFRM_MSG_GETSA), [] { return std::string("dumping SAs"); }, handler,
        true);
    if (r) return out;
    if (r.error().code != EINTR || attempt + 1 >= kDumpRetries) return fail(std::move(r.error()));
  }
}

Result<void> XfrmKernel::flush_sas() {
  return run(*sock_, build_flush_sa(tx_), [] { return std::string("flushing SAs"); });
}

Result<void> XfrmKernel::add_policy(const PolicyParams& p) {
  return run(*sock_, build_policy(tx_, p, false), [&p] { return "adding " + describe(p); });
}

Result<void> XfrmKernel::update_policy(const PolicyParams& p) {
  return run(*sock_, build_policy(tx_, p, true), [&p] { return "updating " + describe(p); });
}

Result<void> XfrmKernel::delete_policy(const PolicyId& id) {
  return run(*sock_, build_policy_id(tx_, XFRM_MSG_DELPOLICY, id),
             [&id] { return "deleting " + describe(id); });
}

Result<PolicyParams> XfrmKernel::get_policy(const PolicyId& id) {
  std::optional<PolicyParams> found;
  auto handler = [&found](const nlmsghdr* nlh) -> Result<void> {
    if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY) return ok();
    auto p = parse_policy(nlh);
    if (!p) return fail(std::move(p.error()));
    found = std::move(*p);
    return ok();
  };
  auto what = [&id] { return "getting " + describe(id); };
  auto r = run(*sock_, build_policy_id(tx_, XFRM_MSG_GETPOLICY, id), what, handler);
  if (!r) return fail(std::move(r.error()));
  if (!found) return failure(what(), Error{"the kernel sent no policy", EPROTO});
  return std::move(*found);
}

Result<std::vector<PolicyParams>> XfrmKernel::dump_policies() {
  for (int attempt = 0;; ++attempt) {
    std::vector<PolicyParams> out;
    auto handler = [&out](const nlmsghdr* nlh) -> Result<void> {
      if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY) return ok();
      auto p = parse_policy(nlh);
      if (!p) return fail(std::move(p.error()));
      out.push_back(std::move(*p));
      return ok();
    };
    auto r = run(
        *sock_, build_dump(tx_, XFRM_MSG_GETPOLICY), [] { return std::string("dumping policies"); },
        handler);
    if (r) return out;
    if (r.error().code != EINTR || attempt + 1 >= kDumpRetries) return fail(std::move(r.error()));
  }
}

Result<void> XfrmKernel::flush_policies() {
  return run(*sock_, build_flush_policy(tx_), [] { return std::string("flushing policies"); });
}

Result<SadInfo> XfrmKernel::sad_info() {
  std::optional<SadInfo> info;
  auto handler = [&info](const nlmsghdr* nlh) -> Result<void> {
    if (nlh->nlmsg_type != XFRM_MSG_NEWSADINFO) return ok();
    auto r = parse_sad_info(nlh);
    if (!r) return fail(std::move(r.error()));
    info = *r;
    return ok();
  };
  auto what = [] { return std::string("reading SAD info"); };
  auto r = run(*sock_, build_info(tx_, XFRM_MSG_GETSADINFO), what, handler);
  if (!r) return fail(std::move(r.error()));
  if (!info) return failure(what(), Error{"the kernel sent no SAD info", EPROTO});
  return *info;
}

Result<SpdInfo> XfrmKernel::spd_info() {
  std::optional<SpdInfo> info;
  auto handler = [&info](const nlmsghdr* nlh) -> Result<void> {
    if (nlh->nlmsg_type != XFRM_MSG_NEWSPDINFO) return ok();
    auto r = parse_spd_info(nlh);
    if (!r) return fail(std::move(r.error()));
    info = *r;
    return ok();
  };
  auto what = [] { return std::string("reading SPD info"); };
  auto r = run(*sock_, build_info(tx_, XFRM_MSG_GETSPDINFO), what, handler);
  if (!r) return fail(std::move(r.error()));
  if (!info) return failure(what(), Error{"the kernel sent no SPD info", EPROTO});
  return *info;
}

std::vector<Result<void>> XfrmKernel::apply_batch(std::span<const Op> ops) {
  std::vector<Result<void>> results(ops.size());
  size_t next = 0;
  while (next < ops.size()) {
    size_t bytes = 0;
    bool keys = false;
    next = fill_chunk(ops, next, results, bytes, keys);
    if (!chunk_ops_.empty()) send_chunk(ops, bytes, keys, results);
  }
  // An add over an allocated SPI: as in add_sa, an update fills it.
  for (size_t i = 0; i < ops.size(); ++i) {
    const auto* add = std::get_if<AddSa>(&ops[i]);
    if (add != nullptr && !results[i] && results[i].error().code == EEXIST &&
        holds_larval(*this, add->sa.id()))
      results[i] = update_sa(add->sa);
  }
  return results;
}

// Builds ops from `first` into batch_ until it is full; returns the next op.
// An op that cannot be encoded fails at once and is left out of the chunk.
size_t XfrmKernel::fill_chunk(std::span<const Op> ops, size_t first,
                              std::vector<Result<void>>& results, size_t& bytes, bool& keys) {
  chunk_ops_.clear();
  size_t limit = sock_->max_batch_messages();
  size_t i = first;
  for (; i < ops.size() && chunk_ops_.size() < limit; ++i) {
    std::span<uint8_t> room(batch_.data() + bytes, batch_.size() - bytes);
    Built built = build_op(room, ops[i]);
    if (!built) {
      if (built.error().code == EMSGSIZE && !chunk_ops_.empty()) break;  // next chunk
      Error e = built.error();
      if (e.message.empty()) e.message = "message too large";
      results[i] = failure(describe(ops[i]), e);
      continue;
    }
    keys = keys || op_carries_keys(ops[i]);
    bytes += NLMSG_ALIGN((*built)->nlmsg_len);
    chunk_ops_.push_back(static_cast<uint32_t>(i));
  }
  return i;
}

void XfrmKernel::send_chunk(std::span<const Op> ops, size_t bytes, bool keys,
                            std::vector<Result<void>>& results) {
  ResultSink sink(ops, chunk_ops_, results);
  auto outcome = [&] {
    std::span<uint8_t> msgs(batch_.data(), bytes);
    auto o = sock_->send_batch(msgs, chunk_ops_.size(), sink);
    if (keys) secure_wipe(batch_.data(), bytes);
    return o;
  }();
  if (outcome.send_error != 0) {
    sink.fail_unacked(outcome.send_error);
  } else if (outcome.acked < chunk_ops_.size()) {
    sink.fail_unacked(outcome.overflowed ? ENOBUFS : ETIMEDOUT);
  }
}

Result<std::unique_ptr<EventSource>> XfrmKernel::subscribe(uint32_t groups) {
  auto source = XfrmEventSource::open(groups);
  if (!source) return fail(std::move(source.error()));
  return std::unique_ptr<EventSource>(std::move(*source));
}

}  // namespace ipsec::netlink
