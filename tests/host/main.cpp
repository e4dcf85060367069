// Host-kernel test runner: skips (exit 77) unless it may create network namespaces.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "host_util.h"

namespace {

// Tries unshare(CLONE_NEWNET) in a child, so the runner itself is untouched.
int probe_netns() {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(unshare(CLONE_NEWNET) == 0 ? 0 : errno);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return errno;
  return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

}  // namespace

int main(int argc, char** argv) {
  if (int err = probe_netns(); err != 0) {
    std::printf("SKIPPED: host-kernel tests need root to create network namespaces (%s)\n",
                std::strerror(err));
    return 77;
  }
  doctest::Context ctx(argc, argv);
  int rc = ctx.run();
  ipsec::host_test::print_skips();
  return rc;
}
