// SPDX-License-Identifier: Apache-2.0
// status, list-conns, list-certs, up, down, restart, monitor, shutdown: requests to ipsecd over
// its control socket.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "control/protocol.h"
#include "ctl/control_commands.h"
#include "ctl/json_out.h"
#include "ctl/status_text.h"

namespace ipsec::ctl {

namespace {

struct ControlOptions {
  std::string socket = control::kDefaultSocket;
  std::string name;
  bool json = false;
  bool all = false;      // down --all
  bool keep = false;     // shutdown --keep
  unsigned count = 0;    // monitor --count; 0: no limit
  double timeout_s = 0;  // monitor --timeout; 0: none
};

struct CloseFd {
  int fd;
  ~CloseFd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<int> connect_to(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) return fail("socket path too long: " + path);
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
    int err = errno;
    ::close(fd);
    return fail("cannot reach ipsecd at " + path + ": " + std::strerror(err), err);
  }
  return fd;
}

// Writes all of `data`, each chunk within the timeout.
Result<void> write_all(int fd, const std::string& data, int timeout_ms) {
  size_t done = 0;
  while (done < data.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return fail("ipsecd does not read its socket");
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(std::string("cannot send to ipsecd: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return ok();
}

// Reads one answer line, bounded in size (kMaxAnswer) and in time (`timeout_ms` for each
// chunk: a large answer takes as long as it takes while it keeps coming).
Result<std::string> read_line(int fd, int timeout_ms) {
  std::string in;
  std::vector<char> buf(1 << 16);
  for (size_t scanned = 0;;) {
    if (auto nl = in.find('\n', scanned); nl != std::string::npos) {
      in.resize(nl);
      return in;
    }
    scanned = in.size();  // a newline can only come in what is read next
    if (in.size() > control::kMaxAnswer)
      return fail("ipsecd's answer is longer than " + std::to_string(control::kMaxAnswer) +
                  " bytes");
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0)
      return fail("ipsecd did not answer within " + std::to_string(timeout_ms / 1000) + "s");
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return fail(in.empty() ? "ipsecd closed the connection without answering"
                             : "ipsecd closed the connection in the middle of its answer");
    in.append(buf.data(), static_cast<size_t>(n));
  }
}

// True when the daemon answered and agreed; else prints why and sets the exit code.
bool answered(Context& ctx, const ControlOptions& o, const Result<control::Response>& r) {
  if (!r) {
    report_daemon_error(ctx, o.socket, r.error());
    return false;
  }
  if (!r->ok) {
    std::fprintf(stderr, "error: %s\n", printable_line(r->error).c_str());
    for (const auto& d : r->details) std::fprintf(stderr, "error: %s\n", printable_line(d).c_str());
    ctx.exit_code = kExitDaemon;
    return false;
  }
  return true;
}

// Runs a request; prints errors and sets the exit code. Null when it failed.
std::unique_ptr<control::Response> run(Context& ctx, const ControlOptions& o, control::Request req,
                                       int timeout_ms = kDaemonTimeoutMs) {
  auto r = ask_daemon(o.socket, req, timeout_ms);
  if (!answered(ctx, o, r)) return nullptr;
  return std::make_unique<control::Response>(std::move(*r));
}

// up, down and restart with --json: one document on stdout whatever happens. The
// daemon's data with "ok": true; else "ok": false, "error" and the daemon's "details".
// stderr and the exit code as without --json.
void run_json(Context& ctx, const ControlOptions& o, const control::Request& req) {
  auto r = ask_daemon(o.socket, req);
  nlohmann::json doc = nlohmann::json::object();
  if (answered(ctx, o, r)) {
    if (r->data.is_object())
      doc = r->data;
    else if (!r->data.is_null())
      doc["data"] = r->data;
    doc["ok"] = true;
  } else {
    doc = {{"ok", false}, {"error", r ? r->error : r.error().message}};
    if (r && !r->details.empty()) doc["details"] = r->details;
  }
  std::printf("%s\n", json_text(doc).c_str());
}

void do_status(Context& ctx, const ControlOptions& o) {
  auto r = run(ctx, o, control::Request{"status", "", {}}, kListTimeoutMs);
  if (!r) return;
  if (o.json) {  // as the daemon sent it, new fields included
    std::printf("%s\n", r->data.dump(2).c_str());
    return;
  }
  auto s = control::status_from_json(r->data);
  if (!s) {
    std::fprintf(stderr, "error: %s (ipsecctl status --json shows it unparsed)\n",
                 s.error().message.c_str());
    ctx.exit_code = kExitDaemon;
    return;
  }
  std::fputs(format_status(*s).c_str(), stdout);
}

// How a connection comes up, in words.
std::string start_text(const control::ConnInfo& c) {
  if (c.start_action == "start") return "started at load";
  if (c.start_action == "trap")
    return std::string("on demand") + (c.trapped ? ", trap policies installed" : "");
  if (c.start_action == "none") return "started by 'ipsecctl up'";
  return "start action " + c.start_action;
}

void do_list_conns(Context& ctx, const ControlOptions& o) {
  auto r = run(ctx, o, control::Request{"list-conns", "", {}}, kListTimeoutMs);
  if (!r) return;
  if (o.json) {
    std::printf("%s\n", r->data.dump(2).c_str());
    return;
  }
  auto conns = control::conns_from_json(r->data);
  if (!conns) {
    std::fprintf(stderr, "error: %s\n", conns.error().message.c_str());
    ctx.exit_code = kExitDaemon;
    return;
  }
  std::string out;  // one write: 10,000 connections are 20,000 lines
  for (const auto& c : *conns) {
    out += printable_line(c.name + ": " + c.local + " (" + c.local_id + ") ... " + c.remote + " (" +
                          c.remote_id + "), child " + c.child + ", " + start_text(c));
    out += "\n  " + format_conn_settings(c) + "\n";
  }
  std::fputs(out.c_str(), stdout);
}

// One certificate in words; the warning when it expires within 30 days.
void print_cert(const nlohmann::json& c) {
  auto str = [&](const char* k) { return printable_line(c.value(k, std::string())); };
  std::string roles, conns;
  for (const auto& r : c.value("roles", nlohmann::json::array()))
    roles += (roles.empty() ? "" : ", ") + printable_line(r.get<std::string>());
  for (const auto& n : c.value("connections", nlohmann::json::array()))
    conns += (conns.empty() ? "" : ", ") + printable_line(n.get<std::string>());
  std::printf("%s\n  %s of %s\n  issuer %s\n", str("subject").c_str(), roles.c_str(), conns.c_str(),
              str("issuer").c_str());
  if (!str("subject_alt_names").empty())
    std::printf("  subjectAltNames %s\n", str("subject_alt_names").c_str());
  const int64_t days = c.value("days_left", int64_t{0});
  std::printf("  key %s, valid %s .. %s (%" PRId64 " days left)%s\n", str("key").c_str(),
              str("not_before").c_str(), str("not_after").c_str(), days,
              c.value("expiring", false) ? "  WARNING: expires within 30 days" : "");
}

// "revocation of to-right: OCSP ifuri (responder from the certificate's AIA), 1 CRL" and
// one line per CRL.
void print_revocation(const nlohmann::json& conn) {
  auto str = [&](const nlohmann::json& j, const char* k) {
    return printable_line(j.value(k, std::string()));
  };
  const std::string uri = str(conn, "ocsp_uri");
  const std::string ocsp = str(conn, "ocsp");
  std::string responder;
  if (ocsp != "never")
    responder =
        uri.empty() ? " (responder from the certificate's AIA)" : " (responder " + uri + ")";
  std::printf("revocation of %s: OCSP %s%s, %zu CRL(s)\n", str(conn, "connection").c_str(),
              ocsp.c_str(), responder.c_str(), conn.value("count", size_t{0}));
  for (const auto& crl : conn.value("crls", nlohmann::json::array())) {
    if (!crl.is_object()) continue;
    const std::string next = str(crl, "next_update");
    std::printf("  CRL of %s: %zu revoked, updated %s, next update %s%s\n",
                str(crl, "issuer").c_str(), crl.value("revoked", size_t{0}),
                str(crl, "last_update").c_str(), next.empty() ? "none" : next.c_str(),
                crl.value("stale", false) ? "  WARNING: out of date" : "");
  }
}

void do_list_certs(Context& ctx, const ControlOptions& o) {
  auto r = run(ctx, o, control::Request{"list-certs", "", {}});
  if (!r) return;
  if (o.json) {
    std::printf("%s\n", r->data.dump(2).c_str());
    return;
  }
  const nlohmann::json& d = r->data;
  const auto certs =
      d.is_object() ? d.value("certificates", nlohmann::json::array()) : nlohmann::json::array();
  if (certs.empty()) std::printf("no certificates loaded\n");
  for (const auto& c : certs)
    if (c.is_object()) print_cert(c);
  for (const auto& conn :
       d.is_object() ? d.value("crls", nlohmann::json::array()) : nlohmann::json::array())
    if (conn.is_object()) print_revocation(conn);
}

void print_down(const ControlOptions& o, const nlohmann::json& d) {
  if (!o.all) {
    size_t n = d.is_object() ? d.value("deleted", nlohmann::json::array()).size() : 0;
    std::printf("deleting %s: %zu IKE SA(s)\n", printable_line(o.name).c_str(), n);
    return;
  }
  nlohmann::json sas =
      d.is_object() ? d.value("sas", nlohmann::json::array()) : nlohmann::json::array();
  if (!sas.is_array() || sas.empty()) {
    std::printf("no established IKE SAs\n");
    return;
  }
  std::printf("deleting %zu IKE SA(s)\n", sas.size());
  for (const auto& sa : sas)
    if (sa.is_object())
      std::printf(
          "  %s\n",
          printable_line(sa.value("connection", "?") + " " + sa.value("ike_spi", "?")).c_str());
}

// Reads newline-framed lines, keeping what follows a line for the next call.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // A line, nullopt when `timeout_ms` passed first (negative: wait forever), an error
  // when the daemon closed the connection.
  Result<std::optional<std::string>> next(int timeout_ms) {
    char buf[4096];
    for (size_t nl = in_.find('\n'); nl == std::string::npos; nl = in_.find('\n')) {
      if (in_.size() > control::kMaxLine) return fail("ipsecd sent a line that is too long");
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return std::optional<std::string>{};
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return fail(
            "ipsecd closed the connection (it stopped, or dropped this monitor for "
            "not reading fast enough)");
      in_.append(buf, static_cast<size_t>(n));
    }
    size_t nl = in_.find('\n');
    std::string line = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    return std::optional<std::string>{std::move(line)};
  }

 private:
  int fd_;
  std::string in_;
};

// Prints one event line; false when it could not be read (warned on stderr).
bool print_event(const ControlOptions& o, const std::string& line) {
  if (o.json) {
    std::printf("%s\n", line.c_str());
  } else {
    auto e = control::parse_event(line);
    if (!e) {
      std::fprintf(stderr, "warning: %s: %s\n", printable_line(e.error().message).c_str(),
                   printable_line(line).c_str());
      return false;
    }
    std::printf("%s\n", format_event(*e).c_str());
  }
  std::fflush(stdout);
  return true;
}

// Subscribes, then prints events until --count of them, --timeout, or the daemon goes.
void do_monitor(Context& ctx, const ControlOptions& o) {
  using Clock = std::chrono::steady_clock;
  // A plain time point and a flag: GCC 12 warns (maybe-uninitialized) on an optional here.
  const bool timed = o.timeout_s > 0;
  const Clock::time_point deadline =
      Clock::now() +
      (timed
           ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s))
           : Clock::duration::zero());
  auto fd = connect_to(o.socket);
  if (!fd) return report_daemon_error(ctx, o.socket, fd.error());
  CloseFd guard{*fd};
  auto w =
      write_all(*fd, control::encode(control::Request{"monitor", "", {}}) + "\n", kDaemonTimeoutMs);
  LineReader reader(*fd);
  auto first = reader.next(w ? kDaemonTimeoutMs : 0);  // a refusal's reason, even so
  if (!w && !(first && *first)) return report_daemon_error(ctx, o.socket, w.error());
  if (!first || !*first) {
    Error e =
        first
            ? Error{"ipsecd did not answer within " + std::to_string(kDaemonTimeoutMs / 1000) + "s"}
            : first.error();
    return report_daemon_error(ctx, o.socket, e);
  }
  auto resp = control::parse_response(**first);
  if (!resp || !resp->ok) {
    std::fprintf(stderr, "error: %s\n",
                 printable_line(resp ? resp->error : resp.error().message).c_str());
    ctx.exit_code = kExitDaemon;
    return;
  }
  unsigned seen = 0;
  while (o.count == 0 || seen < o.count) {
    int wait = -1;
    if (timed) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      wait = static_cast<int>(std::max<int64_t>(left.count(), 0));
    }
    auto line = reader.next(wait);
    if (!line) {
      std::fprintf(stderr, "error: %s\n", line.error().message.c_str());
      ctx.exit_code = kExitDaemon;
      return;
    }
    if (!*line) {  // the timeout
      if (o.count == 0) return;
      std::fprintf(stderr, "monitor: timed out after %gs with %u of %u event(s)\n", o.timeout_s,
                   seen, o.count);
      ctx.exit_code = kExitInvalid;
      return;
    }
    if (print_event(o, **line)) ++seen;
  }
}

