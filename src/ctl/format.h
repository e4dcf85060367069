// SPDX-License-Identifier: Apache-2.0
// Readable text for SAs and policies, as `ipsecctl show` prints them.
#pragma once

#include <string>
#include <vector>

#include "kernel/types.h"

namespace ipsec::ctl {

// Several lines, no trailing newline. Keys are shown only with show_keys.
std::string format_sa(const kernel::SaParams& sa, bool show_keys);
std::string format_policy(const kernel::PolicyParams& p);

// A stable order for display, whatever order the kernel dumps in: SAs by
// endpoints, protocol and SPI; policies by selector, then direction.
void sort_for_display(std::vector<kernel::SaParams>& sas);
void sort_for_display(std::vector<kernel::PolicyParams>& policies);

}  // namespace ipsec::ctl
