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
// A request or response line longer than this is refused.
inline constexpr size_t kMaxLine = 1 << 20;

// {"command": "up", "name": "to-right"}
// {"command": "load", "files": ["/etc/ipsecctl/a.json", ...]}
// parse_request refuses a line longer than kMaxLine, a field of the wrong type
// and a relative path in files; unknown fields are ignored.
struct Request {
  std::string command;  // "status", "list-conns", "up", "down", "load"
  std::string name;     // the connection, for up and down
  std::vector<std::string> files;  // absolute paths, for load
};

// {"ok": true, "data": {...}} or {"ok": false, "error": "...", "details": [...]}
struct Response {
  bool ok = true;
  std::string error;
  std::vector<std::string> details;  // on failure: one line per problem (load's file errors)
  nlohmann::json data = nlohmann::json::object();

  static Response failure(std::string message);
};

struct ChildStatus {
  std::string state;  // "installed", "failed", ...
  uint32_t spi_in = 0;
  uint32_t spi_out = 0;
  std::string mode;  // "tunnel", "transport"
  std::vector<std::string> local_ts, remote_ts;
  std::string algorithms;
  std::string failure;
  // From the kernel's SAs (0 when unknown): inbound and outbound traffic.
  uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0;
  uint64_t age_seconds = 0;         // since installed
  int64_t rekey_in_seconds = -1;    // -1: no rekey scheduled
  int64_t expire_in_seconds = -1;   // -1: no hard lifetime
};

struct IkeStatus {
  std::string connection;
  std::string state;  // "established", ...
  bool initiator = false;
  uint64_t spi_i = 0, spi_r = 0;
  std::string local, remote;  // "192.0.2.1[500]"
  std::string algorithms;     // "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519"
  uint64_t age_seconds = 0;
  int64_t rekey_in_seconds = -1;  // -1: no rekey scheduled
  uint32_t worker = 0;            // the ipsecd worker thread that owns it
  std::string failure;
  ChildStatus child;
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
};

std::string encode(const Request& r);   // one line, no newline
std::string encode(const Response& r);  // one line, no newline
// Strict decoding: errors are values naming the JSON path ("ike_sas[0].child.spi_in:
// expected a string, got number"), never exceptions. Unknown fields are ignored.
Result<Request> parse_request(std::string_view line);
Result<Response> parse_response(std::string_view line);

nlohmann::json to_json(const Status& s);
Result<Status> status_from_json(const nlohmann::json& j);
nlohmann::json to_json(const std::vector<ConnInfo>& conns);
Result<std::vector<ConnInfo>> conns_from_json(const nlohmann::json& j);
nlohmann::json to_json(const LoadSummary& s);
// A missing list is empty; a list that is not of strings is an error.
Result<LoadSummary> load_summary_from_json(const nlohmann::json& j);

std::string spi_hex(uint64_t spi, int digits);  // "0x0000abcd" for digits 8

}  // namespace ipsec::control
