// SPDX-License-Identifier: Apache-2.0
// Connections from policy files for the daemon: load, reqids, diff.
#include "daemon/config.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/bytes.h"
#include "ike/from_policy.h"
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
    auto cfg = ike::to_engine_config(c);
    if (!cfg) {
      out.errors.push_back(printable_line(cfg.error().message));
      continue;
    }
    cfg->local.port = port;
    cfg->remote.port = port;
    std::vector<uint32_t> file_reqids;
    for (const auto& child : cfg->children) file_reqids.push_back(child.reqid);
    out.connections.push_back({std::move(*cfg), std::move(file_reqids)});
  }
  if (!out.ok()) out.connections.clear();
  return out;
}

bool DaemonConnection::starts() const {
  return std::any_of(config.children.begin(), config.children.end(),
                     [](const auto& c) { return c.start_action == ike::StartAction::Start; });
}

bool DaemonConnection::traps() const {
  return std::any_of(config.children.begin(), config.children.end(),
                     [](const auto& c) { return c.start_action == ike::StartAction::Trap; });
}

namespace {

uint32_t file_reqid(const DaemonConnection& c, size_t i) {
  return i < c.file_reqids.size() ? c.file_reqids[i] : 0;
}

}  // namespace

void assign_reqids(std::vector<DaemonConnection>& next,
                   const std::vector<DaemonConnection>& running) {
  using Key = std::pair<std::string, std::string>;  // connection, child
  std::map<Key, uint32_t> had;                      // allocated reqids of the running set
  for (const auto& c : running)
    for (size_t i = 0; i < c.config.children.size(); ++i)
      if (file_reqid(c, i) == 0)
        had[{c.config.name, c.config.children[i].name}] = c.config.children[i].reqid;
  std::set<uint32_t> used;
  for (const auto& c : next)
    for (size_t i = 0; i < c.config.children.size(); ++i)
      if (file_reqid(c, i) != 0) used.insert(file_reqid(c, i));
  for (auto& c : next)  // keep what a child had, unless a file now claims it
    for (size_t i = 0; i < c.config.children.size(); ++i) {
      if (file_reqid(c, i) != 0) continue;
      auto& child = c.config.children[i];
      auto it = had.find({c.config.name, child.name});
      child.reqid = it != had.end() && !used.count(it->second) ? it->second : 0;
      if (child.reqid != 0) used.insert(child.reqid);
    }
  uint32_t lowest = 1;
  for (auto& c : next)
    for (auto& child : c.config.children) {
      if (child.reqid != 0) continue;
      while (used.count(lowest)) ++lowest;
      child.reqid = lowest;
      used.insert(lowest);
    }
}

bool same_connection(const DaemonConnection& a, const DaemonConnection& b) {
  // The allocated reqids are not part of what the files say (file_reqids are).
  ike::ConnectionConfig x = a.config, y = b.config;
  for (auto& c : x.children) c.reqid = 0;
  for (auto& c : y.children) c.reqid = 0;
  return x == y && a.file_reqids == b.file_reqids;
}

bool same_but_crls(const DaemonConnection& a, const DaemonConnection& b) {
  DaemonConnection x = a;
  x.config.crls = b.config.crls;
  return same_connection(x, b);
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
    else if (same_but_crls(*it->second, c)) {
      d.unchanged.push_back(c.config.name);
      d.new_crls.push_back(c.config.name);
    } else
      d.changed.push_back(c.config.name);
  }
  for (const auto& [name, c] : old)
    if (!seen.count(name)) d.removed.push_back(name);
  for (auto* v : {&d.added, &d.removed, &d.changed, &d.unchanged, &d.new_crls})
    std::sort(v->begin(), v->end());
  return d;
}

namespace {

// The reqids of the first connection called `name`, in children order.
std::vector<uint32_t> reqids_of(const std::vector<DaemonConnection>& conns,
                                const std::string& name) {
  std::vector<uint32_t> out;
  auto c = std::find_if(conns.begin(), conns.end(),
                        [&](const DaemonConnection& x) { return x.config.name == name; });
  if (c != conns.end())
    for (const auto& child : c->config.children) out.push_back(child.reqid);
  return out;
}

}  // namespace

void changed_by_reqids(ConfigDiff& d, const std::vector<DaemonConnection>& running,
                       const std::vector<DaemonConnection>& next) {
  for (auto it = d.unchanged.begin(); it != d.unchanged.end();) {
    if (reqids_of(running, *it) == reqids_of(next, *it)) {
      ++it;
      continue;
    }
    d.changed.insert(std::upper_bound(d.changed.begin(), d.changed.end(), *it), *it);
    std::erase(d.new_crls, *it);  // re-added whole
    it = d.unchanged.erase(it);
  }
}

}  // namespace ipsec::daemon
