// SPDX-License-Identifier: Apache-2.0
// Pure XFRM netlink codec (linux/xfrm.h): the kernel model to netlink messages
// and back. No sockets, no state: build into a caller's buffer, parse from one.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <span>

#include "common/result.h"
#include "kernel/events.h"
#include "kernel/kernel.h"
#include "kernel/types.h"

namespace ipsec::netlink {

// A message built at the start of the caller's buffer. Error code EMSGSIZE
// means "does not fit"; EINVAL means the parameters cannot be encoded.
// Flags are NLM_F_REQUEST|NLM_F_ACK (dumps: NLM_F_REQUEST|NLM_F_DUMP); seq
// and portid are left 0 for the caller to fill.
using Built = Result<nlmsghdr*>;

// XFRM_MSG_NEWSA / XFRM_MSG_UPDSA. The buffer then holds key material: the
// caller wipes it (secure_wipe) once sent.
Built build_sa(std::span<uint8_t> buf, const kernel::SaParams& sa, bool update);
// XFRM_MSG_DELSA / XFRM_MSG_GETSA by (dst, spi, proto, mark, src).
Built build_sa_id(std::span<uint8_t> buf, uint16_t type, const kernel::SaId& id);
// XFRM_MSG_NEWPOLICY / XFRM_MSG_UPDPOLICY.
Built build_policy(std::span<uint8_t> buf, const kernel::PolicyParams& p, bool update);
// XFRM_MSG_DELPOLICY / XFRM_MSG_GETPOLICY by selector, dir, mark and if_id.
Built build_policy_id(std::span<uint8_t> buf, uint16_t type, const kernel::PolicyId& id);
Built build_alloc_spi(std::span<uint8_t> buf, const kernel::SpiRequest& req);
Built build_flush_sa(std::span<uint8_t> buf);             // every protocol (IPSEC_PROTO_ANY)
Built build_flush_policy(std::span<uint8_t> buf);         // main policies
Built build_dump(std::span<uint8_t> buf, uint16_t type);  // GETSA / GETPOLICY with NLM_F_DUMP
Built build_info(std::span<uint8_t> buf, uint16_t type);  // GETSADINFO / GETSPDINFO
// One kernel::Op of a batch, with NLM_F_ACK.
Built build_op(std::span<uint8_t> buf, const kernel::Op& op);
// Whether building the op puts key material into the buffer.
bool op_carries_keys(const kernel::Op& op);

// Whether the message at `nlh` lies whole within the `len` bytes left: mnl_nlmsg_ok
// compares nlmsg_len as a signed int, so a length of 2^31 or more passes it (found by
// xfrm_fuzz); this compares it unsigned.
inline bool message_ok(const nlmsghdr* nlh, int len) {
  return len >= static_cast<int>(sizeof(nlmsghdr)) && nlh->nlmsg_len >= sizeof(nlmsghdr) &&
         nlh->nlmsg_len <= static_cast<unsigned>(len);
}

// Parsers take a message whose nlmsg_len has been checked against the bytes
// received (message_ok). They never cast onto the packet: every structure is
// bounds-checked and copied. Keys land in SecretBytes only.

// XFRM_MSG_NEWSA / UPDSA (dumps, GETSA replies, events).
Result<kernel::SaParams> parse_sa(const nlmsghdr* nlh);
// XFRM_MSG_NEWPOLICY / UPDPOLICY (dumps, GETPOLICY replies, events).
Result<kernel::PolicyParams> parse_policy(const nlmsghdr* nlh);
Result<kernel::SadInfo> parse_sad_info(const nlmsghdr* nlh);  // XFRM_MSG_NEWSADINFO
Result<kernel::SpdInfo> parse_spd_info(const nlmsghdr* nlh);  // XFRM_MSG_NEWSPDINFO
// A multicast message; nullopt for types this model does not report.
Result<std::optional<kernel::Event>> parse_event(const nlmsghdr* nlh);

}  // namespace ipsec::netlink
