// SPDX-License-Identifier: Apache-2.0
// Byte buffers and hex conversion.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ipsec {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Lower-case hex, no prefix, no separators.
// Text from a packet or a file, safe to print: control characters (C0, DEL) and '\\' as
// "\\xNN"; everything else (UTF-8 included) unchanged.
std::string printable(std::string_view text);

std::string to_hex(ByteView data);

// Accepts an optional "0x" prefix; ':' and whitespace between byte pairs are
// ignored. Odd length or a non-hex digit is an error naming the offset.
Result<Bytes> from_hex(std::string_view text);

}  // namespace ipsec
