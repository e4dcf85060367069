// status, list-conns, up, down: requests to ipsecd over its control socket.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "control/protocol.h"
#include "ctl/control_commands.h"
#include "ctl/status_text.h"

namespace ipsec::ctl {

namespace {

struct ControlOptions {
  std::string socket = control::kDefaultSocket;
  std::string name;
  bool json = false;
};

struct CloseFd {
  int fd;
  ~CloseFd() { if (fd >= 0) ::close(fd); }
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

// Reads one line, bounded in size and time.
Result<std::string> read_line(int fd, int timeout_ms) {
  std::string in;
  char buf[4096];
  while (in.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0)
      return fail("ipsecd did not answer within " + std::to_string(timeout_ms / 1000) + "s");
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("ipsecd closed the connection without answering");
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > control::kMaxLine) return fail("ipsecd's answer is too long");
  }
  return in.substr(0, in.find('\n'));
}

// Runs a request; prints errors and sets the exit code. Null when it failed.
std::unique_ptr<control::Response> run(Context& ctx, const ControlOptions& o,
                                       control::Request req) {
  auto r = ask_daemon(o.socket, req);
  if (!r) {
    report_daemon_error(ctx, o.socket, r.error());
    return nullptr;
  }
  if (!r->ok) {
    std::fprintf(stderr, "error: %s\n", r->error.c_str());
    for (const auto& d : r->details) std::fprintf(stderr, "error: %s\n", d.c_str());
    ctx.exit_code = kExitDaemon;
    return nullptr;
  }
  return std::make_unique<control::Response>(std::move(*r));
}

void do_status(Context& ctx, const ControlOptions& o) {
  auto r = run(ctx, o, control::Request{"status", "", {}});
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

void do_list_conns(Context& ctx, const ControlOptions& o) {
  auto r = run(ctx, o, control::Request{"list-conns", "", {}});
  if (!r) return;
  auto conns = control::conns_from_json(r->data);
  if (!conns) {
    std::fprintf(stderr, "error: %s\n", conns.error().message.c_str());
    ctx.exit_code = kExitDaemon;
    return;
  }
  for (const auto& c : *conns)
    std::printf("%s: %s (%s) ... %s (%s), child %s, start %s\n", c.name.c_str(), c.local.c_str(),
                c.local_id.c_str(), c.remote.c_str(), c.remote_id.c_str(), c.child.c_str(),
                c.start_action.c_str());
}

void add_socket_option(CLI::App& sub, ControlOptions& o) {
  sub.add_option("--socket", o.socket, "ipsecd's control socket")->capture_default_str();
}

}  // namespace

Result<control::Response> ask_daemon(const std::string& socket, const control::Request& req,
                                     int timeout_ms) {
  std::string line = control::encode(req) + "\n";
  if (line.size() > control::kMaxLine)
    return fail("the request is longer than ipsecd accepts (" +
                std::to_string(control::kMaxLine) + " bytes)");
  auto fd = connect_to(socket);
  if (!fd) return fail(fd.error());
  CloseFd guard{*fd};
  if (auto w = write_all(*fd, line, timeout_ms); !w) return fail(w.error());
  auto answer = read_line(*fd, timeout_ms);
  if (!answer) return fail(answer.error());
  return control::parse_response(*answer);
}

void report_daemon_error(Context& ctx, const std::string& socket, const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.message.c_str());
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
  sub.callback([&ctx, o] { do_list_conns(ctx, *o); });
}

void setup_up(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  sub.add_option("connection", o->name, "Connection name")->required();
  sub.callback([&ctx, o] {
    if (auto r = run(ctx, *o, control::Request{"up", o->name, {}})) {
      const nlohmann::json& d = r->data;
      std::string spi = d.is_object() && d.contains("spi_i") && d["spi_i"].is_string()
                            ? d["spi_i"].get<std::string>()
                            : "?";
      std::printf("initiated %s: IKE SA %s\n", o->name.c_str(), spi.c_str());
    }
  });
}

void setup_down(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  sub.add_option("connection", o->name, "Connection name")->required();
  sub.callback([&ctx, o] {
    if (auto r = run(ctx, *o, control::Request{"down", o->name, {}})) {
      const nlohmann::json& d = r->data;
      size_t n = d.is_object() ? d.value("deleted", nlohmann::json::array()).size() : 0;
      std::printf("deleting %s: %zu IKE SA(s)\n", o->name.c_str(), n);
    }
  });
}

}  // namespace ipsec::ctl