void add_socket_option(CLI::App& sub, ControlOptions& o) {
  sub.add_option("--socket", o.socket, "ipsecd's control socket")->capture_default_str();
}

// --json of up, down and restart (run_json).
void add_answer_json_option(CLI::App& sub, ControlOptions& o) {
  sub.add_flag("--json", o.json, "Print the daemon's answer as JSON, with \"ok\"");
}

// Until ipsecd no longer accepts on its socket (it closes it when it exits), bounded.
bool wait_for_exit(const std::string& socket, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  const auto until = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  for (;;) {
    auto fd = connect_to(socket);
    if (!fd) return true;  // ECONNREFUSED or ENOENT: gone
    ::close(*fd);
    if (Clock::now() >= until) return false;
    ::poll(nullptr, 0, 100);
  }
}

void do_shutdown(Context& ctx, const ControlOptions& o) {
  control::Request req{"shutdown", "", {}};
  req.keep = o.keep;
  auto r = run(ctx, o, req);
  if (!r) return;
  const nlohmann::json& d = r->data;
  const bool gone = wait_for_exit(o.socket, o.timeout_s);
  if (o.json) {
    nlohmann::json out = d;
    out["stopped"] = gone;
    std::printf("%s\n", out.dump(2).c_str());
  } else if (gone) {
    const std::string n = std::to_string(d.value("ike_sas", 0));
    std::string text =
        o.keep ? "ipsecd stopped for a restart: " + n + " IKE SA(s) left to the next ipsecd in " +
                     d.value("state_file", std::string("?")) +
                     "; the kernel keeps every CHILD SA and policy meanwhile"
               : "ipsecd stopped: " + n + " IKE SA(s) deleted, its SAs and policies removed";
    std::printf("%s\n", printable_line(text).c_str());
  }
  if (!gone) {
    std::fprintf(stderr, "error: ipsecd (pid %d) was still running after %g s\n",
                 d.value("pid", 0), o.timeout_s);
    ctx.exit_code = kExitDaemon;
  }
}

}  // namespace

