// SPDX-License-Identifier: Apache-2.0
// The control socket: accepting, checking peer credentials, framing lines, answering.
#include "daemon/control_server.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
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

constexpr int kWriteTimeoutMs = 1000;  // a client that does not read is dropped
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

// Writes all of `data`, waiting at most kWriteTimeoutMs for each chunk.
bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, kWriteTimeoutMs) <= 0) return false;
  }
  return true;
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
    clients_[fd].peer = std::move(*peer);  // owned from here; closed in drop()
  }
}

// The reason as an error answer (one line: the socket's buffer is empty, so it fits
// without waiting), what the client sent discarded (closing with unread input would make
// the client's read fail with ECONNRESET instead of giving it the line), then the close.
void ControlServer::refuse(int fd, const std::string& why, pid_t pid) {
  ++refused_;
  log::warn("control: connection refused (pid " + std::to_string(pid) + "): " + why);
  const std::string line = control::encode(control::Response::failure(why)) + "\n";
  (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  char buf[4096];
  for (int i = 0; i < 64 && ::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; ++i) {
  }
  ::close(fd);
}

void ControlServer::drop(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  clients_.erase(fd);
}

bool ControlServer::answer(int fd, const std::string& line) {
  auto req = control::parse_request(line);
  control::Response resp =
      req ? handler_(*req, clients_[fd].peer) : control::Response::failure(req.error().message);
  if (!write_all(fd, control::encode(resp) + "\n")) return false;
  if (req && req->command == "monitor" && resp.ok) {
    clients_[fd].monitor = true;
    clients_[fd].input.clear();
  }
  return true;
}

void ControlServer::on_client(int fd, uint32_t events) {
  if ((events & EPOLLOUT) != 0 && !flush(fd)) return drop(fd);
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0) return;
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return drop(fd);
  Client& c = clients_[fd];
  if (c.monitor) return;  // a monitor only listens; what it sends is ignored
  c.input.append(buf, static_cast<size_t>(n));
  for (size_t nl = c.input.find('\n'); nl != std::string::npos; nl = c.input.find('\n')) {
    std::string line = c.input.substr(0, nl);
    c.input.erase(0, nl + 1);
    if (!answer(fd, line)) return drop(fd);
    if (c.monitor) return;
  }
  if (c.input.size() > control::kMaxLine) drop(fd);
}

bool ControlServer::flush(int fd) {
  Client& c = clients_[fd];
  while (!c.backlog.empty()) {
    ssize_t n = ::send(fd, c.backlog.data(), c.backlog.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.backlog.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;
  }
  bool want = !c.backlog.empty();
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
    if (c.backlog.size() + line.size() > kMaxMonitorBacklog) {
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

size_t ControlServer::monitors() const {
  size_t n = 0;
  for (const auto& [fd, c] : clients_) n += c.monitor ? 1 : 0;
  return n;
}

}  // namespace ipsec::daemon
