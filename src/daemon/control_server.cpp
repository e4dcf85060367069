// SPDX-License-Identifier: Apache-2.0
// The control socket: accepting, checking peer credentials, framing lines, answering.
#include "daemon/control_server.h"

#include <errno.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/log.h"

namespace ipsec::daemon {

namespace {

#ifndef SO_PEERGROUPS
constexpr int SO_PEERGROUPS = 59;  // Linux 4.13; older C libraries lack the name
#endif

Error sys_error(const std::string& what) {
  int err = errno;
  return Error{what + ": " + std::strerror(err), err};
}

// The group's name, or its number when it has none.
std::string group_name(gid_t gid) {
  group g{};
  group* found = nullptr;
  std::vector<char> buf(16384);
  if (::getgrgid_r(gid, &g, buf.data(), buf.size(), &found) == 0 && found != nullptr)
    return std::string(found->gr_name) + " (gid " + std::to_string(gid) + ")";
  return std::to_string(gid);
}

// SO_PEERCRED, and the supplementary groups from SO_PEERGROUPS (Linux 4.13): both as the
// peer had them when it connected.
Result<Peer> peer_of(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return fail(sys_error("SO_PEERCRED"));
  Peer p{cred.pid, cred.uid, cred.gid, {}};
  p.groups.resize(64);
  for (int tries = 0; tries < 3; ++tries) {
    len = static_cast<socklen_t>(p.groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p.groups.data(), &len) == 0) {
      p.groups.resize(len / sizeof(gid_t));
      return p;
    }
    if (errno != ERANGE) break;  // ENOPROTOOPT before 4.13: the primary group only
    p.groups.resize(len / sizeof(gid_t) + 1);
  }
  p.groups.clear();
  return p;
}

// Closes a client's socket after discarding (bounded) what it sent that was not read:
// closing over unread input would make the client's next read fail with ECONNRESET
// instead of returning what we wrote, then the end.
void close_quietly(int fd) {
  ::shutdown(fd, SHUT_WR);
  char buf[65536];
  for (int i = 0; i < 16 && ::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; ++i) {
  }
  ::close(fd);
}

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sun.sun_path)
    return fail("control socket path \"" + path + "\" is empty or too long");
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  return sun;
}

const char* kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a socket";
}

// Makes `path` free for bind(): nothing there, or a stale socket (one nobody answers on,
// ECONNREFUSED), which is removed. Anything else is refused and left alone: a typo in
// --control must never delete a file, and a symbolic link is not followed.
Result<void> clear_stale_socket(const std::string& path, const sockaddr_un& sun) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok();
    return fail(sys_error("control socket " + path));
  }
  if (!S_ISSOCK(st.st_mode))
    return fail("control socket " + path + ": " + kind_of(st.st_mode) +
                " is there; refusing to replace it (remove it, or give --control another path)");
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return fail(sys_error("socket"));
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0)
    return fail("another ipsecd answers on " + path);
  if (errno != ECONNREFUSED) return fail(sys_error("control socket " + path));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail(sys_error("removing the stale control socket " + path));
  return ok();
}

Result<void> make_parent(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) return ok();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string() + ": " + ec.message(), ec.value());
  return ok();
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::open(const std::string& path, int epoll_fd,
                                                           Handler handler) {
  auto sun = unix_address(path);
  if (!sun) return fail(sun.error());
  if (auto r = make_parent(path); !r) return fail(r.error());
  if (auto r = clear_stale_socket(path, *sun); !r) return fail(r.error());
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(sys_error("socket"));
  mode_t old = ::umask(0117);
  int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sun), sizeof *sun);
  ::umask(old);
  if (rc != 0) return fail(sys_error("bind " + path));
  if (::chmod(path.c_str(), 0660) != 0) return fail(sys_error("chmod " + path));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fail(sys_error("stat " + path));
  if (::listen(fd.get(), 16) != 0) return fail(sys_error("listen " + path));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd.get();
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd.get(), &ev) != 0) return fail(sys_error("epoll_ctl"));
  auto server = std::unique_ptr<ControlServer>(
      new ControlServer(path, std::move(fd), epoll_fd, st.st_gid, std::move(handler)));
  server->dev_ = st.st_dev;
  server->ino_ = st.st_ino;
  return server;
}