Result<control::Response> ask_daemon(const std::string& socket, const control::Request& req,
                                     int timeout_ms) {
  std::string line = control::encode(req) + "\n";
  if (line.size() > control::kMaxLine)
    return fail("the request is longer than ipsecd accepts (" + std::to_string(control::kMaxLine) +
                " bytes)");
  auto fd = connect_to(socket);
  if (!fd) return fail(fd.error());
  CloseFd guard{*fd};
  auto w = write_all(*fd, line, timeout_ms);
  // A refused client gets the reason as an answer before the daemon closes: read it even
  // when the close came before our request was written.
  auto answer = read_line(*fd, w ? timeout_ms : 0);
  if (!w && answer) {
    if (auto refused = control::parse_response(*answer); refused && !refused->ok) return refused;
  }
  if (!w) return fail(w.error());
  if (!answer) return fail(answer.error());
  return control::parse_response(*answer);
}

void report_daemon_error(Context& ctx, const std::string& socket, const Error& e) {
  std::fprintf(stderr, "error: %s\n", printable_line(e.message).c_str());
  if (e.code == ENOENT || e.code == ECONNREFUSED)
    std::fprintf(stderr, "hint: is ipsecd running (systemctl status ipsecd)? %s\n",
                 socket == control::kDefaultSocket ? "Or does it listen elsewhere (--socket)?"
                                                   : "Is --socket its --control path?");
  else if (e.code == EACCES || e.code == EPERM)
    std::fprintf(stderr, "hint: the control socket is for root and the members of its group\n");
  ctx.exit_code = kExitDaemon;
}

