// SPDX-License-Identifier: Apache-2.0
// An in-memory kernel with XFRM's identity rules, for tests and load generation.
#include "kernel/memory_kernel.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <bit>

namespace ipsec::kernel {

namespace {
bool same_sa(const SaParams& sa, const SaId& id) {
  return sa.dst == id.dst && sa.spi == id.spi && sa.proto == id.proto &&
         (sa.mark.value & sa.mark.mask) == (id.mark.value & id.mark.mask);
}

Unexpected<Error> kernel_error(const std::string& what, int code) {
  return fail(what + ": " + strerror(code), code);
}

bool reached(uint64_t limit, uint64_t value) { return limit != 0 && value >= limit; }

bool port_matches(uint16_t want, uint16_t mask, uint16_t got) { return ((want ^ got) & mask) == 0; }

// An unspecified prefix (an empty selector) matches any address.
bool prefix_matches(const Prefix& p, const IpAddress& a) {
  return p.addr.is_unspec() || p.contains(a);
}

// xfrm_selector_match, on what a packet carries (addresses, protocol, ports).
bool selector_matches(const Selector& s, const Selector& packet) {
  if (s.empty()) return true;
  return prefix_matches(s.src, packet.src.addr) && prefix_matches(s.dst, packet.dst.addr) &&
         (s.proto == 0 || s.proto == packet.proto) &&
         port_matches(s.sport, s.sport_mask, packet.sport) &&
         port_matches(s.dport, s.dport_mask, packet.dport);
}

// More prefix bits, a protocol and port bits make a selector more specific.
int specificity(const Selector& s) {
  return s.src.len + s.dst.len + (s.proto != 0 ? 1 : 0) + std::popcount(s.sport_mask) +
         std::popcount(s.dport_mask);
}

// What the kernel's EXPIRE message carries of a state (xfrm_user.c,
// build_expire: usersa_info, mark, if_id), as XfrmKernel's events parse it.
ExpireEvent expire_event(const SaParams& sa, bool hard) {
  ExpireEvent ev{sa, hard};
  ev.sa.enc.reset();
  ev.sa.auth.reset();
  ev.sa.aead.reset();
  ev.sa.comp.reset();
  ev.sa.encap.reset();
  ev.sa.extra_flags = 0;
  ev.sa.tfcpad = 0;
  ev.sa.larval = false;
  return ev;
}

// The subscription group an event is announced on.
constexpr uint32_t group_of(const Event& e) {
  switch (e.index()) {
    case 0:
      return kGroupAcquire;
    case 1:
      return kGroupExpire;
    case 2:
      return kGroupPolExpire;
    case 3:
      return kGroupSa;
    case 4:
      return kGroupPolicy;
    default:
      return kGroupMapping;
  }
}
}  // namespace

// A subscription: events queue here; an eventfd signals readability.
struct MemoryKernel::Subscriber final : EventSource {
  Subscriber(MemoryKernel& k, uint32_t g) : kernel(&k), groups(g) {
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Subscriber() override {
    if (kernel != nullptr) std::erase(kernel->subscribers_, this);
    if (efd >= 0) close(efd);
  }
  int fd() const override { return efd; }
  Result<std::vector<Event>> read() override {
    uint64_t n = 0;
    if (::read(efd, &n, sizeof n) < 0 && errno != EAGAIN)
      return fail(std::string("reading events: ") + strerror(errno), errno);
    std::vector<Event> out(queue.begin(), queue.end());
    queue.clear();
    return out;
  }
  void push(const Event& e) {
    queue.push_back(e);
    uint64_t one = 1;
    if (::write(efd, &one, sizeof one) < 0) { /* counter saturated: readable anyway */
    }
  }

  MemoryKernel* kernel;
  uint32_t groups;
  int efd = -1;
  std::deque<Event> queue;
};

MemoryKernel::MemoryKernel() = default;

MemoryKernel::~MemoryKernel() {
  for (Subscriber* s : subscribers_) s->kernel = nullptr;
}

void MemoryKernel::fail_next(std::string needle, int code) {
  fail_needle_ = std::move(needle);
  fail_code_ = code;
}

Result<void> MemoryKernel::check_injected_failure(const std::string& what) {
  if (fail_code_ == 0 || what.find(fail_needle_) == std::string::npos) return ok();
  int code = fail_code_;
  fail_code_ = 0;
  return kernel_error(what, code);
}

void MemoryKernel::publish(uint32_t group, const Event& event) {
  for (Subscriber* s : subscribers_)
    if (s->groups & group) s->push(event);
}

void MemoryKernel::inject(const Event& event) { publish(group_of(event), event); }

// The SA with this identity. ACQUIRE states without an SPI are not found by
// id: XFRM keeps them out of its by-SPI hash.
std::vector<MemoryKernel::Entry>::iterator MemoryKernel::find_sa(const SaId& id) {
  return std::find_if(sas_.begin(), sas_.end(), [&](const Entry& e) {
    return !(e.acquire && e.sa.spi == 0) && same_sa(e.sa, id);
  });
}

MemoryKernel::Entry MemoryKernel::make_entry(const SaParams& sa) {
  Entry e;
  e.sa = sa;
  e.sa.counters = {};
  e.sa.counters.add_time = now_;
  e.added_at = now_;
  e.order = ++next_order_;
  return e;
}

// A free SPI in the request's range.
Result<uint32_t> MemoryKernel::pick_spi(const SpiRequest& req) {
  if (req.min > req.max) return fail("allocating SPI: empty range", EINVAL);
  for (uint64_t tries = 0; tries <= uint64_t{req.max} - req.min; ++tries) {
    uint32_t spi = req.min + (next_spi_++ % (req.max - req.min + uint64_t{1}));
    if (find_sa(SaId{req.dst, spi, req.proto, req.mark, req.src}) == sas_.end()) return spi;
  }
  return fail("allocating SPI: no free SPI in range", ENOENT);
}

// xfrm_find_acq_byseq, and the destination check of xfrm_alloc_userspi.
MemoryKernel::Entry* MemoryKernel::acquire_by_seq(uint32_t seq, const IpAddress& dst) {
  for (auto& e : sas_)
    if (e.acquire && e.seq == seq && e.sa.dst == dst && !limit_reached(e, true)) return &e;
  return nullptr;
}

// ALLOCSPI (xfrm_alloc_userspi): with the seq of a pending ACQUIRE, its state
// takes the SPI (and keeps the template's reqid and mode); otherwise a new
// larval state, which XFRM gives the ACQUIRE expiry (xfrm_find_acq).
Result<uint32_t> MemoryKernel::alloc_spi(const SpiRequest& req) {
  Entry* acq = req.seq != 0 ? acquire_by_seq(req.seq, req.dst) : nullptr;
  if (acq != nullptr && acq->sa.spi != 0) return acq->sa.spi;  // xfrm_alloc_spi: has one
  auto spi = pick_spi(req);
  if (!spi) return spi;
  if (acq != nullptr) {
    acq->sa.spi = *spi;
    return *spi;
  }
  SaParams larval;
  larval.src = req.src;
  larval.dst = req.dst;
  larval.spi = *spi;
  larval.proto = req.proto;
  larval.reqid = req.reqid;
  larval.mark = req.mark;
  larval.larval = true;
  larval.lifetime.hard_add_seconds = kAcquireExpireSeconds;
  sas_.push_back(make_entry(larval));
  return *spi;
}

// xfrm_state_add: a new SA ends the ACQUIRE it answers, an ACQ state without
// SPI with the same reqid, mode, protocol, addresses and mark (__find_acq_core).
void MemoryKernel::end_acquires_for(const SaParams& sa) {
  std::erase_if(sas_, [&](const Entry& e) {
    return e.acquire && e.sa.spi == 0 && e.sa.reqid == sa.reqid && e.sa.mode == sa.mode &&
           e.sa.proto == sa.proto && e.sa.dst == sa.dst && e.sa.src == sa.src &&
           e.sa.mark == sa.mark;
  });
}

Result<void> MemoryKernel::add_sa(const SaParams& sa) {
  std::string what = "adding " + describe(sa);
  if (auto r = check_injected_failure(what); !r) return r;
  auto it = find_sa(sa.id());
  // A full SA fills a larval one (its SPI was allocated), as XfrmKernel::add_sa
  // does (XFRM itself wants UPDSA for that; XfrmKernel retries with it).
  if (it != sas_.end() && !it->sa.larval) return kernel_error(what, EEXIST);
  Entry stored = make_entry(sa);
  stored.sa.larval = false;
  if (it != sas_.end())
    *it = stored;
  else
    sas_.push_back(stored);
  end_acquires_for(stored.sa);
  publish(kGroupSa, SaChangeEvent{ChangeKind::New, stored.sa, std::nullopt, 0});
  return ok();
}

// UPDSA keeps what the kernel counted and whether the SA is dying.
Result<void> MemoryKernel::update_sa(const SaParams& sa) {
  std::string what = "updating " + describe(sa);
  if (auto r = check_injected_failure(what); !r) return r;
  auto it = find_sa(sa.id());
  if (it == sas_.end()) return kernel_error(what, ESRCH);
  if (it->sa.larval) {  // xfrm_state_update over an ACQ state: a new state
    *it = make_entry(sa);
  } else {
    Counters counted = it->sa.counters;
    it->sa = sa;
    it->sa.counters = counted;
  }
  it->sa.larval = false;
  it->acquire = false;
  publish(kGroupSa, SaChangeEvent{ChangeKind::Update, it->sa, std::nullopt, 0});
  return ok();
}

Result<void> MemoryKernel::delete_sa(const SaId& id) {
  std::string what = "deleting " + describe(id);
  if (auto r = check_injected_failure(what); !r) return r;
  auto it = find_sa(id);
  if (it == sas_.end()) return kernel_error(what, ESRCH);
  SaChangeEvent ev{ChangeKind::Delete, it->sa, id, 0};
  sas_.erase(it);
  publish(kGroupSa, ev);
  return ok();
}

Result<SaParams> MemoryKernel::get_sa(const SaId& id) {
  auto it = find_sa(id);
  if (it == sas_.end()) return kernel_error("getting " + describe(id), ESRCH);
  return it->sa;
}

Result<std::vector<SaParams>> MemoryKernel::dump_sas() {
  std::vector<SaParams> out;
  out.reserve(sas_.size());
  for (const auto& e : sas_) out.push_back(e.sa);
  return out;
}

Result<void> MemoryKernel::flush_sas() {
  sas_.clear();
  publish(kGroupSa, SaChangeEvent{ChangeKind::Flush, std::nullopt, std::nullopt, 0});
  return ok();
}

Result<void> MemoryKernel::add_policy(const PolicyParams& p) {
  std::string what = "adding " + describe(p);
  if (auto r = check_injected_failure(what); !r) return r;
  PolicyId id = p.id();
  if (std::any_of(policies_.begin(), policies_.end(),
                  [&](const PolicyParams& q) { return q.id() == id; }))
    return kernel_error(what, EEXIST);
  PolicyParams stored = p;
  if (stored.index == 0) stored.index = next_index_ += 8;  // XFRM: index encodes direction
  stored.index = (stored.index & ~7u) | static_cast<uint32_t>(p.dir);
  stored.counters = {};
  policies_.push_back(stored);
  publish(kGroupPolicy, PolicyChangeEvent{ChangeKind::New, stored, std::nullopt});
  return ok();
}

Result<void> MemoryKernel::update_policy(const PolicyParams& p) {
  std::string what = "updating " + describe(p);
  if (auto r = check_injected_failure(what); !r) return r;
  PolicyId id = p.id();
  auto it = std::find_if(policies_.begin(), policies_.end(),
                         [&](const PolicyParams& q) { return q.id() == id; });
  // XFRM_MSG_UPDPOLICY inserts when absent.
  if (it == policies_.end()) return add_policy(p);
  PolicyParams stored = p;
  stored.index = it->index;
  stored.counters = it->counters;
  *it = stored;
  publish(kGroupPolicy, PolicyChangeEvent{ChangeKind::Update, stored, std::nullopt});
  return ok();
}

Result<void> MemoryKernel::delete_policy(const PolicyId& id) {
  std::string what = "deleting " + describe(id);
  if (auto r = check_injected_failure(what); !r) return r;
  auto it = std::find_if(policies_.begin(), policies_.end(),
                         [&](const PolicyParams& q) { return q.id() == id; });
  if (it == policies_.end()) return kernel_error(what, ENOENT);
  PolicyChangeEvent ev{ChangeKind::Delete, *it, id};
  policies_.erase(it);
  publish(kGroupPolicy, ev);
  return ok();
}

Result<PolicyParams> MemoryKernel::get_policy(const PolicyId& id) {
  for (const auto& p : policies_)
    if (p.id() == id) return p;
  return kernel_error("getting " + describe(id), ENOENT);
}

Result<std::vector<PolicyParams>> MemoryKernel::dump_policies() { return policies_; }

Result<void> MemoryKernel::flush_policies() {
  policies_.clear();
  publish(kGroupPolicy, PolicyChangeEvent{ChangeKind::Flush, std::nullopt, std::nullopt});
  return ok();
}

Result<SadInfo> MemoryKernel::sad_info() {
  return SadInfo{static_cast<uint32_t>(sas_.size()), 0, 0};
}

Result<SpdInfo> MemoryKernel::spd_info() {
  SpdInfo info;
  for (const auto& p : policies_) {
    if (p.dir == Dir::In)
      ++info.in;
    else if (p.dir == Dir::Out)
      ++info.out;
    else
      ++info.fwd;
  }
  return info;
}

std::vector<Result<void>> MemoryKernel::apply_batch(std::span<const Op> ops) {
  struct V {
    MemoryKernel& k;
    Result<void> operator()(const AddSa& o) { return k.add_sa(o.sa); }
    Result<void> operator()(const UpdateSa& o) { return k.update_sa(o.sa); }
    Result<void> operator()(const DeleteSa& o) { return k.delete_sa(o.id); }
    Result<void> operator()(const AddPolicy& o) { return k.add_policy(o.policy); }
    Result<void> operator()(const UpdatePolicy& o) { return k.update_policy(o.policy); }
    Result<void> operator()(const DeletePolicy& o) { return k.delete_policy(o.id); }
  };
  std::vector<Result<void>> out;
  out.reserve(ops.size());
  for (const Op& op : ops) out.push_back(std::visit(V{*this}, op));
  return out;
}

void MemoryKernel::add_traffic(const SaId& id, uint64_t bytes, uint64_t packets) {
  auto it = find_sa(id);
  if (it == sas_.end() || it->sa.larval) return;
  it->sa.counters.bytes += bytes;
  it->sa.counters.packets += packets;
  if (!it->used) {
    it->used = true;
    it->sa.counters.use_time = now_;
  }
}

// xfrm_timer_handler (time limits) and xfrm_state_check_expire (counts).
bool MemoryKernel::limit_reached(const Entry& e, bool hard) const {
  const Lifetime& l = e.sa.lifetime;
  const Counters& c = e.sa.counters;
  uint64_t age = now_ > e.added_at ? now_ - e.added_at : 0;
  uint64_t idle = e.used && now_ > c.use_time ? now_ - c.use_time : 0;
  if (hard)
    return reached(l.hard_bytes, c.bytes) || reached(l.hard_packets, c.packets) ||
           reached(l.hard_add_seconds, age) || (e.used && reached(l.hard_use_seconds, idle));
  return reached(l.soft_bytes, c.bytes) || reached(l.soft_packets, c.packets) ||
         reached(l.soft_add_seconds, age) || (e.used && reached(l.soft_use_seconds, idle));
}

std::vector<ExpireEvent> MemoryKernel::poll_expires() {
  std::vector<ExpireEvent> out;
  for (auto it = sas_.begin(); it != sas_.end();) {
    bool hard = limit_reached(*it, true);
    if (!it->dying && !it->sa.larval && limit_reached(*it, false)) {
      it->dying = true;  // XFRM: x->km.dying, announced once
      out.push_back(expire_event(it->sa, false));
      publish(kGroupExpire, out.back());
    }
    if (!hard) {
      ++it;
      continue;
    }
    out.push_back(expire_event(it->sa, true));
    publish(kGroupExpire, out.back());
    it = sas_.erase(it);  // XFRM deletes the state; no DELSA is announced
  }
  return out;
}

// Matching Out policies: lowest priority value, then most specific, then oldest.
const PolicyParams* MemoryKernel::out_policy(const Selector& packet) const {
  const PolicyParams* best = nullptr;
  for (const auto& p : policies_) {
    // An unmarked packet on no xfrm interface: (0 & mask) must equal the mark value.
    if (p.dir != Dir::Out || p.mark.value != 0 || p.if_id != 0) continue;
    if (!selector_matches(p.sel, packet)) continue;
    if (best == nullptr || p.priority < best->priority ||
        (p.priority == best->priority && specificity(p.sel) > specificity(best->sel)))
      best = &p;
  }
  return best;
}

// xfrm_state_find's choice: a valid SA for the template; a non-dying one
// over a dying one, then the newest.
const MemoryKernel::Entry* MemoryKernel::best_sa(const Template& t, const IpAddress& src,
                                                 const IpAddress& dst, const PolicyParams& p,
                                                 const Selector& packet) const {
  const Entry* best = nullptr;
  for (const auto& e : sas_) {
    const SaParams& sa = e.sa;
    if (sa.larval || limit_reached(e, true)) continue;  // not XFRM_STATE_VALID
    if (sa.reqid != t.reqid || sa.proto != t.proto || sa.mode != t.mode || sa.dst != dst ||
        (!src.is_unspec() && sa.src != src) || (t.spi != 0 && sa.spi != t.spi))
      continue;
    if (((p.mark.value & p.mark.mask) & sa.mark.mask) != sa.mark.value || sa.if_id != p.if_id)
      continue;
    if (!selector_matches(sa.sel, packet)) continue;
    if (best == nullptr || best->dying > e.dying ||
        (best->dying == e.dying && best->order < e.order))
      best = &e;
  }
  return best;
}

// An ACQ state (or a larval SPI XFRM would take for one) for this template
// and these addresses that has not expired: the kernel asks only once.
bool MemoryKernel::acquire_pending(const Template& t, const IpAddress& src, const IpAddress& dst,
                                   const PolicyParams& p) const {
  return std::any_of(sas_.begin(), sas_.end(), [&](const Entry& e) {
    return e.sa.larval && !limit_reached(e, true) && e.sa.reqid == t.reqid &&
           e.sa.proto == t.proto && e.sa.mode == t.mode && e.sa.dst == dst &&
           (src.is_unspec() || e.sa.src == src) &&
           ((p.mark.value & p.mark.mask) & e.sa.mark.mask) == e.sa.mark.value;
  });
}

// km_query: the ACQ state goes into the table (larval, spi 0, the packet's
// selector, kAcquireExpireSeconds to live) and the ACQUIRE to subscribers.
AcquireEvent MemoryKernel::start_acquire(const Template& t, const IpAddress& src,
                                         const IpAddress& dst, const PolicyParams& p,
                                         const Selector& packet) {
  if (++next_acq_seq_ == 0) ++next_acq_seq_;  // xfrm_get_acqseq skips 0
  AcquireEvent ev{src, dst, packet, t, p, next_acq_seq_};
  if (ev.sel.sport != 0 && ev.sel.sport_mask == 0) ev.sel.sport_mask = 0xffff;
  if (ev.sel.dport != 0 && ev.sel.dport_mask == 0) ev.sel.dport_mask = 0xffff;
  SaParams acq;
  acq.src = src;
  acq.dst = dst;
  acq.proto = t.proto;
  acq.mode = t.mode;
  acq.reqid = t.reqid;
  acq.mark = p.mark;
  acq.sel = ev.sel;
  acq.larval = true;
  acq.lifetime.hard_add_seconds = kAcquireExpireSeconds;
  Entry e = make_entry(acq);
  e.acquire = true;
  e.seq = ev.seq;
  sas_.push_back(e);
  publish(kGroupAcquire, ev);
  return ev;
}

MemoryKernel::Route MemoryKernel::send(const Selector& packet) {
  Route route;
  const PolicyParams* p = out_policy(packet);
  if (p == nullptr) return route;  // no policy: Clear
  if (p->action == Action::Block) {
    route.fate = Fate::Held;
    return route;
  }
  std::vector<SaId> used;
  for (const Template& t : p->tmpls) {
    bool tunnel = t.mode != Mode::Transport;
    IpAddress src = tunnel && !t.src.is_unspec() ? t.src : packet.src.addr;
    IpAddress dst = tunnel ? t.dst : packet.dst.addr;
    if (const Entry* e = best_sa(t, src, dst, *p, packet)) {
      used.push_back(e->sa.id());
      continue;
    }
    if (t.optional) continue;
    route.fate = Fate::Held;
    if (!acquire_pending(t, src, dst, *p)) route.acquire = start_acquire(t, src, dst, *p, packet);
    return route;
  }
  if (used.empty()) return route;  // an allow policy without templates: Clear
  for (const SaId& id : used) add_traffic(id, kBytesPerPacket, 1);
  route.fate = Fate::Protected;
  route.sa = used.front();
  return route;
}

Result<std::unique_ptr<EventSource>> MemoryKernel::subscribe(uint32_t groups) {
  auto sub = std::make_unique<Subscriber>(*this, groups);
  if (sub->efd < 0) return fail(std::string("eventfd: ") + strerror(errno), errno);
  subscribers_.push_back(sub.get());
  return std::unique_ptr<EventSource>(std::move(sub));
}

}  // namespace ipsec::kernel
