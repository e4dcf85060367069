// SPDX-License-Identifier: Apache-2.0
// The daemon's connections from policy files (at start and on `ipsecctl load`): loading
// all or nothing, reqid allocation, and the difference against the running set.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ike/config.h"
#include "policy/connection.h"

namespace ipsec::daemon {

// A connection as the daemon runs it: the engine's config, and the reqid each child's file
// entry says (0: config.children[i].reqid was allocated).
struct DaemonConnection {
  ike::ConnectionConfig config;
  std::vector<uint32_t> file_reqids;  // one per child, in config.children order

  // Initiated at load: some child has start_action start.
  bool starts() const;
  // Trap policies at load: some child has start_action trap ("on-demand").
  bool traps() const;
};

struct LoadedConnections {
  std::vector<DaemonConnection> connections;  // file order
  std::vector<std::string> errors;            // "FILE: JSON PATH: problem", one per line
  std::vector<std::string> warnings;
  bool ok() const { return errors.empty(); }
};

// Parses `files` with the policy loader (every error names file and JSON path) and turns
// their connections into the engine's configs on UDP port `port`; `require_absolute`:
// relative paths are errors (the daemon's working directory is not the caller's).
// Nothing is usable when any error is reported.
LoadedConnections load_connections(const std::vector<std::string>& files, uint16_t port,
                                   bool require_absolute);

// Gives every child whose file says reqid 0 one: the one it already has in `running`
// (same connection and child name, also allocated), else the lowest no other child uses.
void assign_reqids(std::vector<DaemonConnection>& next,
                   const std::vector<DaemonConnection>& running = {});

// Everything the engine and the daemon act on is equal (ConnectionConfig's operator==, so
// lifetimes, DPD and the CHILD SA's actions too; key material compared in constant time;
// the allocated reqid is not compared, the file's is).
bool same_connection(const DaemonConnection& a, const DaemonConnection& b);
// The same but for their CRLs.
bool same_but_crls(const DaemonConnection& a, const DaemonConnection& b);

// By connection name, each list sorted.
struct ConfigDiff {
  std::vector<std::string> added, removed, changed, unchanged;
  // Among `unchanged`: those whose CRLs differ and nothing else. Their SAs stay; their
  // trust stores take the new CRLs (a CRL refresh must not disturb tunnels).
  std::vector<std::string> new_crls;
};
ConfigDiff diff(const std::vector<DaemonConnection>& running,
                const std::vector<DaemonConnection>& next);

// Moves to `changed` each connection `d` has unchanged whose children's reqids differ
// between `running` and `next` (a file now claims a reqid it had been given, so
// assign_reqids gave it another): its SAs and trap policies carry the old one. Both lists
// stay sorted.
void changed_by_reqids(ConfigDiff& d, const std::vector<DaemonConnection>& running,
                       const std::vector<DaemonConnection>& next);

}  // namespace ipsec::daemon
