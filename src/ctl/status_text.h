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

// One block per IKE SA with its CHILD SA, then the recent failures; every
// line ends in '\n'. "no IKE SAs" when there are none.
std::string format_status(const control::Status& s);

// "loaded 3 connections: added a, b; changed c; removed d"
std::string format_load_summary(const control::LoadSummary& s);

}  // namespace ipsec::ctl
