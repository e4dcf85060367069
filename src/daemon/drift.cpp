// SPDX-License-Identifier: Apache-2.0
// Drift repair (RFC 4301 §4.4: the SPD and SAD are ours to keep): the kernel's SAs and
// policies are compared with what ipsecd installed soon after the kernel announces a
// deletion, a flush or a policy change, and every reconcile_interval. A policy of ours that
// is gone or changed is put back (PolicyRefs), a CHILD SA whose ESP SAs are gone is rekeyed
// (the engines), a foreign policy overlapping ours is reported and left alone. Every repair
// is a warning, a monitor event ("repair") and a status counter.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/fd.h"

namespace ipsec::daemon {
namespace {

// Events come in bursts (a flush of many SAs, a rekey's deletions): one reconcile for them.
constexpr ike::Millis kSettle{100};
// At most one reconcile this often, whatever the events.
constexpr ike::Millis kMinGap{1000};

// Whether an SA or policy event may mean that something of ours changed behind our back.
bool worth_a_look(const kernel::Event& e) {
  if (const auto* s = std::get_if<kernel::SaChangeEvent>(&e))
    return s->kind == kernel::ChangeKind::Delete || s->kind == kernel::ChangeKind::Flush;
  return std::holds_alternative<kernel::PolicyChangeEvent>(e);
}

}  // namespace

void Daemon::on_kernel_change(const kernel::Event& e) {
  if (!worth_a_look(e)) return;
  const ike::Millis soon = std::max(clock_.now() + kSettle, last_reconcile_ + kMinGap);
  if (reconcile_at_ == ike::Millis{0} || soon < reconcile_at_) reconcile_at_ = soon;
}

// At start, before any negotiation: every SA and policy in the kernel with the reqid of one of
// our children was left by a previous ipsecd (killed, or the machine's power cut while the
// kernel ran on is not possible, but SIGKILL and OOM are). Policies stay and protect the
// traffic until our own replace them (same selector: the update takes them over); SAs stay
// while the peer may still send on them, until the CHILD SA of their reqid is up again.
void Daemon::find_leftovers() {
  std::set<uint32_t> ours = recorded_reqids();  // a previous ipsecd's, removed ones included
  for (const DaemonConnection& c : connections_)
    for (const auto& child : c.config.children) ours.insert(child.reqid);
  record_reqids(ours);  // until the leftovers are gone, theirs are still ours
  auto sas = events_kernel_->dump_sas();
  auto pols = events_kernel_->dump_policies();
  if (!sas || !pols) {
    log::warn("crash recovery: cannot dump the kernel: " +
              (!sas ? sas.error().message : pols.error().message));
    return;
  }
  std::set<uint32_t> in_use;  // SPIs of the CHILD SAs continued from a handover
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    for (const ike::IkeSaSummary& sa : w->engine().sas(true))
      for (const ike::ChildSummary& ch : sa.children) in_use.insert({ch.spi_in, ch.spi_out});
  }
  size_t larval = 0;
  for (const kernel::SaParams& sa : *sas) {
    if (ours.count(sa.reqid) == 0 || in_use.count(sa.spi) != 0) continue;
    if (sa.spi != 0 && !sa.larval) {
      leftover_sas_.push_back(sa);
    } else if (sa.larval && sa.spi != 0) {
      // An SPI the previous ipsecd reserved for a negotiation it never finished (killed
      // mid-handshake or mid-rekey): nobody sends on it; gone now rather than when the
      // kernel's acquire timer ends it.
      auto r = events_kernel_->delete_sa(sa.id());
      if (r || r.error().code == ESRCH || r.error().code == ENOENT) ++larval;
    }
  }
  if (larval != 0) {
    leftover_sas_removed_ += larval;
    log::info("crash recovery: removed " + std::to_string(larval) +
              " SPI(s) a previous ipsecd had reserved for negotiations it did not finish");
  }
  std::vector<kernel::PolicyParams> left;
  for (const kernel::PolicyParams& p : *pols)
    if (!p.socket && std::any_of(p.tmpls.begin(), p.tmpls.end(),
                                 [&](const kernel::Template& t) { return ours.count(t.reqid); }))
      left.push_back(p);
  if (leftover_sas_.empty() && left.empty()) return;
  policies_->add_leftovers(left);
  leftovers_until_ = clock_.now() + options_.leftover_grace;
  log::warn("crash recovery: " + std::to_string(leftover_sas_.size()) + " SA(s) and " +
            std::to_string(left.size()) +
            " policy(ies) with our reqids were left by a previous ipsecd: kept until their "
            "connections are up again, at most " +
            std::to_string(options_.leftover_grace.count() / 1000) + " s");
}

