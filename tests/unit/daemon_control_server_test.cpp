// SPDX-License-Identifier: Apache-2.0
// ipsecd's control socket with monitor clients: the answer, then every broadcast line in
// order; a monitor that does not read gets a backlog written as the socket drains
// (EPOLLOUT), and one that leaves more than kMaxMonitorBacklog unread is dropped without
// the daemon ever blocking; other clients are served meanwhile.
#include <doctest/doctest.h>
#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "daemon/control_server.h"
#include "daemon/fd.h"

using namespace ipsec;

namespace {

struct Harness {
  std::string dir;
  std::string path;
  daemon::Fd epoll{::epoll_create1(EPOLL_CLOEXEC)};
  std::unique_ptr<daemon::ControlServer> server;
  int requests = 0;
  // When set, what the server answers (else {"command": ...}).
  std::function<control::Response(const control::Request&)> answer_with;

  Harness() {
    char tmpl[] = "/tmp/ipsecd-cs.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    path = dir + "/c.sock";
    auto s = daemon::ControlServer::open(path, epoll.get(),
                                         [this](const control::Request& r, const daemon::Peer&) {
                                           ++requests;
                                           if (answer_with) return answer_with(r);
                                           control::Response resp;
                                           resp.data = {{"command", r.command}};
                                           return resp;
                                         });
    REQUIRE(s);
    server = std::move(*s);
  }
  ~Harness() {
    server.reset();
    std::filesystem::remove_all(dir);
  }

  // Runs the server's side of whatever is ready, a few rounds.
  void pump(int rounds = 3) {
    for (int r = 0; r < rounds; ++r) {
      epoll_event ev[8];
      int n = ::epoll_wait(epoll.get(), ev, 8, 20);
      for (int i = 0; i < n; ++i) {
        if (ev[i].data.fd == server->listen_fd())
          server->on_accept();
        else if (server->is_client(ev[i].data.fd))
          server->on_client(ev[i].data.fd, ev[i].events);
      }
    }
  }

  daemon::Fd connect_client() {
    daemon::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    pump();
    return fd;
  }
};

void send_line(int fd, const std::string& line) {
  std::string l = line + "\n";
  REQUIRE(::send(fd, l.data(), l.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(l.size()));
}

// What the client can read now (waiting at most `ms` for the first byte); "" at EOF.
std::string read_some(int fd, int ms = 200) {
  std::string out;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, out.empty() ? ms : 0) <= 0) return out;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

bool at_eof(int fd) {
  char c;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 200) == 1 && ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

}  // namespace

TEST_CASE("control server: a monitor gets its answer, then the broadcast lines in order") {
  Harness h;
  daemon::Fd c = h.connect_client();
  send_line(c.get(), R"({"command":"monitor"})");
  h.pump();
  CHECK(read_some(c.get()) == R"({"data":{"command":"monitor"},"ok":true})"
                              "\n");
  CHECK(h.server->monitors() == 1);
  h.server->broadcast("{\"event\":\"ike-up\"}\n");
  h.server->broadcast("{\"event\":\"child-up\"}\n");
  CHECK(read_some(c.get()) == "{\"event\":\"ike-up\"}\n{\"event\":\"child-up\"}\n");
  // What a monitor sends afterwards is not a request.
  send_line(c.get(), R"({"command":"status"})");
  h.pump();
  CHECK(h.requests == 1);
  CHECK(read_some(c.get(), 50).empty());
  // A client that is not a monitor gets no events.
  daemon::Fd other = h.connect_client();
  h.server->broadcast("{\"event\":\"ike-down\"}\n");
  CHECK(read_some(other.get(), 50).empty());
  CHECK(read_some(c.get()) == "{\"event\":\"ike-down\"}\n");
  // Closing the monitor removes it.
  c.reset();
  h.pump();
  CHECK(h.server->monitors() == 0);
}

