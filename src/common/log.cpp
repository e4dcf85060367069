// SPDX-License-Identifier: Apache-2.0
// Logging: leveled lines to stderr. Never pass key material to these.
#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "common/bytes.h"

namespace ipsec::log {

namespace {
std::atomic<Level> g_level{Level::Info};
constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
}  // namespace

void set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(); }

void write(Level l, std::string_view message) {
  if (l < g_level.load()) return;
  std::string line = kNames[static_cast<int>(l)];
  line += ": ";
  line += printable_line(message);  // one line, whatever a name or identity holds
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace ipsec::log
