// SPDX-License-Identifier: Apache-2.0
// Key material of policy files: hex text and key files, decoded straight into SecretBytes.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"

namespace ipsec::policy::detail {

// Hex with an optional "0x" prefix; whitespace and ':' between byte pairs are
// ignored. Every temporary is wiped; error messages never quote the text.
Result<SecretBytes> decode_hex_key(std::string_view text);

// Reads a key file holding hex text. Refuses anything but a regular file, and
// a file that others may read or write (o+r, o+w).
Result<SecretBytes> read_key_file(const std::string& path);

// The raw contents of a private file, with the checks of read_key_file.
Result<SecretBytes> read_private_file(const std::string& path);

// `path` if absolute, else `base_dir`/`path`.
std::string resolve_path(const std::string& base_dir, const std::string& path);

}  // namespace ipsec::policy::detail
