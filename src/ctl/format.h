// Readable text for SAs and policies, as `ipsecctl show` prints them.
#pragma once

#include <string>

#include "kernel/types.h"

namespace ipsec::ctl {

// Several lines, no trailing newline. Keys are shown only with show_keys.
std::string format_sa(const kernel::SaParams& sa, bool show_keys);
std::string format_policy(const kernel::PolicyParams& p);

}  // namespace ipsec::ctl
