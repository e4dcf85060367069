// SPDX-License-Identifier: Apache-2.0
// The control socket: a Unix stream socket speaking newline-delimited JSON (control/protocol.h).
// Answers (up to kMaxAnswer, the status of 100,000 SAs) are written without blocking, as
// the socket drains; a client's next request waits for its previous answer. A client
// whose "monitor" request was answered ok stays connected and receives every line given
// to broadcast(); one that does not read is dropped, and so is any other client that
// neither sends nor reads for kClientTimeout.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "control/protocol.h"
#include "daemon/fd.h"

namespace ipsec::daemon {

// Who is on the other end of a control connection (SO_PEERCRED and SO_PEERGROUPS at accept).
struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
};

class ControlServer {
 public:
  using Handler = std::function<control::Response(const control::Request&, const Peer&)>;
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxClients = 32;
  // A monitor client with more than this unread is dropped (logged): it never blocks us.
  static constexpr size_t kMaxMonitorBacklog = 1 << 20;
  // Answers written to slow readers, all clients together; beyond it a request is answered
  // "ipsecd is busy" (memory stays bounded whoever asks for status).
  static constexpr size_t kMaxAnswersWaiting = size_t{1} << 30;
  static constexpr std::chrono::milliseconds kClientTimeout{30000};

  // Creates the socket's directory, binds (mode 0660) and listens; clients are
  // registered with `epoll_fd`. Refuses if another daemon answers on `path` or if
  // something other than a socket is there (never removed); removes a stale socket.
  static Result<std::unique_ptr<ControlServer>> open(const std::string& path, int epoll_fd,
                                                     Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  int listen_fd() const { return listen_.get(); }
  bool is_client(int fd) const { return clients_.count(fd) != 0; }
  void on_accept();
  // `events`: epoll's for the fd (EPOLLIN, EPOLLOUT once a monitor's backlog waits).
  void on_client(int fd, uint32_t events);
  // One line (with its newline) to every monitor client.
  void broadcast(const std::string& line);
  size_t monitors() const;
  // Milliseconds until the next client is due to time out (-1: none), for epoll_wait;
  // expire() drops the clients that made no progress for the client timeout.
  int timeout_ms() const;
  void expire();
  void set_client_timeout(std::chrono::milliseconds t) { client_timeout_ = t; }  // tests
  uint64_t refused() const { return refused_; }

 private:
  ControlServer(std::string path, Fd listen, int epoll_fd, gid_t gid, Handler handler);
  bool peer_allowed(const Peer& p) const;
  std::string refusal(const Peer& p) const;
  // Answers `why` as an error, then closes `fd` (not a client yet).
  void refuse(int fd, const std::string& why, pid_t pid);
  void drop(int fd);
  size_t answers_waiting() const;
  std::string answer_line(const control::Response& resp) const;
  bool answer(int fd, const std::string& line);
  bool serve(int fd);
  // Writes what the client's backlog holds, as far as the socket takes it, and asks epoll
  // for EPOLLOUT while something is left. False: the client is gone.
  bool flush(int fd);

  std::string path_;
  dev_t dev_ = 0;  // our socket's inode: the destructor removes nothing else
  ino_t ino_ = 0;
  Fd listen_;
  int epoll_fd_;
  gid_t gid_;  // the socket's group: its members may connect
  Handler handler_;
  struct Client {
    Peer peer;
    std::string input;     // what came after the last request answered
    bool monitor = false;  // streaming events; its input is ignored
    bool closing = false;  // answered an over-long line: dropped once that is written
    std::string backlog;   // an answer, or monitor lines, from `sent` on not written yet
    size_t sent = 0;
    bool want_write = false;
    Clock::time_point active;  // the last byte read or written
  };
  std::map<int, Client> clients_;  // by fd
  uint64_t refused_ = 0;           // connections refused by credentials or limits
  std::chrono::milliseconds client_timeout_ = kClientTimeout;
};

}  // namespace ipsec::daemon