ControlServer::ControlServer(std::string path, Fd listen, int epoll_fd, gid_t gid, Handler handler)
    : path_(std::move(path)),
      listen_(std::move(listen)),
      epoll_fd_(epoll_fd),
      gid_(gid),
      handler_(std::move(handler)) {}

ControlServer::~ControlServer() {
  while (!clients_.empty()) drop(clients_.begin()->first);
  // Only our own socket: whatever replaced it meanwhile stays.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
      st.st_ino == ino_)
    ::unlink(path_.c_str());
}

// Root, the daemon's own user, or a member of the socket's group (primary or supplementary).
bool ControlServer::peer_allowed(const Peer& p) const {
  return p.uid == 0 || p.uid == ::geteuid() || p.gid == gid_ ||
         std::find(p.groups.begin(), p.groups.end(), gid_) != p.groups.end();
}

// Why `p` may not use the socket, for the client and the log.
std::string ControlServer::refusal(const Peer& p) const {
  std::string who = "uid " + std::to_string(p.uid) + " is not root";
  if (::geteuid() != 0) who += ", not ipsecd's own uid " + std::to_string(::geteuid());
  who += " and not in group " + group_name(gid_);
  return "permission denied: " + who;
}

void ControlServer::on_accept() {
  for (int i = 0; i < 16; ++i) {  // bounded: the rest on the next wakeup
    int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    auto peer = peer_of(fd);
    std::string why = !peer ? "cannot tell who is connecting: " + peer.error().message
                      : !peer_allowed(*peer) ? refusal(*peer)
                      : clients_.size() >= kMaxClients
                          ? "too many control clients (" + std::to_string(kMaxClients) + ")"
                          : std::string();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (why.empty() && ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      why = sys_error("epoll_ctl").message;
    if (!why.empty()) {
      refuse(fd, why, peer ? peer->pid : 0);
      continue;
    }
    Client& c = clients_[fd];  // owned from here; closed in drop()
    c.peer = std::move(*peer);
    c.active = Clock::now();
  }
}

// The reason as an error answer (one line: the socket's buffer is empty, so it fits
// without waiting), then the close.
void ControlServer::refuse(int fd, const std::string& why, pid_t pid) {
  ++refused_;
  log::warn("control: connection refused (pid " + std::to_string(pid) + "): " + why);
  const std::string line = control::encode(control::Response::failure(why)) + "\n";
  (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  close_quietly(fd);
}

void ControlServer::drop(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  close_quietly(fd);
  clients_.erase(fd);
}

size_t ControlServer::answers_waiting() const {
  size_t n = 0;
  for (const auto& [fd, c] : clients_) n += c.monitor ? 0 : c.backlog.size() - c.sent;
  return n;
}

// The answer's line, or an error in its place when it is too long for the protocol or
// would take the answers waiting for their readers over kMaxAnswersWaiting.
std::string ControlServer::answer_line(const control::Response& resp) const {
  std::string out = control::encode(resp);
  const size_t waiting = answers_waiting();
  if (out.size() > control::kMaxAnswer)
    out = control::encode(control::Response::failure(
        "the answer (" + std::to_string(out.size()) + " bytes) is longer than the control " +
        "protocol allows (" + std::to_string(control::kMaxAnswer) + " bytes)"));
  else if (waiting + out.size() > kMaxAnswersWaiting)
    out = control::encode(
        control::Response::failure("ipsecd is busy: " + std::to_string(waiting) +
                                   " bytes of answers wait for their readers; try again later"));
  return out + "\n";
}

// Queues the answer to one request line and writes what the socket takes now; the rest
// goes out on EPOLLOUT, so a large answer or a slow reader never blocks the daemon.
bool ControlServer::answer(int fd, const std::string& line) {
  auto req = control::parse_request(line);
  Client& c = clients_[fd];
  control::Response resp =
      req ? handler_(*req, c.peer) : control::Response::failure(req.error().message);
  c.backlog += answer_line(resp);
  if (req && req->command == "monitor" && resp.ok) {
    c.monitor = true;
    c.input.clear();
  }
  return flush(fd);
}

// Answers the complete request lines of `fd`'s input in order, the next one only once the
// previous answer is written. A line longer than kMaxLine gets an error, then the close.
// False: the client is to be dropped.
bool ControlServer::serve(int fd) {
  Client& c = clients_[fd];
  while (!c.monitor && !c.closing && c.sent == c.backlog.size()) {
    const size_t nl = c.input.find('\n');
    if (nl == std::string::npos) {
      if (c.input.size() <= control::kMaxLine) return true;
      c.input.clear();
      c.closing = true;
      c.backlog += answer_line(control::Response::failure(
          "bad request: longer than " + std::to_string(control::kMaxLine) + " bytes"));
      return flush(fd) && c.sent < c.backlog.size();  // written: closed now
    }
    std::string line = c.input.substr(0, nl);
    c.input.erase(0, nl + 1);
    if (!answer(fd, line)) return false;
  }
  // Requests sent while an answer is being written wait, within the line limit.
  return c.monitor || c.input.size() <= control::kMaxLine + 1 || c.closing;
}

void ControlServer::on_client(int fd, uint32_t events) {
  if ((events & EPOLLOUT) != 0 && !flush(fd)) return drop(fd);
  Client& c = clients_[fd];
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return drop(fd);
    if (n > 0) {
      c.active = Clock::now();
      // A monitor only listens, and a closing client has been answered: input ignored.
      if (!c.monitor && !c.closing) c.input.append(buf, static_cast<size_t>(n));
    }
  }
  if (c.closing && c.sent == c.backlog.size()) return drop(fd);
  if (!serve(fd)) drop(fd);
}

bool ControlServer::flush(int fd) {
  Client& c = clients_[fd];
  while (c.sent < c.backlog.size()) {
    ssize_t n = ::send(fd, c.backlog.data() + c.sent, c.backlog.size() - c.sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      c.active = Clock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;
  }
  if (c.sent == c.backlog.size()) {
    std::string().swap(c.backlog);  // a large answer's memory goes at once
    c.sent = 0;
  } else if (c.sent > (1 << 20) && c.sent > c.backlog.size() / 2) {
    c.backlog.erase(0, c.sent);  // rarely: written bytes are skipped, not moved, meanwhile
    c.sent = 0;
  }
  bool want = c.sent < c.backlog.size();
  if (want != c.want_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) return false;
    c.want_write = want;
  }
  return true;
}

void ControlServer::broadcast(const std::string& line) {
  std::vector<int> gone;
  for (auto& [fd, c] : clients_) {
    if (!c.monitor) continue;
    if (c.backlog.size() - c.sent + line.size() > kMaxMonitorBacklog) {
      log::warn("control: monitor client (pid " + std::to_string(c.peer.pid) +
                ") dropped: it left more than " + std::to_string(kMaxMonitorBacklog) +
                " bytes of events unread");
      gone.push_back(fd);
      continue;
    }
    c.backlog += line;
    if (!flush(fd)) gone.push_back(fd);
  }
  for (int fd : gone) drop(fd);
}

int ControlServer::timeout_ms() const {
  if (clients_.empty()) return -1;
  auto first = Clock::time_point::max();
  for (const auto& [fd, c] : clients_)
    if (!c.monitor) first = std::min(first, c.active + client_timeout_);
  if (first == Clock::time_point::max()) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(first - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60000));
}

void ControlServer::expire() {
  const auto now = Clock::now();
  std::vector<int> gone;
  for (const auto& [fd, c] : clients_)
    if (!c.monitor && now - c.active >= client_timeout_) gone.push_back(fd);
  for (int fd : gone) {
    const Client& c = clients_[fd];
    log::warn("control: client (pid " + std::to_string(c.peer.pid) + ") dropped after " +
              std::to_string(client_timeout_.count() / 1000) + "s without progress" +
              (c.sent < c.backlog.size()
                   ? ", " + std::to_string(c.backlog.size() - c.sent) + " bytes of answer unread"
                   : std::string()));
    drop(fd);
  }
}

size_t ControlServer::monitors() const {
  size_t n = 0;
  for (const auto& [fd, c] : clients_) n += c.monitor ? 1 : 0;
  return n;
}

}  // namespace ipsec::daemon
