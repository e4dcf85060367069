// SPDX-License-Identifier: Apache-2.0
// The subcommands of ipsecctl: each registers its options and its action.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>

#include "common/result.h"
#include "kernel/kernel.h"

namespace ipsec::ctl {

// Exit codes (documented in ipsecctl(8)).
enum Exit : int {
  kExitOk = 0,
  kExitInvalid = 1,   // a policy file has errors; nothing was changed
  kExitUsage = 2,     // bad command line
  kExitRefused = 3,   // the kernel refused a change; everything was rolled back
  kExitPartial = 4,   // the kernel refused a change and the rollback failed too
  kExitNoKernel = 5,  // the kernel could not be reached (permissions, no XFRM)
};

// Opens the kernel (netlink). Commands call it only when they need it.
using KernelFactory = std::function<Result<std::unique_ptr<kernel::Kernel>>()>;

struct Context {
  KernelFactory open_kernel;
  int exit_code = kExitOk;
};

// Prints a kernel error and sets the exit code: `code`, or kExitNoKernel when
// the kernel refused for lack of privilege (with a hint saying so).
void report_kernel_error(Context& ctx, const Error& e, Exit code);

struct Command {
  const char* name;
  const char* description;
  void (*setup)(CLI::App& sub, Context& ctx);
};

void setup_validate(CLI::App& sub, Context& ctx);
void setup_apply(CLI::App& sub, Context& ctx);
void setup_remove(CLI::App& sub, Context& ctx);
void setup_flush(CLI::App& sub, Context& ctx);
void setup_show(CLI::App& sub, Context& ctx);

}  // namespace ipsec::ctl
