// SPDX-License-Identifier: Apache-2.0
// Readable text for what ipsecd reports: `ipsecctl status` and `ipsecctl load`.
#pragma once

#include <cstdint>
#include <string>

#include "control/protocol.h"

namespace ipsec::ctl {

// "0 B", "512 B", "12.3 KiB", "4.0 GiB" (binary units, one decimal above bytes).
std::string human_bytes(uint64_t bytes);

// "45s", "3m 07s", "1h 02m", "2d 03h"; a negative count (the protocol's -1) is "none".
std::string human_duration(int64_t seconds);

// "rekey in 41m 12s, expires in 1h 03m, last rekey 5m 00s ago"; "no rekey scheduled"
// when rekey_in is -1; the other parts left out when -1.
std::string lifetime_text(int64_t rekey_in, int64_t expire_in, int64_t last_rekey_ago);

// One line of `ipsecctl monitor`, local time:
// "2026-11-23 10:00:00 child-rekeyed to-right/lan in 0xc0000002 out 0xc1000002 replaces
// 0xc0000001", ": REASON" and " (DETAIL)" when there are.
std::string format_event(const control::Event& e);

// "rekey 1h 00m, life 1h 06m; IKE rekey 4h 00m; dpd 30s (timeout 2m 00s, clear)" for
// list-conns.
std::string format_conn_settings(const control::ConnInfo& c);

// One block per IKE SA with its CHILD SAs, then the recent failures; every
// line ends in '\n'. "no IKE SAs" when there are none.
std::string format_status(const control::Status& s);

// "loaded 3 connections: added a, b; changed c; removed d"
std::string format_load_summary(const control::LoadSummary& s);

}  // namespace ipsec::ctl
