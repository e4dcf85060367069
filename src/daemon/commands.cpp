// SPDX-License-Identifier: Apache-2.0
// ipsecd's control commands: one row each in kCommands, the handlers below (load in reload.cpp).
#include "daemon/daemon.h"

#include <time.h>

#include <chrono>
#include <mutex>

#include "common/log.h"
#include "daemon/status.h"

namespace ipsec::daemon {

namespace {

const char* start_action_name(ike::StartAction a) {
  switch (a) {
    case ike::StartAction::Start:
      return "start";
    case ike::StartAction::Trap:
      return "trap";
    case ike::StartAction::None:
      break;
  }
  return "none";
}

// `none`: what None is called (dpd_action "clear", close_action "none").
const char* peer_gone_name(ike::PeerGoneAction a, const char* none) {
  switch (a) {
    case ike::PeerGoneAction::Restart:
      return "restart";
    case ike::PeerGoneAction::Trap:
      return "trap";
    case ike::PeerGoneAction::None:
      break;
  }
  return none;
}

uint64_t secs(std::chrono::seconds s) { return s.count() > 0 ? uint64_t(s.count()) : 0; }

// "lan, dmz": the children's names, in config order.
std::string children_names(const ike::ConnectionConfig& k) {
  std::string out;
  for (const auto& c : k.children) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

nlohmann::json spis(const std::vector<std::pair<std::string, uint64_t>>& sas) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& sa : sas) out.push_back(control::spi_hex(sa.second, 16));
  return out;
}

}  // namespace

// A new command is a row here; the flags are checked in this order before the handler runs.
const Daemon::Command Daemon::kCommands[] = {
    // name, handler, refused while stopping, names a connection
    {"status", &Daemon::status, false, false},
    {"list-conns", &Daemon::list_conns, false, false},
    {"list-certs", &Daemon::list_certs, false, false},
    {"up", &Daemon::up, true, true},
    {"down", &Daemon::down, false, false},  // a name or --all: checked by the handler
    {"restart", &Daemon::restart, true, true},
    {"monitor", &Daemon::monitor, true, false},
    // The caller's uid is checked before stopping, by the handler (reload.cpp).
    {"load", &Daemon::load, false, false},
    // The caller's uid is checked by the handler (handover.cpp).
    {"shutdown", &Daemon::shutdown, true, false},
};

control::Response Daemon::handle(const control::Request& r, const Peer& peer) {
  for (const Command& c : kCommands) {
    if (c.name != r.command) continue;
    if (c.refused_while_stopping && stopping_)
      return control::Response::failure("ipsecd is shutting down");
    if (c.names_connection && find_connection(r.name) == nullptr)
      return control::Response::failure("no connection \"" + r.name + "\"");
    return (this->*c.run)(r, peer);
  }
  return control::Response::failure("unknown command \"" + r.command + "\"");
}

control::Response Daemon::status(const control::Request&, const Peer&) {
  control::Status all;
  const uint64_t wall = static_cast<uint64_t>(::time(nullptr));
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    const ike::Ike& e = w->engine();
    merge(all, make_status({e.sas(), e.closed_sas(), e.counters()}, w->kernel(), w->index(),
                           clock_.now(), wall));
  }
  control::Status own;
  own.counters = nlohmann::json{{"policies_reinstalled", policies_reinstalled_},
                                {"policies_restored", policies_restored_},
                                {"foreign_policies", foreign_policies_},
                                {"leftover_sas_removed", leftover_sas_removed_},
                                {"leftover_policies_removed", leftover_policies_removed_}};
  merge(all, own);
  control::Response resp;
  resp.data_text = control::encode_status(all);  // no document: 100,000 SAs take ~75 MiB
  return resp;
}