// The leftover SAs whose child is installed here again (or all, once the grace is over),
// then, with the grace over, the leftover policies nothing of ours took over.
void Daemon::clean_leftovers() {
  if (leftovers_until_ == ike::Millis{0}) return;
  const bool over = clock_.now() >= leftovers_until_;
  std::set<std::pair<std::string, std::string>> up;  // connection, child
  std::set<uint32_t> in_use;                          // SPIs of our CHILD SAs
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    for (const ike::IkeSaSummary& sa : w->engine().sas(true))  // with their children
      for (const ike::ChildSummary& ch : sa.children) {
        if (ch.in_kernel) up.insert({sa.connection, ch.name});
        in_use.insert(ch.spi_in);
        in_use.insert(ch.spi_out);
      }
  }
  size_t removed = 0;
  std::erase_if(leftover_sas_, [&](const kernel::SaParams& sa) {
    const DaemonConnection* c = nullptr;
    const ike::ChildConfig* child = nullptr;
    for (const DaemonConnection& d : connections_)
      if (const auto* ch = d.config.child_by_reqid(sa.reqid)) c = &d, child = ch;
    const bool replaced = c != nullptr && up.count({c->config.name, child->name}) != 0;
    if (!over && !replaced) return false;
    if (in_use.count(sa.spi) != 0) return true;  // ours now (never the case: the kernel
                                                 // does not give out an SPI in use)
    auto r = events_kernel_->delete_sa(sa.id());
    if (r || r.error().code == ESRCH || r.error().code == ENOENT) ++removed;
    else log::warn("crash recovery: removing " + kernel::describe(sa) + ": " + r.error().message);
    return true;
  });
  leftover_sas_removed_ += removed;
  size_t policies = 0;
  if (over) {
    policies = policies_->drop_leftovers(*events_kernel_);
    leftover_policies_removed_ += policies;
    leftovers_until_ = ike::Millis{0};
    record_reqids();  // only our connections' from now on
  }
  if (removed + policies != 0)
    log::info("crash recovery: removed " + std::to_string(removed) + " SA(s) and " +
              std::to_string(policies) + " policy(ies) left by a previous ipsecd");
}

namespace {

constexpr size_t kMaxReqidsFile = 1 << 20;

}  // namespace

std::string Daemon::reqids_path() const {
  if (options_.reqids_file == "-") return {};
  return options_.reqids_file.empty() ? options_.control_path + ".reqids" : options_.reqids_file;
}

std::set<uint32_t> Daemon::recorded_reqids() const {
  std::set<uint32_t> out;
  const std::string path = reqids_path();
  if (path.empty()) return out;
  // Not blocking on a FIFO, not through a link, a regular file of bounded size only.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno != ENOENT) log::warn("crash recovery: " + path + ": " + std::strerror(errno));
    return out;  // ENOENT: none recorded (first start, or after a reboot)
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxReqidsFile) {
    log::warn("crash recovery: " + path + ": not a regular file of at most 1 MiB; ignored");
    return out;
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  if (::read(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) return out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object() && j.contains("reqids") && j["reqids"].is_array())
    for (const auto& r : j["reqids"])
      if (r.is_number_unsigned() && r.template get<uint64_t>() <= UINT32_MAX)
        out.insert(r.template get<uint32_t>());
  return out;
}

// Written to a file of our own (O_EXCL) and renamed over the old one: never half written,
// never through a link someone put there.
void Daemon::record_reqids(const std::set<uint32_t>& also) const {
  const std::string path = reqids_path();
  if (path.empty()) return;
  std::set<uint32_t> all = also;
  for (const DaemonConnection& c : connections_)
    for (const auto& child : c.config.children) all.insert(child.reqid);
  const std::string tmp = path + "." + std::to_string(::getpid()) + ".tmp";
  const std::string text = nlohmann::json{{"reqids", all}}.dump() + "\n";
  ::unlink(tmp.c_str());  // ours from a previous write that failed half-way, if any
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  bool ok = fd.valid() && ::write(fd.get(), text.data(), text.size()) ==
                              static_cast<ssize_t>(text.size());
  ok = ok && ::fsync(fd.get()) == 0 && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    log::warn("crash recovery: cannot record the reqids in " + path + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
  }
}

ike::Millis Daemon::reconcile_due() {
  if (options_.reconcile_interval.count() > 0 && last_reconcile_ == ike::Millis{0})
    last_reconcile_ = clock_.now();  // the first periodic one an interval after the start
  ike::Millis due{0};
  if (options_.reconcile_interval.count() > 0) due = last_reconcile_ + options_.reconcile_interval;
  if (reconcile_at_ != ike::Millis{0} && (due == ike::Millis{0} || reconcile_at_ < due))
    due = reconcile_at_;
  if (leftovers_until_ != ike::Millis{0} && (due == ike::Millis{0} || leftovers_until_ < due))
    due = leftovers_until_;
  return due;
}

int Daemon::reconcile_timeout() {
  const ike::Millis now = clock_.now();
  ike::Millis due = reconcile_due();
  // Every half second while leftovers wait: a CHILD SA up (child_up_) may release them.
  if (leftovers_until_ != ike::Millis{0} && (due == ike::Millis{0} || now + ike::Millis{500} < due))
    due = now + ike::Millis{500};
  if (due == ike::Millis{0}) return -1;
  return static_cast<int>(std::max<int64_t>((due - now).count(), 0));
}

void Daemon::reconcile() {
  const ike::Millis taken_at = clock_.now();
  last_reconcile_ = taken_at;
  reconcile_at_ = ike::Millis{0};
  clean_leftovers();
  ike::PolicyRefs::Drift d = policies_->reconcile(*events_kernel_);
  policies_reinstalled_ += d.reinstalled;
  policies_restored_ += d.restored;
  foreign_policies_ += d.foreign;
  for (const std::string& line : d.lines) {
    log::warn("drift: " + line);
    ike::EngineEvent e;
    e.kind = ike::EventKind::Repair;
    e.detail = line;
    events_.push(e);
  }
  auto sas = events_kernel_->dump_sas();
  if (!sas) {
    log::warn("drift: cannot dump the kernel's SAs: " + sas.error().message);
    return;
  }
  std::unordered_set<std::string> held;
  held.reserve(sas->size());
  for (const kernel::SaParams& sa : *sas) held.insert(kernel::identity_key(sa.id()));
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    if (w->engine().reconcile(held, taken_at) != 0) w->wake();
  }
}

}  // namespace ipsec::daemon
