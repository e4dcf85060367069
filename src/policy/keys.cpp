// SPDX-License-Identifier: Apache-2.0
// Key material of policy files: hex text and key files, decoded straight into SecretBytes.
#include "policy/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ipsec::policy::detail {

namespace {
constexpr off_t kMaxKeyFileBytes = 64 * 1024;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_separator(char c) { return c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

Unexpected<Error> wipe_and_fail(std::vector<uint8_t>& out, std::string message) {
  secure_wipe(out.data(), out.size());
  return fail(std::move(message));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Refuses a key file that is not private to its owner (and group, unless `group_ok`).
Result<void> check_key_file(const std::string& path, const struct stat& st, bool group_ok) {
  std::string quoted = "\"" + path + "\"";
  if (!S_ISREG(st.st_mode)) return fail(quoted + " is not a regular file");
  if (!group_ok && (st.st_mode & (S_IRGRP | S_IWGRP)) != 0)
    return fail(quoted + " is readable or writable by its group (mode " + mode_text(st.st_mode) +
                "); a private key must be private to its owner: run \"chmod 600 " + path + "\"");
  bool r = (st.st_mode & S_IROTH) != 0, w = (st.st_mode & S_IWOTH) != 0;
  if (r || w) {
    std::string who = r && w ? "readable and writable" : r ? "readable" : "writable";
    return fail(quoted + " is " + who + " by others (mode " + mode_text(st.st_mode) +
                "); run \"chmod 600 " + path + "\"");
  }
  if (st.st_size > kMaxKeyFileBytes)
    return fail(quoted + " is too large for a key file (" + std::to_string(st.st_size) + " bytes)");
  return ok();
}

// Reads the whole file into `text` (which the caller wipes).
Result<void> read_all(int fd, const std::string& path, std::string& text, size_t size) {
  text.assign(size + 1, '\0');
  size_t used = 0;
  while (used < text.size()) {
    ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read \"" + path + "\": " + std::strerror(errno), errno);
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > size) return fail("\"" + path + "\" grew while being read");
  text.resize(used);
  return ok();
}
}  // namespace

Result<SecretBytes> decode_hex_key(std::string_view text) {
  size_t skip = 0;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) skip = 2;
  std::vector<uint8_t> out;
  out.reserve(text.size() / 2);  // never reallocates: no unwiped copies
  int high = -1;
  for (size_t i = skip; i < text.size(); ++i) {
    char c = text[i];
    if (is_separator(c)) {
      if (high >= 0)
        return wipe_and_fail(out, "hex digit pair split at offset " + std::to_string(i));
      continue;
    }
    int v = hex_value(c);
    if (v < 0) return wipe_and_fail(out, "not a hex digit at offset " + std::to_string(i));
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) return wipe_and_fail(out, "odd number of hex digits");
  return SecretBytes(std::move(out));
}

// O_NONBLOCK: a FIFO or device must not block the open before fstat refuses it.
int open_checked(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

Result<SecretBytes> read_private_file(const std::string& path, bool group_ok) {
  Fd fd(open_checked(path));
  if (fd.get() < 0) return fail("cannot open \"" + path + "\": " + std::strerror(errno), errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return fail("cannot stat \"" + path + "\": " + std::strerror(errno), errno);
  if (auto checked = check_key_file(path, st, group_ok); !checked) return fail(checked.error());
  std::string text;
  auto read = read_all(fd.get(), path, text, static_cast<size_t>(st.st_size));
  Result<SecretBytes> out = read ? Result<SecretBytes>(SecretBytes(std::span<const uint8_t>(
                                       reinterpret_cast<const uint8_t*>(text.data()), text.size())))
                                 : Result<SecretBytes>(fail(read.error()));
  secure_wipe(text.data(), text.size());
  return out;
}

Result<Bytes> read_public_file(const std::string& path, size_t max_bytes) {
  Fd fd(open_checked(path));
  if (fd.get() < 0) return fail("cannot open \"" + path + "\": " + std::strerror(errno), errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return fail("cannot stat \"" + path + "\": " + std::strerror(errno), errno);
  if (!S_ISREG(st.st_mode)) return fail("\"" + path + "\" is not a regular file");
  if (static_cast<size_t>(st.st_size) > max_bytes)
    return fail("\"" + path + "\" is too large (" + std::to_string(st.st_size) +
                " bytes, at most " + std::to_string(max_bytes) + ")");
  std::string text;
  if (auto r = read_all(fd.get(), path, text, static_cast<size_t>(st.st_size)); !r)
    return fail(r.error());
  return Bytes(text.begin(), text.end());
}

Result<SecretBytes> read_key_file(const std::string& path) {
  auto raw = read_private_file(path);
  if (!raw) return fail(raw.error());
  auto key =
      decode_hex_key(std::string_view(reinterpret_cast<const char*>(raw->data()), raw->size()));
  if (!key) return fail("\"" + path + "\" does not hold a hex key: " + key.error().message);
  return key;
}

std::string resolve_path(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir.back() == '/' ? base_dir + path : base_dir + "/" + path;
}

}  // namespace ipsec::policy::detail
