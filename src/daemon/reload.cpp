// SPDX-License-Identifier: Apache-2.0
// `ipsecctl load`: new policy files replace the running connections, all or nothing; only
// what changed loses its SAs (the difference itself is daemon/config.h's).
#include "daemon/daemon.h"

#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "common/log.h"
#include "daemon/sd_notify.h"

namespace ipsec::daemon {

namespace {

bool contains(const std::vector<std::string>& sorted, const std::string& name) {
  return std::binary_search(sorted.begin(), sorted.end(), name);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "-" : out;
}

}  // namespace

// The service manager sees the reload begin and end, whatever its outcome.
control::Response Daemon::load(const control::Request& r, const Peer& peer) {
  notify::reloading("loading " + std::to_string(r.files.size()) + " policy file(s)");
  control::Response resp = load_files(r.files, peer);
  notify::ready(resp.ok ? summary() : resp.error);
  return resp;
}

// All or nothing: the files must load without error and their new local addresses must
// bind before anything changes. Unchanged connections keep their SAs.
control::Response Daemon::load_files(const std::vector<std::string>& files, const Peer& peer) {
  if (peer.uid != 0 && peer.uid != ::geteuid())
    return control::Response::failure("load refused: only root or ipsecd's own user (uid " +
                                      std::to_string(::geteuid()) + ") may load policy files, " +
                                      "not uid " + std::to_string(peer.uid));
  if (stopping_) return control::Response::failure("ipsecd is shutting down");
  if (files.empty()) return control::Response::failure("load refused: no policy files given");
  LoadedConnections next = load_connections(files, options_.port, true);
  for (const auto& w : next.warnings) log::warn("load: " + w);
  if (next.ok()) {
    assign_reqids(next.connections, connections_);
    if (auto r = open_sockets(next.connections); !r) next.errors.push_back(r.error().message);
  }
  if (!next.ok()) {
    control::Response refused = control::Response::failure(
        "load refused: " + std::to_string(next.errors.size()) + " problem(s)");
    refused.details = next.errors;
    log::warn(refused.error + ": " + next.errors.front());
    return refused;
  }
  ConfigDiff d = diff(connections_, next.connections);
  changed_by_reqids(d, connections_, next.connections);
  std::vector<std::string> problems = apply(d, std::move(next.connections));
  record_reqids(leftovers_until_ != ike::Millis{0} ? recorded_reqids() : std::set<uint32_t>{});
  log::info("load: added " + joined(d.added) + "; changed " + joined(d.changed) + "; removed " +
            joined(d.removed) + "; unchanged " + joined(d.unchanged) +
            (d.new_crls.empty() ? "" : "; new CRLs for " + joined(d.new_crls)));
  control::Response resp;
  resp.data = control::to_json(control::LoadSummary{d.added, d.changed, d.unchanged, d.removed});
  resp.details = std::move(problems);
  return resp;
}

// Removed and changed connections lose their IKE SAs (Delete to the peer, like down) and
// their trap policies, every engine gets the new set; added and changed ones with start
// action start are initiated, those with trap get their trap policies. The load itself
// already happened: a trap that cannot be installed is a problem reported, not a refusal.
std::vector<std::string> Daemon::apply(const ConfigDiff& d, std::vector<DaemonConnection> next) {
  for (const auto* names : {&d.removed, &d.changed})
    for (const std::string& name : *names) {
      delete_sas_of(name);
      remove_traps(name);
    }
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    for (const auto* names : {&d.removed, &d.changed})
      for (const std::string& name : *names) w->engine().remove_connection(name);
    for (const DaemonConnection& c : next) {
      if (contains(d.added, c.config.name) || contains(d.changed, c.config.name))
        w->engine().add_connection(c.config);
      if (contains(d.new_crls, c.config.name)) w->engine().replace_crls(c.config.name, c.config.crls);
    }
    w->wake();
  }
  connections_ = std::move(next);
  std::vector<std::string> start = d.added;
  start.insert(start.end(), d.changed.begin(), d.changed.end());
  std::vector<std::string> problems;
  install_traps(start, &problems);
  start_connections(start);
  return problems;
}

}  // namespace ipsec::daemon