control::Response Daemon::list_conns(const control::Request&, const Peer&) {
  std::vector<control::ConnInfo> out;
  for (const DaemonConnection& c : connections_) {
    const ike::ConnectionConfig& k = c.config;
    control::ConnInfo i;
    i.name = k.name;
    i.local = k.local.str();
    i.remote = k.remote.str();
    i.local_id = k.local_id.str();
    i.remote_id = k.remote_id.str();
    // The first child's settings stand for the connection's in this one-line summary.
    const ike::ChildConfig& first = k.children.front();
    i.child = children_names(k);
    i.start_action = start_action_name(first.start_action);
    for (auto& w : workers_) {
      std::lock_guard lock(w->mutex());
      i.trapped = i.trapped || w->engine().trapped(k.name);
    }
    i.child_rekey_seconds = secs(first.lifetime.rekey_time);
    i.child_life_seconds = secs(first.lifetime.life_time);
    i.ike_rekey_seconds = secs(k.ike_lifetime.rekey_time);
    i.ike_reauth_seconds = secs(k.ike_lifetime.reauth_time);
    i.dpd_delay_seconds = secs(k.dpd_delay);
    i.dpd_timeout_seconds = secs(k.dpd_timeout);
    i.dpd_action = peer_gone_name(first.dpd_action, "clear");
    i.close_action = peer_gone_name(first.close_action, "none");
    out.push_back(std::move(i));
  }
  control::Response resp;
  resp.data = control::to_json(out);
  return resp;
}

control::Response Daemon::up(const control::Request& r, const Peer&) {
  Worker& w = owner(r.name);
  std::lock_guard lock(w.mutex());
  auto spi = w.engine().initiate(r.name);
  w.wake();
  if (!spi) return control::Response::failure(spi.error().message);
  control::Response resp;
  resp.data = {{"connection", r.name}, {"spi_i", control::spi_hex(*spi, 16)}};
  return resp;
}

control::Response Daemon::down(const control::Request& r, const Peer&) {
  if (r.all && !r.name.empty())
    return control::Response::failure("down: a connection name or all, not both");
  return r.all ? down_all() : down_one(r.name);
}

control::Response Daemon::down_one(const std::string& name) {
  if (name.empty()) return control::Response::failure("down: no connection named");
  if (!find_connection(name)) return control::Response::failure("no connection \"" + name + "\"");
  auto sas = delete_sas_of(name);
  if (sas.empty()) return control::Response::failure("no established IKE SA of \"" + name + "\"");
  control::Response resp;
  resp.data = {{"connection", name}, {"deleted", spis(sas)}};
  return resp;
}

// Every established IKE SA, whatever its connection; none is not an error.
control::Response Daemon::down_all() {
  auto sas = delete_sas_of("");
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [conn, spi] : sas)
    list.push_back({{"connection", conn}, {"ike_spi", control::spi_hex(spi, 16)}});
  log::info("down --all: deleting " + std::to_string(sas.size()) + " IKE SA(s)");
  control::Response resp;
  resp.data = {{"sas", list}};
  return resp;
}

// Like down, then up again; a trap connection goes back to its trap policies instead (the
// next packet brings it up).
control::Response Daemon::restart(const control::Request& r, const Peer&) {
  const std::string& name = r.name;
  const bool traps = find_connection(name)->traps();  // kCommands: r.name is a connection
  control::Response resp;
  resp.data = {{"connection", name}, {"deleted", spis(delete_sas_of(name))}};
  Worker& w = owner(name);
  std::lock_guard lock(w.mutex());
  if (traps) {
    auto t = w.engine().trapped(name) ? Result<void>{} : w.engine().install_trap(name);
    w.wake();
    if (!t)
      return control::Response::failure("cannot install the trap policies of " + name + ": " +
                                        t.error().message);
    resp.data["trap"] = true;
    return resp;
  }
  auto spi = w.engine().initiate(name);
  w.wake();
  if (!spi) return control::Response::failure(spi.error().message);
  resp.data["spi_i"] = control::spi_hex(*spi, 16);
  return resp;
}

// The control server streams events to the client from here on (control_server.h).
control::Response Daemon::monitor(const control::Request&, const Peer&) {
  events_.set_listening(true);
  control::Response resp;
  resp.data = {{"monitor", true}};
  return resp;
}

}  // namespace ipsec::daemon
