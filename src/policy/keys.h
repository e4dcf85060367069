// SPDX-License-Identifier: Apache-2.0
// Key material of policy files: hex text and key files, decoded straight into SecretBytes.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace ipsec::policy::detail {

// Hex with an optional "0x" prefix; whitespace and ':' between byte pairs are
// ignored. Every temporary is wiped; error messages never quote the text.
Result<SecretBytes> decode_hex_key(std::string_view text);

// Reads a key file holding hex text. Refuses anything but a regular file, and
// a file that others may read or write (o+r, o+w).
Result<SecretBytes> read_key_file(const std::string& path);

// The raw contents of a private file, with the checks of read_key_file; `group_ok` false
// (private keys) also refuses a file its group may read or write.
Result<SecretBytes> read_private_file(const std::string& path, bool group_ok = true);

// A regular file of at most `max_bytes` (certificates, CRLs), opened without blocking so
// that a FIFO or device is refused, not waited on.
Result<Bytes> read_public_file(const std::string& path, size_t max_bytes);

// `path` if absolute, else `base_dir`/`path`.
std::string resolve_path(const std::string& base_dir, const std::string& path);

}  // namespace ipsec::policy::detail
