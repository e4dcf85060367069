// SPDX-License-Identifier: Apache-2.0
// The ipsecctl subcommands that talk to ipsecd over its control socket.
#pragma once

#include <string>

#include "control/protocol.h"
#include "ctl/commands.h"

namespace ipsec::ctl {

// ipsecd could not be reached, or refused the request (documented in ipsecctl(8)).
inline constexpr int kExitDaemon = 6;

// How long each read or write of one exchange may wait.
inline constexpr int kDaemonTimeoutMs = 5000;
// The same for status and list-conns, whose answers the daemon takes longer to gather when
// it has 100,000 SAs (they may be 256 MiB, control::kMaxAnswer).
inline constexpr int kListTimeoutMs = 30000;

// One request, one answer. An unreachable daemon is an error whose code is
// connect()'s errno.
Result<control::Response> ask_daemon(const std::string& socket, const control::Request& req,
                                     int timeout_ms = kDaemonTimeoutMs);

// Prints why the daemon could not be asked, with a hint for the usual causes,
// and sets the exit code to kExitDaemon.
void report_daemon_error(Context& ctx, const std::string& socket, const Error& e);

void setup_status(CLI::App& sub, Context& ctx);
void setup_list_conns(CLI::App& sub, Context& ctx);
void setup_list_certs(CLI::App& sub, Context& ctx);
void setup_up(CLI::App& sub, Context& ctx);
void setup_down(CLI::App& sub, Context& ctx);
void setup_restart(CLI::App& sub, Context& ctx);
void setup_monitor(CLI::App& sub, Context& ctx);
void setup_load(CLI::App& sub, Context& ctx);
void setup_shutdown(CLI::App& sub, Context& ctx);

}  // namespace ipsec::ctl
