// SPDX-License-Identifier: Apache-2.0
// A netlink socket over libmnl: one request and its acknowledgement or
// replies, dumps, batches of requests sent at once, and multicast groups.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"

struct mnl_socket;

namespace ipsec::netlink {

// "File exists (EEXIST)"-style text for an errno value, with the kernel's
// extended-ack message first when it gave one.
std::string cause_text(int code, std::string_view extack);

// An NLMSG_ERROR message, read from at most `avail` bytes (the message may be
// cut short by the receive slot). extack points into the message.
struct Ack {
  uint32_t seq = 0;
  int error = 0;  // positive errno, 0 for success
  std::string_view extack;
};
bool parse_ack(const nlmsghdr* nlh, size_t avail, Ack& out);

// Receives the acks of a batch, one call per message.
class AckSink {
 public:
  virtual ~AckSink() = default;
  virtual void on_ack(size_t index, int error, std::string_view extack) = 0;
};

class NlSocket {
 public:
  // Handles one data message of a reply or dump; an error stops the request.
  using Handler = std::function<Result<void>(const nlmsghdr*)>;

  static Result<std::unique_ptr<NlSocket>> open(int bus);
  ~NlSocket();
  NlSocket(const NlSocket&) = delete;
  NlSocket& operator=(const NlSocket&) = delete;

  int fd() const;
  uint32_t portid() const { return portid_; }
  Result<void> join_group(unsigned group);
  // Largest batch (bytes) one send() may carry, and how many acks one batch
  // may produce before they could overflow the receive buffer.
  size_t max_batch_bytes() const { return max_batch_bytes_; }
  size_t max_batch_messages() const { return max_batch_messages_; }

  // Sends one request (seq filled here) and reads until its ack, DONE, or an
  // error. Data messages go to `handler` (may be empty). wipe: the replies
  // carry key material, wipe the receive buffer after use. Errors carry the
  // errno as code and the kernel's extended-ack message (or "") as message.
  Result<void> request(nlmsghdr* nlh, const Handler& handler, bool wipe = false);

  // Sends `count` messages laid out back to back in `msgs` with one send();
  // their seq fields are numbered here. Reports each ack to `sink` by index
  // (matched by seq); the outcome says how many were acked and whether the
  // receive queue overflowed (ENOBUFS), which explains missing acks.
  struct BatchOutcome {
    size_t acked = 0;
    bool overflowed = false;
    int send_error = 0;  // errno of a failed send(); then nothing was acked
  };
  BatchOutcome send_batch(std::span<uint8_t> msgs, size_t count, AckSink& sink);

  // Reads one datagram if one is waiting, without blocking: its size, 0
  // when nothing was there; error ENOBUFS when the kernel dropped messages.
  Result<size_t> receive_now(std::span<uint8_t> buf);

 private:
  NlSocket(mnl_socket* sock, uint32_t portid);
  void size_buffers();
  Result<void> drain(uint32_t seq);
  size_t take_ack(const uint8_t* slot, size_t len, uint32_t first_seq, size_t count, AckSink& sink);
  void read_acks(uint32_t first_seq, size_t count, AckSink& sink, BatchOutcome& out);

  mnl_socket* sock_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  size_t max_batch_bytes_ = 0;
  size_t max_batch_messages_ = 0;
  std::vector<uint8_t> rx_;      // replies and dumps
  std::vector<uint8_t> ack_rx_;  // recvmmsg slots for batch acks
  std::vector<uint8_t> seen_;    // per message of the current batch: acked yet?
};

}  // namespace ipsec::netlink