TEST_CASE("control server: a backlog is written when the monitor reads again") {
  Harness h;
  daemon::Fd c = h.connect_client();
  send_line(c.get(), R"({"command":"monitor"})");
  h.pump();
  read_some(c.get());
  // More than the socket buffers, less than the bound: kept, written on EPOLLOUT.
  const std::string line = std::string(999, 'x') + "\n";
  const size_t lines = 400;  // 400 KB
  for (size_t i = 0; i < lines; ++i) h.server->broadcast(line);
  CHECK(h.server->monitors() == 1);
  std::string got;
  for (int i = 0; i < 200 && got.size() < lines * line.size(); ++i) {
    got += read_some(c.get(), 20);
    h.pump(1);
  }
  CHECK(got.size() == lines * line.size());
  CHECK(got == [&] {
    std::string all;
    for (size_t i = 0; i < lines; ++i) all += line;
    return all;
  }());
  CHECK(h.server->monitors() == 1);
}

TEST_CASE("control server: a monitor that does not read is dropped, nobody waits for it") {
  Harness h;
  daemon::Fd slow = h.connect_client();
  send_line(slow.get(), R"({"command":"monitor"})");
  h.pump();
  read_some(slow.get());
  REQUIRE(h.server->monitors() == 1);
  const std::string line = std::string(1023, 'y') + "\n";
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < 2048 + 512; ++i) h.server->broadcast(line);  // 2.5 MiB
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < std::chrono::milliseconds(500));  // never blocked on the socket
  CHECK(h.server->monitors() == 0);
  // The client sees what had been written, then the end.
  std::string got;
  for (int i = 0; i < 50; ++i) {
    std::string more = read_some(slow.get(), 20);
    if (more.empty()) break;
    got += more;
  }
  CHECK(got.size() <= daemon::ControlServer::kMaxMonitorBacklog + 512 * 1024);
  CHECK(at_eof(slow.get()));
  // Others are served as before.
  daemon::Fd c = h.connect_client();
  send_line(c.get(), R"({"command":"status"})");
  h.pump();
  CHECK(read_some(c.get()) == R"({"data":{"command":"status"},"ok":true})"
                              "\n");
}

namespace {

// ControlServer::open on `path` with a handler that answers ok.
Result<std::unique_ptr<daemon::ControlServer>> open_at(const std::string& path, int epoll_fd) {
  return daemon::ControlServer::open(
      path, epoll_fd,
      [](const control::Request&, const daemon::Peer&) { return control::Response{}; });
}

std::string read_file(const std::string& path) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[256];
    size_t n = std::fread(buf, 1, sizeof buf, f);
    out.assign(buf, n);
    std::fclose(f);
  }
  return out;
}

}  // namespace

