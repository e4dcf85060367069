// SPDX-License-Identifier: Apache-2.0
// load: hands policy files to ipsecd, which replaces its connections with
// theirs, all or nothing. The files are checked here first, so their errors
// are named even when the daemon is down, and nothing is sent then.
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "control/protocol.h"
#include "ctl/control_commands.h"
#include "ctl/status_text.h"
#include "policy/static_config.h"

namespace ipsec::ctl {

namespace {

// ipsecd parses the files and may take down SAs before it answers.
constexpr int kLoadTimeoutMs = 30000;

struct LoadOptions {
  std::vector<std::string> files;
  std::string socket = control::kDefaultSocket;
  bool quiet = false;
  bool json = false;
};

// Absolute paths with symlinks resolved, as ipsecd will open them (key files
// are relative to each file's real folder). Names every file that is not there.
bool resolve(const std::vector<std::string>& files, std::vector<std::string>& out) {
  bool good = true;
  for (const auto& f : files) {
    char buf[PATH_MAX];
    struct stat st {};
    if (::realpath(f.c_str(), buf) == nullptr || ::stat(buf, &st) != 0) {
      std::fprintf(stderr, "error: %s: %s\n", printable_line(f).c_str(), std::strerror(errno));
      good = false;
    } else if (!S_ISREG(st.st_mode)) {
      std::fprintf(stderr, "error: %s: not a regular file\n", printable_line(f).c_str());
      good = false;
    } else {
      out.push_back(buf);
    }
  }
  return good;
}

// The same loader as `ipsecctl validate` and ipsecd; prints every problem.
bool check(const std::vector<std::string>& files) {
  policy::LoadResult r = policy::load_files(files);
  for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.str().c_str());
  for (const auto& e : r.errors) std::fprintf(stderr, "error: %s\n", e.str().c_str());
  if (!r.ok()) return false;
  size_t sas = r.config.sas.size(), policies = r.config.policies.size();
  if (sas + policies != 0)
    std::fprintf(stderr,
                 "note: ipsecd takes only the connections; the files' %zu static SA(s) and "
                 "%zu policy(ies) need 'ipsecctl apply'\n",
                 sas, policies);
  return true;
}

void do_load(Context& ctx, const LoadOptions& o) {
  for (const auto& f : o.files)
    if (f == "-") {
      std::fprintf(stderr,
                   "error: load needs file names: ipsecd opens the files itself, "
                   "it cannot read ipsecctl's standard input\n");
      ctx.exit_code = kExitUsage;
      return;
    }
  std::vector<std::string> paths;
  if (!resolve(o.files, paths) || !check(paths)) {
    std::fprintf(stderr, "error: nothing sent to ipsecd; its connections are as before\n");
    ctx.exit_code = kExitInvalid;
    return;
  }
  auto r = ask_daemon(o.socket, control::Request{"load", "", paths}, kLoadTimeoutMs);
  if (!r) {
    report_daemon_error(ctx, o.socket, r.error());
    std::fprintf(stderr, "note: the files are valid; nothing was loaded\n");
    return;
  }
  if (!r->ok) {
    // With details, ipsecd refused the files themselves (what it found that
    // the check here could not, e.g. a local address it cannot bind);
    // without, the request (not root, shutting down).
    for (const auto& d : r->details) std::fprintf(stderr, "error: %s\n", printable_line(d).c_str());
    std::fprintf(stderr, "error: %s; ipsecd's connections are as before\n",
                 printable_line(r->error).c_str());
    ctx.exit_code = r->details.empty() ? kExitDaemon : kExitRefused;
    return;
  }
  if (o.quiet) return;
  if (o.json) {
    std::printf("%s\n", r->data.dump(2).c_str());
    return;
  }
  auto summary = control::load_summary_from_json(r->data);
  if (!summary) {
    std::fprintf(stderr, "warning: ipsecd loaded the files, but %s\n",
                 printable_line(summary.error().message).c_str());
    return;
  }
  std::printf("%s\n", format_load_summary(*summary).c_str());
}

}  // namespace

void setup_load(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<LoadOptions>();
  sub.add_option("files", o->files, "Policy files (JSON) with the connections")->required();
  sub.add_option("--socket", o->socket, "ipsecd's control socket")->capture_default_str();
  sub.add_flag("-q,--quiet", o->quiet, "Print nothing on success");
  sub.add_flag("--json", o->json, "Print the daemon's summary as JSON");
  sub.footer(
      "The files replace every connection ipsecd has: connections not in them are\n"
      "removed. They are checked here first; if any has an error, nothing is sent.\n"
      "Only root may load.");
  sub.callback([&ctx, o] { do_load(ctx, *o); });
}

}  // namespace ipsec::ctl
