// SPDX-License-Identifier: Apache-2.0
// The control socket protocol: newline-delimited JSON requests and responses.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ipsec::control {

// Where ipsecd listens unless told otherwise.
inline constexpr const char* kDefaultSocket = "/run/ipsecd/control.sock";
// A request (or event) line longer than this is refused.
inline constexpr size_t kMaxLine = 1 << 20;
// A response may be longer (the status of 100,000 SAs is some 100 MiB); one longer than
// this is refused, by ipsecd (which answers an error instead) and by ipsecctl.
inline constexpr size_t kMaxAnswer = size_t{256} << 20;

// {"command": "up", "name": "to-right"}
// {"command": "down", "all": true}
// {"command": "load", "files": ["/etc/ipsecctl/a.json", ...]}
// {"command": "monitor"}: after the response, one Event line per engine event until the
// client closes the connection.
// parse_request refuses a line longer than kMaxLine, a field of the wrong type
// and a relative path in files; unknown fields are ignored.
struct Request {
  std::string command;  // "status", "list-conns", "up", "down", "restart", "load", "monitor", "shutdown"
  std::string name;     // the connection, for up, down and restart
  std::vector<std::string> files;  // absolute paths, for load
  bool all = false;                // down: every established IKE SA of every connection
  // shutdown: hand the IKE SAs over to the next ipsecd and leave the kernel's SAs and
  // policies (a restart or upgrade) instead of deleting them.
  bool keep = false;
};

// {"ok": true, "data": {...}} or {"ok": false, "error": "...", "details": [...]}
struct Response {
  bool ok = true;
  std::string error;
  // On failure: one line per problem (load's file errors). On success: problems that did
  // not make the request fail (a load whose trap policies could not be installed).
  std::vector<std::string> details;
  nlohmann::json data = nlohmann::json::object();
  // When not empty: `data` already written as JSON text (encode_status), used instead of
  // `data`; the status of 100,000 SAs is written without building a document first.
  std::string data_text;

  static Response failure(std::string message);
};

struct ChildStatus {
  std::string name;   // the CHILD SA config's name
  std::string state;  // "installed", "rekeying", "rekeyed", "failed", ...
  uint32_t spi_in = 0;
  uint32_t spi_out = 0;
  std::string mode;  // "tunnel", "transport"
  std::vector<std::string> local_ts, remote_ts;
  std::string algorithms;
  std::string failure;
  // From the kernel's SAs (0 when unknown): inbound and outbound traffic.
  uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0;
  uint64_t age_seconds = 0;             // since installed
  int64_t rekey_in_seconds = -1;        // -1: no rekey scheduled (soft time limit)
  int64_t expire_in_seconds = -1;       // -1: no hard time limit
  int64_t last_rekey_seconds_ago = -1;  // -1: not a rekey's CHILD SA
  uint32_t replaces = 0;                // our inbound SPI of the CHILD SA this one rekeyed; 0: none
};

struct IkeStatus {
  std::string connection;
  std::string state;  // "established", ...
  bool initiator = false;
  uint64_t spi_i = 0, spi_r = 0;
  std::string local, remote;  // "192.0.2.1[500]"
  std::string algorithms;     // "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519"
  // The peer as authenticated: "fqdn:gw-b.example", "psk" or "pubkey", its certificate's
  // subject; empty before IKE_AUTH.
  std::string peer_id, peer_auth, peer_cert;
  uint64_t age_seconds = 0;
  int64_t rekey_in_seconds = -1;        // -1: no rekey (or reauthentication) scheduled
  int64_t expire_in_seconds = -1;       // -1: no hard lifetime
  int64_t last_rekey_seconds_ago = -1;  // -1: not from a rekey; else since it was established
  uint32_t worker = 0;                  // the ipsecd worker thread that owns it
  std::string failure;
  std::vector<ChildStatus> children;  // every CHILD SA, old and new during a rekey
};

// An SA the daemon removed: why.
struct ClosedStatus {
  std::string label;
  std::string state;  // "closed" or "failed"
  std::string reason;
  std::string child_failure;
};

struct Status {
  std::vector<IkeStatus> ike_sas;
  std::vector<ClosedStatus> closed;
  nlohmann::json counters = nlohmann::json::object();
};

// load's data on success: connection names by what the load did to them.
// {"added": [...], "changed": [...], "unchanged": [...], "removed": [...]}
struct LoadSummary {
  std::vector<std::string> added, changed, unchanged, removed;
};

struct ConnInfo {
  std::string name;
  std::string local, remote;  // addresses
  std::string local_id, remote_id;
  std::string child;
  std::string start_action;  // "none", "start", "trap"
  bool trapped = false;      // its trap policies are installed
  // Lifetimes and liveness, in seconds (0: none).
  uint64_t child_rekey_seconds = 0, child_life_seconds = 0;
  uint64_t ike_rekey_seconds = 0, ike_reauth_seconds = 0;
  uint64_t dpd_delay_seconds = 0, dpd_timeout_seconds = 0;
  std::string dpd_action = "clear";   // "clear", "restart", "trap"
  std::string close_action = "none";  // "none", "restart", "trap"
};

// One line of `monitor`: an engine event (ike::EngineEvent). Fields other than event,
// time and connection are present only when set (an SPI not 0, a text not empty).
// {"event":"child-rekeyed","time":"2026-11-23T10:00:00Z","connection":"to-right",
//  "child":"lan","ike_spi":"0x...","spi_in":"0x...","spi_out":"0x...","old_spi_in":"0x..."}
struct Event {
  std::string event;  // "ike-up", "ike-rekeyed", "ike-down", "child-up", "child-rekeyed",
                      // "child-down", "dpd-failed", "acquire"
  std::string time;   // UTC, "2026-11-23T10:00:00Z"
  std::string connection;
  std::string child;
  uint64_t ike_spi = 0, old_ike_spi = 0;
  uint32_t spi_in = 0, spi_out = 0, old_spi_in = 0;
  std::string reason;
  std::string detail;
};

std::string encode(const Request& r);   // one line, no newline
std::string encode(const Response& r);  // one line, no newline
// Strict decoding: errors are values naming the JSON path ("ike_sas[0].child.spi_in:
// expected a string, got number"), never exceptions. Unknown fields are ignored.
Result<Request> parse_request(std::string_view line);
Result<Response> parse_response(std::string_view line);

nlohmann::json to_json(const Status& s);
// The same text as to_json(s).dump() (what encode() writes), written directly: for
// Response::data_text.
std::string encode_status(const Status& s);
Result<Status> status_from_json(const nlohmann::json& j);
nlohmann::json to_json(const std::vector<ConnInfo>& conns);
Result<std::vector<ConnInfo>> conns_from_json(const nlohmann::json& j);
nlohmann::json to_json(const LoadSummary& s);
std::string encode(const Event& e);  // one line, no newline
Result<Event> parse_event(std::string_view line);
// "2026-11-23T10:00:00Z" for seconds since the epoch.
std::string utc_time(int64_t epoch_seconds);
// A missing list is empty; a list that is not of strings is an error.
Result<LoadSummary> load_summary_from_json(const nlohmann::json& j);

std::string spi_hex(uint64_t spi, int digits);  // "0x0000abcd" for digits 8

}  // namespace ipsec::control