TEST_CASE("control server: --control never removes what is not a stale socket") {
  char tmpl[] = "/tmp/ipsecd-cs.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  daemon::Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  auto write = [](const std::string& p) {
    FILE* f = std::fopen(p.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("keep\n", f);
    std::fclose(f);
  };

  SUBCASE("a regular file is refused, named, and kept") {
    const std::string path = dir + "/config.json";
    write(path);
    auto s = open_at(path, epoll.get());
    REQUIRE(!s);
    CHECK(s.error().message == "control socket " + path +
                                   ": a regular file is there; refusing to replace it (remove "
                                   "it, or give --control another path)");
    CHECK(read_file(path) == "keep\n");
  }
  SUBCASE("a symbolic link is refused, not followed: link and target kept") {
    const std::string target = dir + "/target", path = dir + "/link.sock";
    write(target);
    REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
    auto s = open_at(path, epoll.get());
    REQUIRE(!s);
    CHECK(s.error().message.find(": a symbolic link is there; refusing") != std::string::npos);
    struct stat st {};
    CHECK(::lstat(path.c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    CHECK(read_file(target) == "keep\n");
  }
  SUBCASE("a directory and a FIFO are refused") {
    REQUIRE(::mkdir((dir + "/d").c_str(), 0700) == 0);
    REQUIRE(::mkfifo((dir + "/f").c_str(), 0600) == 0);
    auto d = open_at(dir + "/d", epoll.get());
    auto f = open_at(dir + "/f", epoll.get());
    REQUIRE(!d);
    REQUIRE(!f);
    CHECK(d.error().message.find("a directory is there") != std::string::npos);
    CHECK(f.error().message.find("a FIFO is there") != std::string::npos);
  }
  SUBCASE("a live socket is refused; a stale one (nobody answers) is replaced") {
    const std::string path = dir + "/c.sock";
    auto first = open_at(path, epoll.get());
    REQUIRE(first);
    auto second = open_at(path, epoll.get());
    REQUIRE(!second);
    CHECK(second.error().message == "another ipsecd answers on " + path);
    // A socket file left behind by a daemon that died: bound, then closed.
    const std::string stale = dir + "/stale.sock";
    {
      daemon::Fd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
      sockaddr_un sun{};
      sun.sun_family = AF_UNIX;
      std::memcpy(sun.sun_path, stale.c_str(), stale.size() + 1);
      REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    }
    auto replaced = open_at(stale, epoll.get());
    CHECK(replaced);
  }
  SUBCASE("at exit, a file that replaced our socket meanwhile is left alone") {
    const std::string path = dir + "/c.sock";
    auto s = open_at(path, epoll.get());
    REQUIRE(s);
    REQUIRE(::unlink(path.c_str()) == 0);
    write(path);
    s->reset();
    CHECK(read_file(path) == "keep\n");
  }
  std::filesystem::remove_all(dir);
}

namespace {

// In a forked child with these credentials: connects to `path`, sends a status request and
// returns the answer line (or "connect: ERROR"), through a pipe; the parent serves the
// socket meanwhile.
std::string ask_as(Harness& h, uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  int out[2];
  REQUIRE(::pipe(out) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(out[0]);
    std::string answer;
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 ||
        ::setuid(uid) != 0) {
      answer = "cannot change credentials";
    } else {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un sun{};
      sun.sun_family = AF_UNIX;
      std::memcpy(sun.sun_path, h.path.c_str(), h.path.size() + 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
        answer = std::string("connect: ") + std::strerror(errno);
      } else {
        const std::string req = "{\"command\":\"status\"}\n";
        (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        answer = read_some(fd, 5000);
      }
    }
    (void)!::write(out[1], answer.data(), answer.size());
    ::_exit(0);
  }
  ::close(out[1]);
  int status = 0;
  for (int i = 0; i < 500 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) h.pump(1);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) answer.append(buf, size_t(n));
  ::close(out[0]);
  return answer;
}

}  // namespace

TEST_CASE(
    "control server: members of the socket's group by a supplementary group; others "
    "told why" *
    doctest::skip(::geteuid() != 0)) {  // skipped unless root: it changes credentials
  Harness h;
  // Anyone may reach the socket, so that the credential check is what decides.
  REQUIRE(::chmod(h.dir.c_str(), 0711) == 0);
  REQUIRE(::chmod(h.path.c_str(), 0666) == 0);
  struct stat st {};
  REQUIRE(::stat(h.path.c_str(), &st) == 0);
  const gid_t group = st.st_gid;  // the socket's group: root's, as the test runs as root
  const uid_t nobody = 65534;
  const gid_t nogroup = 65534;
  // Primary group: allowed, as before. Supplementary group only: allowed now.
  CHECK(ask_as(h, nobody, group, {}) == "{\"data\":{\"command\":\"status\"},\"ok\":true}\n");
  CHECK(ask_as(h, nobody, nogroup, {nogroup, group}) ==
        "{\"data\":{\"command\":\"status\"},\"ok\":true}\n");
  // Neither: a one-line reason before the close, and nothing handled.
  const int before = h.requests;
  const uint64_t refused = h.server->refused();
  const std::string answer = ask_as(h, nobody, nogroup, {nogroup});
  CHECK(
      answer.starts_with("{\"error\":\"permission denied: uid 65534 is not root and not in "
                         "group "));
  CHECK(answer.find(std::to_string(group)) != std::string::npos);
  auto parsed = control::parse_response(answer.substr(0, answer.find('\n')));
  REQUIRE(parsed);
  CHECK_FALSE(parsed->ok);
  CHECK(h.requests == before);
  CHECK(h.server->refused() == refused + 1);
}

namespace {

// Reads one whole line (without its newline) from `fd`, pumping the server meanwhile;
// what came after it stays in `in` for the next call.
std::string read_answer(Harness& h, int fd, std::string& in) {
  std::vector<char> buf(1 << 16);
  size_t nl = in.find('\n');
  for (int idle = 0; idle < 200 && nl == std::string::npos;) {
    h.pump(1);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0) break;
    if (n > 0) {
      const size_t scanned = in.size();  // only what came now can hold the newline
      in.append(buf.data(), static_cast<size_t>(n));
      nl = in.find('\n', scanned);
      idle = 0;
    } else {
      ++idle;
    }
  }
  std::string line = in.substr(0, nl);
  in.erase(0, nl == std::string::npos ? in.size() : nl + 1);
  return line;
}

}  // namespace

