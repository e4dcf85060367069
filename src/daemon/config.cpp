// Connections from policy files for the daemon: load, reqids, diff.
#include "daemon/config.h"

#include <algorithm>
#include <map>
#include <set>

#include "ike/v2/from_policy.h"
#include "policy/static_config.h"

namespace ipsec::daemon {

LoadedConnections load_connections(const std::vector<std::string>& files, uint16_t port,
                                   bool require_absolute) {
  LoadedConnections out;
  for (const std::string& f : files)
    if (require_absolute && (f.empty() || f.front() != '/'))
      out.errors.push_back(f + ": not an absolute path");
  if (!out.ok()) return out;
  policy::LoadResult r = policy::load_files(files);
  for (const auto& w : r.warnings) out.warnings.push_back(w.str());
  for (const auto& e : r.errors) out.errors.push_back(e.str());
  if (!r.ok()) return out;
  for (const policy::Connection& c : r.config.connections) {
    auto cfg = ike::v2::to_engine_config(c);
    if (!cfg) {
      out.errors.push_back(cfg.error().message);
      continue;
    }
    cfg->local.port = port;
    cfg->remote.port = port;
    const uint32_t file_reqid = cfg->child.reqid;
    // to_engine_config accepted exactly one child and mapped its start_action to
    // cfg->child.start_action: the two agree.
    const policy::StartAction start = c.children.front().start_action;
    out.connections.push_back({std::move(*cfg), start, file_reqid});
  }
  if (!out.ok()) out.connections.clear();
  return out;
}

void assign_reqids(std::vector<DaemonConnection>& next,
                   const std::vector<DaemonConnection>& running) {
  std::map<std::string, uint32_t> had;  // allocated reqids of the running set
  for (const auto& c : running)
    if (c.file_reqid == 0) had[c.config.name] = c.config.child.reqid;
  std::set<uint32_t> used;
  for (const auto& c : next)
    if (c.file_reqid != 0) used.insert(c.file_reqid);
  for (auto& c : next) {  // keep what a connection had, unless a file now claims it
    if (c.file_reqid != 0) continue;
    auto it = had.find(c.config.name);
    c.config.child.reqid = it != had.end() && !used.count(it->second) ? it->second : 0;
    if (c.config.child.reqid != 0) used.insert(c.config.child.reqid);
  }
  uint32_t lowest = 1;
  for (auto& c : next) {
    if (c.config.child.reqid != 0) continue;
    while (used.count(lowest)) ++lowest;
    c.config.child.reqid = lowest;
    used.insert(lowest);
  }
}

bool same_connection(const DaemonConnection& a, const DaemonConnection& b) {
  // The allocated reqid is not part of what the files say (file_reqid is).
  ike::v2::ConnectionConfig x = a.config, y = b.config;
  x.child.reqid = y.child.reqid = 0;
  return x == y && a.start_action == b.start_action && a.file_reqid == b.file_reqid;
}

ConfigDiff diff(const std::vector<DaemonConnection>& running,
                const std::vector<DaemonConnection>& next) {
  std::map<std::string, const DaemonConnection*> old;
  for (const auto& c : running) old[c.config.name] = &c;
  ConfigDiff d;
  std::set<std::string> seen;
  for (const auto& c : next) {
    seen.insert(c.config.name);
    auto it = old.find(c.config.name);
    if (it == old.end())
      d.added.push_back(c.config.name);
    else if (same_connection(*it->second, c))
      d.unchanged.push_back(c.config.name);
    else
      d.changed.push_back(c.config.name);
  }
  for (const auto& [name, c] : old)
    if (!seen.count(name)) d.removed.push_back(name);
  for (auto* v : {&d.added, &d.removed, &d.changed, &d.unchanged}) std::sort(v->begin(), v->end());
  return d;
}

}  // namespace ipsec::daemon
