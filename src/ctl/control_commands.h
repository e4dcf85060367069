// The ipsecctl subcommands that talk to ipsecd over its control socket.
#pragma once

#include "ctl/commands.h"

namespace ipsec::ctl {

// ipsecd could not be reached, or refused the request (documented in ipsecctl(8)).
inline constexpr int kExitDaemon = 6;

void setup_status(CLI::App& sub, Context& ctx);
void setup_list_conns(CLI::App& sub, Context& ctx);
void setup_up(CLI::App& sub, Context& ctx);
void setup_down(CLI::App& sub, Context& ctx);

}  // namespace ipsec::ctl