TEST_CASE(
    "control server: an answer longer than a request line is written as the client "
    "reads, without keeping other clients waiting") {
  Harness h;
  const size_t big = 3 * control::kMaxLine;  // far more than a socket buffer
  h.answer_with = [big](const control::Request& r) {
    control::Response resp;
    resp.data = {{"command", r.command}};
    if (r.command == "list-conns") resp.data["filler"] = std::string(big, 'x');
    return resp;
  };
  daemon::Fd slow = h.connect_client();
  send_line(slow.get(), R"({"command":"list-conns"})");
  const auto t0 = std::chrono::steady_clock::now();
  h.pump();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
  // While the slow client has not read a byte, another is answered at once.
  daemon::Fd quick = h.connect_client();
  send_line(quick.get(), R"({"command":"status"})");
  h.pump();
  CHECK(read_some(quick.get()) == R"({"data":{"command":"status"},"ok":true})"
                                  "\n");
  // The slow client gets all of it, then a pipelined second request's answer, in order.
  send_line(slow.get(), R"({"command":"up","name":"a"})");
  std::string in;
  const std::string answer = read_answer(h, slow.get(), in);
  REQUIRE(answer.size() > big);
  auto r = control::parse_response(answer);
  REQUIRE(r);
  CHECK(r->data["filler"].get<std::string>().size() == big);
  CHECK(read_answer(h, slow.get(), in) == R"({"data":{"command":"up"},"ok":true})");
  CHECK(h.requests == 3);
}

TEST_CASE(
    "control server: a request line over the limit is answered with an error, then "
    "closed") {
  Harness h;
  daemon::Fd c = h.connect_client();
  const std::string chunk(64 * 1024, 'a');
  for (size_t sent = 0; sent <= control::kMaxLine; sent += chunk.size()) {
    if (::send(c.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) break;
    h.pump(1);
  }
  h.pump();
  std::string in;
  CHECK(read_answer(h, c.get(), in) == R"({"error":"bad request: longer than )" +
                                           std::to_string(control::kMaxLine) +
                                           R"( bytes","ok":false})");
  CHECK(at_eof(c.get()));
  CHECK(h.requests == 0);
  daemon::Fd other = h.connect_client();  // and the server goes on
  send_line(other.get(), R"({"command":"status"})");
  h.pump();
  CHECK(read_some(other.get()) == R"({"data":{"command":"status"},"ok":true})"
                                  "\n");
}

