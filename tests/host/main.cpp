// SPDX-License-Identifier: Apache-2.0
// Host-kernel test runner: skips (exit 77) unless it may create network
// namespaces; the "real-sa" suite runs only when asked for and ESP exists.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "host_util.h"
#include "netlink/xfrm_kernel.h"

namespace {

constexpr const char* kRealSaSuite = "real-sa";

// Runs `probe` in a forked child, so the runner itself is untouched; the
// child's exit status is an errno value, 0 for success.
template <class Probe>
int in_child(Probe probe) {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(probe());
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return errno;
  return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

int probe_netns() {
  return in_child([] { return unshare(CLONE_NEWNET) == 0 ? 0 : errno; });
}

// Adds a throw-away ESP SA in a fresh namespace: the kernel refuses it with
// EPROTONOSUPPORT (no esp4) or ENOSYS (no such algorithm) when it cannot.
int probe_esp() {
  return in_child([] {
    using namespace ipsec;
    if (unshare(CLONE_NEWNET) != 0) return errno;
    auto k = netlink::XfrmKernel::open();
    if (!k) return k.error().code != 0 ? k.error().code : EIO;
    kernel::SaParams sa;
    sa.src = IpAddress::v4(0xc0000201);  // 192.0.2.1
    sa.dst = IpAddress::v4(0xc0000202);  // 192.0.2.2
    sa.spi = 0x100;
    sa.enc = kernel::Algorithm{"cbc(aes)", SecretBytes(std::vector<uint8_t>(16, 1)), 0};
    sa.auth = kernel::Algorithm{"hmac(sha256)", SecretBytes(std::vector<uint8_t>(32, 2)), 128};
    auto r = (*k)->add_sa(sa);
    if (!r) return r.error().code != 0 ? r.error().code : EIO;
    return 0;
  });
}

// Whether a -ts/--test-suite filter (doctest's spellings) names the suite.
bool suite_requested(int argc, char** argv, std::string_view suite) {
  constexpr std::string_view kPrefixes[] = {"-ts=", "--test-suite=", "-dt-ts=", "--dt-test-suite="};
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    for (auto p : kPrefixes)
      if (arg.starts_with(p) && arg.substr(p.size()).find(suite) != std::string_view::npos)
        return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (int err = probe_netns(); err != 0) {
    std::printf("SKIPPED: host-kernel tests need root to create network namespaces (%s)\n",
                std::strerror(err));
    return 77;
  }
  bool real_sa = suite_requested(argc, argv, kRealSaSuite);
  if (real_sa) {
    int err = probe_esp();
    if (err == EPROTONOSUPPORT || err == ENOSYS) {
      std::printf("SKIPPED: this kernel has no ESP/AH (the guest test e2e_real_sa runs these)\n");
      return 77;
    }
    // Any other failure: run the suite, whose cases then say what went wrong.
    if (err != 0) std::printf("note: the ESP probe failed: %s\n", std::strerror(err));
  }
  doctest::Context ctx(argc, argv);
  if (!real_sa) ctx.addFilter("test-suite-exclude", kRealSaSuite);
  int rc = ctx.run();
  ipsec::host_test::print_skips();
  return rc;
}
