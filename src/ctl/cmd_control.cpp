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

namespace ipsec::ctl {

namespace {

constexpr int kTimeoutMs = 5000;  // for each read or write of the one exchange

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
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno), errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
    int err = errno;
    ::close(fd);
    return fail("cannot reach ipsecd at " + path + ": " + std::strerror(err), err);
  }
  return fd;
}

// Reads one line, bounded in size and time.
Result<std::string> read_line(int fd) {
  std::string in;
  char buf[4096];
  while (in.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kTimeoutMs) <= 0) return fail("ipsecd did not answer");
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return fail("ipsecd closed the connection");
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > control::kMaxLine) return fail("ipsecd's answer is too long");
  }
  return in.substr(0, in.find('\n'));
}

// One request, one response.
Result<control::Response> ask_daemon(const std::string& path, const control::Request& req) {
  auto fd = connect_to(path);
  if (!fd) return fail(fd.error());
  CloseFd guard{*fd};
  std::string line = control::encode(req) + "\n";
  if (::send(*fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return fail(std::string("cannot send to ipsecd: ") + std::strerror(errno));
  auto answer = read_line(*fd);
  if (!answer) return fail(answer.error());
  return control::parse_response(*answer);
}

// Runs a request; prints errors and sets the exit code. Null when it failed.
std::unique_ptr<control::Response> run(Context& ctx, const ControlOptions& o,
                                       control::Request req) {
  auto r = ask_daemon(o.socket, req);
  if (!r || !r->ok) {
    std::fprintf(stderr, "error: %s\n", r ? r->error.c_str() : r.error().message.c_str());
    ctx.exit_code = kExitDaemon;
    return nullptr;
  }
  return std::make_unique<control::Response>(std::move(*r));
}

void print_child(const control::ChildStatus& c) {
  if (c.state == "none") return;
  std::printf("  child %s %s spi in %s out %s\n", c.state.c_str(), c.mode.c_str(),
              control::spi_hex(c.spi_in, 8).c_str(), control::spi_hex(c.spi_out, 8).c_str());
  for (size_t i = 0; i < c.local_ts.size() || i < c.remote_ts.size(); ++i)
    std::printf("    %s === %s\n", i < c.local_ts.size() ? c.local_ts[i].c_str() : "",
                i < c.remote_ts.size() ? c.remote_ts[i].c_str() : "");
  if (!c.algorithms.empty()) std::printf("    %s\n", c.algorithms.c_str());
  if (!c.failure.empty()) std::printf("    failure: %s\n", c.failure.c_str());
}

void print_status(const control::Status& s) {
  if (s.ike_sas.empty()) std::printf("no IKE SAs\n");
  for (const auto& sa : s.ike_sas) {
    std::printf("%s: %s, %s %s ... %s, %llus\n", sa.connection.c_str(), sa.state.c_str(),
                sa.initiator ? "initiator" : "responder", sa.local.c_str(), sa.remote.c_str(),
                static_cast<unsigned long long>(sa.age_seconds));
    std::printf("  ike spi %s/%s %s\n", control::spi_hex(sa.spi_i, 16).c_str(),
                control::spi_hex(sa.spi_r, 16).c_str(), sa.algorithms.c_str());
    if (!sa.failure.empty()) std::printf("  failure: %s\n", sa.failure.c_str());
    print_child(sa.child);
  }
  for (const auto& c : s.closed)
    if (c.state == "failed" || !c.child_failure.empty())
      std::printf("failed: %s: %s%s%s\n", c.label.c_str(), c.reason.c_str(),
                  c.child_failure.empty() ? "" : "; child: ", c.child_failure.c_str());
}

void do_status(Context& ctx, const ControlOptions& o) {
  auto r = run(ctx, o, control::Request{"status", "", {}});
  if (!r) return;
  if (o.json) {
    std::printf("%s\n", r->data.dump(2).c_str());
    return;
  }
  auto s = control::status_from_json(r->data);
  if (!s) {
    std::fprintf(stderr, "error: %s\n", s.error().message.c_str());
    ctx.exit_code = kExitDaemon;
    return;
  }
  print_status(*s);
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

void setup_status(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  sub.add_flag("--json", o->json, "Print the daemon's answer as JSON");
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
    if (auto r = run(ctx, *o, control::Request{"up", o->name, {}}))
      std::printf("initiated %s: IKE SA %s\n", o->name.c_str(),
                  r->data.value("spi_i", std::string()).c_str());
  });
}

void setup_down(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ControlOptions>();
  add_socket_option(sub, *o);
  sub.add_option("connection", o->name, "Connection name")->required();
  sub.callback([&ctx, o] {
    if (auto r = run(ctx, *o, control::Request{"down", o->name, {}}))
      std::printf("deleting %s: %zu IKE SA(s)\n", o->name.c_str(), r->data["deleted"].size());
  });
}

}  // namespace ipsec::ctl