void setup_status(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  sub.add_flag("--json", o->json, "Print the daemon's answer as JSON, unchanged");
  sub.callback([&ctx, o] { do_status(ctx, *o); });
}

void setup_list_conns(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  sub.add_flag("--json", o->json, "Print the daemon's answer as JSON, unchanged");
  sub.callback([&ctx, o] { do_list_conns(ctx, *o); });
}

void setup_list_certs(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  sub.add_flag("--json", o->json, "Print the daemon's answer as JSON, unchanged");
  sub.callback([&ctx, o] { do_list_certs(ctx, *o); });
}

void setup_up(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  add_answer_json_option(sub, *o);
  sub.add_option("connection", o->name, "Connection name")->required();
  sub.callback([&ctx, o] {
    control::Request req{"up", o->name, {}};
    if (o->json) return run_json(ctx, *o, req);
    if (auto r = run(ctx, *o, req)) {
      const nlohmann::json& d = r->data;
      std::string spi = d.is_object() && d.contains("spi_i") && d["spi_i"].is_string()
                            ? d["spi_i"].get<std::string>()
                            : "?";
      std::printf("%s\n", printable_line("initiated " + o->name + ": IKE SA " + spi).c_str());
    }
  });
}

void setup_down(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  add_answer_json_option(sub, *o);
  auto* name = sub.add_option("connection", o->name, "Connection name");
  sub.add_flag("--all", o->all, "Every established IKE SA of every connection")->excludes(name);
  sub.callback([&ctx, o] {
    if (!o->all && o->name.empty()) {
      std::fprintf(stderr, "error: down needs a connection name or --all\n");
      ctx.exit_code = kExitUsage;
      return;
    }
    control::Request req{"down", o->name, {}};
    req.all = o->all;
    if (o->json) return run_json(ctx, *o, req);
    if (auto r = run(ctx, *o, req)) print_down(*o, r->data);
  });
}

