// An in-memory kernel with XFRM's identity rules, for tests and load generation.
#include "kernel/memory_kernel.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

namespace ipsec::kernel {

namespace {
bool same_sa(const SaParams& sa, const SaId& id) {
  return sa.dst == id.dst && sa.spi == id.spi && sa.proto == id.proto &&
         (sa.mark.value & sa.mark.mask) == (id.mark.value & id.mark.mask);
}

Unexpected<Error> kernel_error(const std::string& what, int code) {
  return fail(what + ": " + strerror(code), code);
}

// The subscription group an event is announced on.
constexpr uint32_t group_of(const Event& e) {
  switch (e.index()) {
    case 0: return kGroupAcquire;
    case 1: return kGroupExpire;
    case 2: return kGroupPolExpire;
    case 3: return kGroupSa;
    case 4: return kGroupPolicy;
    default: return kGroupMapping;
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
    if (::write(efd, &one, sizeof one) < 0) { /* counter saturated: readable anyway */ }
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

Result<uint32_t> MemoryKernel::alloc_spi(const SpiRequest& req) {
  if (req.min > req.max) return fail("allocating SPI: empty range", EINVAL);
  for (uint64_t tries = 0; tries <= uint64_t{req.max} - req.min; ++tries) {
    uint32_t spi = req.min + (next_spi_++ % (req.max - req.min + uint64_t{1}));
    SaId id{req.dst, spi, req.proto, req.mark, req.src};
    if (std::any_of(sas_.begin(), sas_.end(), [&](const SaParams& s) { return same_sa(s, id); }))
      continue;
    SaParams larval;
    larval.src = req.src;
    larval.dst = req.dst;
    larval.spi = spi;
    larval.proto = req.proto;
    larval.reqid = req.reqid;
    larval.mark = req.mark;
    larval.larval = true;
    sas_.push_back(larval);
    return spi;
  }
  return fail("allocating SPI: no free SPI in range", ENOENT);
}

Result<void> MemoryKernel::add_sa(const SaParams& sa) {
  std::string what = "adding " + describe(sa);
  if (auto r = check_injected_failure(what); !r) return r;
  auto it = std::find_if(sas_.begin(), sas_.end(), [&](const SaParams& s) {
    return same_sa(s, sa.id());
  });
  // A full SA fills a larval one (its SPI was allocated), as XfrmKernel::add_sa
  // does (XFRM itself wants UPDSA for that; XfrmKernel retries with it).
  if (it != sas_.end() && !it->larval) return kernel_error(what, EEXIST);
  SaParams stored = sa;
  stored.larval = false;
  stored.counters = {};
  if (it != sas_.end()) *it = stored;
  else sas_.push_back(stored);
  publish(kGroupSa, SaChangeEvent{ChangeKind::New, stored, std::nullopt, 0});
  return ok();
}

Result<void> MemoryKernel::update_sa(const SaParams& sa) {
  std::string what = "updating " + describe(sa);
  if (auto r = check_injected_failure(what); !r) return r;
  auto it = std::find_if(sas_.begin(), sas_.end(), [&](const SaParams& s) {
    return same_sa(s, sa.id());
  });
  if (it == sas_.end()) return kernel_error(what, ESRCH);
  SaParams stored = sa;
  stored.counters = it->counters;
  *it = stored;
  publish(kGroupSa, SaChangeEvent{ChangeKind::Update, stored, std::nullopt, 0});
  return ok();
}

Result<void> MemoryKernel::delete_sa(const SaId& id) {
  std::string what = "deleting " + describe(id);
  if (auto r = check_injected_failure(what); !r) return r;
  auto it = std::find_if(sas_.begin(), sas_.end(), [&](const SaParams& s) {
    return same_sa(s, id);
  });
  if (it == sas_.end()) return kernel_error(what, ESRCH);
  SaChangeEvent ev{ChangeKind::Delete, *it, id, 0};
  sas_.erase(it);
  publish(kGroupSa, ev);
  return ok();
}

Result<SaParams> MemoryKernel::get_sa(const SaId& id) {
  for (const auto& s : sas_)
    if (same_sa(s, id)) return s;
  return kernel_error("getting " + describe(id), ESRCH);
}

Result<std::vector<SaParams>> MemoryKernel::dump_sas() { return sas_; }

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
    if (p.dir == Dir::In) ++info.in;
    else if (p.dir == Dir::Out) ++info.out;
    else ++info.fwd;
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

Result<std::unique_ptr<EventSource>> MemoryKernel::subscribe(uint32_t groups) {
  auto sub = std::make_unique<Subscriber>(*this, groups);
  if (sub->efd < 0) return fail(std::string("eventfd: ") + strerror(errno), errno);
  subscribers_.push_back(sub.get());
  return std::unique_ptr<EventSource>(std::move(sub));
}

}  // namespace ipsec::kernel