TEST_CASE(
    "control server: a client that stops reading its answer, or never sends, is dropped "
    "after the client timeout") {
  Harness h;
  h.server->set_client_timeout(std::chrono::milliseconds(300));
  h.answer_with = [](const control::Request& r) {
    control::Response resp;
    resp.data = {{"filler", std::string(r.command == "status" ? 4 << 20 : 0, 'x')}};
    return resp;
  };
  daemon::Fd stalled = h.connect_client();
  send_line(stalled.get(), R"({"command":"status"})");
  daemon::Fd idle = h.connect_client();
  h.pump();
  CHECK(h.server->timeout_ms() >= 0);
  CHECK(h.server->timeout_ms() <= 300);
  // The server's loop: epoll_wait bounded by timeout_ms(), then expire().
  for (int i = 0; i < 30; ++i) {
    h.pump(1);
    h.server->expire();
  }
  CHECK(!h.server->is_client(stalled.get()));
  std::string got;
  for (std::string more; !(more = read_some(stalled.get(), 20)).empty();) got += more;
  CHECK(got.size() < (4u << 20));  // what the socket took, then the end
  CHECK(at_eof(idle.get()));
  CHECK(h.server->timeout_ms() == -1);  // nobody left to time out
  // A monitor is not timed out: it waits for events.
  daemon::Fd monitor = h.connect_client();
  send_line(monitor.get(), R"({"command":"monitor"})");
  h.pump();
  read_some(monitor.get());
  for (int i = 0; i < 20; ++i) {
    h.pump(1);
    h.server->expire();
  }
  CHECK(h.server->monitors() == 1);
}

TEST_CASE("control server: the status of 10,000 IKE SAs goes through in one answer") {
  // Several MiB, far over the 1 MiB request limit. (100,000 SAs, the performance goal, are
  // some 75 MiB: the daemon writes them in 0.3 s, an -O2 ipsecctl parses them in 4 s; this
  // Debug build would take ten times as long.)
  constexpr size_t kSas = 10000;
  control::Status status;
  status.ike_sas.reserve(kSas);
  for (size_t i = 0; i < kSas; ++i) {
    control::IkeStatus sa;
    sa.connection = "conn-" + std::to_string(i);
    sa.state = "established";
    sa.spi_i = i + 1;
    sa.spi_r = i + 2;
    sa.local = "2001:db8::1[500]";
    sa.remote = "2001:db8:a::" + std::to_string(i % 10000) + "[500]";
    sa.algorithms = "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519";
    control::ChildStatus child;
    child.name = "lan";
    child.state = "installed";
    child.spi_in = static_cast<uint32_t>(0xc0000000 + i);
    child.spi_out = static_cast<uint32_t>(0xc1000000 + i);
    child.mode = "tunnel";
    child.local_ts = {"10.1.0.0/16"};
    child.remote_ts = {"10.2.0.0/16"};
    child.algorithms = "ENCR_AES_GCM_16_256";
    sa.children.push_back(std::move(child));
    status.ike_sas.push_back(std::move(sa));
  }
  Harness h;
  h.answer_with = [&status](const control::Request&) {
    control::Response resp;
    resp.data_text = control::encode_status(status);  // as Daemon::status answers
    return resp;
  };
  daemon::Fd c = h.connect_client();
  const auto t0 = std::chrono::steady_clock::now();
  send_line(c.get(), R"({"command":"status"})");
  std::string in;
  const std::string answer = read_answer(h, c.get(), in);
  auto r = control::parse_response(answer);
  REQUIRE(r);
  auto back = control::status_from_json(r->data);
  REQUIRE(back);
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("status of " << kSas << " IKE SAs: " << answer.size() / 1024 << " KiB in " << took
                       << " s (encode, write, read, decode)");
  CHECK(answer.size() > 4 * control::kMaxLine);
  REQUIRE(back->ike_sas.size() == kSas);
  CHECK(back->ike_sas.back().connection == "conn-" + std::to_string(kSas - 1));
  CHECK(back->ike_sas.back().children.at(0).spi_in == 0xc0000000 + kSas - 1);
}