void setup_restart(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  add_answer_json_option(sub, *o);
  sub.add_option("connection", o->name, "Connection name")->required();
  sub.callback([&ctx, o] {
    control::Request req{"restart", o->name, {}};
    if (o->json) return run_json(ctx, *o, req);
    auto r = run(ctx, *o, req);
    if (!r) return;
    const nlohmann::json& d = r->data;
    size_t n = d.is_object() ? d.value("deleted", nlohmann::json::array()).size() : 0;
    std::string text = "restarted " + o->name + ": " + std::to_string(n) + " IKE SA(s) deleted, ";
    if (d.is_object() && d.value("trap", false))
      text += "trap policies in place";
    else
      text += "initiated IKE SA " + (d.is_object() ? d.value("spi_i", "?") : std::string("?"));
    std::printf("%s\n", printable_line(text).c_str());
  });
}

void setup_shutdown(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  o->timeout_s = 60;
  add_socket_option(sub, *o);
  sub.add_flag("--keep", o->keep,
               "For a restart or upgrade: hand the IKE SAs over to the next ipsecd (its state "
               "file) and leave every CHILD SA and policy in the kernel, instead of deleting them");
  sub.add_flag("--json", o->json, "Print the daemon's answer as JSON, with \"stopped\"");
  sub.add_option("--timeout", o->timeout_s, "Seconds to wait for ipsecd to exit (exit 6 if not)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  sub.callback([&ctx, o] { do_shutdown(ctx, *o); });
}

void setup_monitor(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  sub.add_flag("--json", o->json, "Print each event as the daemon's JSON line");
  sub.add_option("--count", o->count, "Stop after this many events (exit 0)")
      ->check(CLI::Range(1u, 1000000000u));
  sub.add_option("--timeout", o->timeout_s,
                 "Stop after this many seconds (exit 1 if --count events were not seen by then)")
      ->check(CLI::Range(0.001, 1e9));
  sub.callback([&ctx, o] { do_monitor(ctx, *o); });
}

}  // namespace ipsec::ctl
