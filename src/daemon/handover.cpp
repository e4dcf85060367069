// SPDX-License-Identifier: Apache-2.0
// Restart and upgrade without dropping tunnels. `ipsecctl shutdown --keep` (the unit's
// ExecStop when systemd is restarting the service, so also a package upgrade) makes ipsecd
// wait, bounded by shutdown_wait, for the exchanges in flight, write the record of every
// IKE SA (ike/v2/handover.h) to the state file and exit without a message to the peers
// and without touching the kernel: CHILD SAs, policies and traps stay, traffic flows on.
// The next ipsecd reads the file at start (before it initiates anything), continues those
// IKE SAs on the worker their SPI is steered to, counts their policies as its own, and
// compares their CHILD SAs with a kernel dump: one the kernel lost meanwhile is rekeyed.
//
// The file holds IKE keys. It is written to a new file of our own (O_EXCL, mode 0600,
// fsync) renamed into place, in ipsecd's runtime directory (0750); it is read only if it is
// a regular file owned by our user and not readable by anyone else, read once and removed
// at once (a crash after that is crash recovery's), and every buffer holding it is wiped.
// Format: "IPSECD-HANDOVER\n", u32 version 1, u64 CLOCK_MONOTONIC ms when written (engine
// timers are in that clock; /run does not survive a reboot, and a file newer than now is
// refused), u32 records, each u64 our SPI, u32 length, the record.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/fd.h"
#include "daemon/sd_notify.h"
#include "wire/reader.h"
#include "wire/writer.h"

namespace ipsec::daemon {
namespace {

constexpr std::string_view kMagic = "IPSECD-HANDOVER\n";
constexpr uint32_t kFileVersion = 1;
constexpr size_t kMaxStateFile = size_t{256} << 20;  // 100,000 IKE SAs fit easily
constexpr size_t kMaxRecord = size_t{1} << 20;

ByteView magic_bytes() {
  return ByteView(reinterpret_cast<const uint8_t*>(kMagic.data()), kMagic.size());
}

// Every byte of the file into a wiped-on-free buffer; an error says why it was not read.
Result<SecretBytes> read_state_file(const std::string& path, const Fd& fd) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(path + ": not a regular file");
  if (st.st_uid != ::geteuid())
    return fail(path + ": owned by uid " + std::to_string(st.st_uid) + ", not by ipsecd's");
  if ((st.st_mode & 077) != 0) return fail(path + ": readable or writable by others (it holds keys)");
  if (static_cast<size_t>(st.st_size) > kMaxStateFile) return fail(path + ": larger than 256 MiB");
  Bytes data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n <= 0) {
      SecretBytes wipe(std::move(data));
      return fail(path + ": " + (n < 0 ? std::strerror(errno) : "shorter than its size"));
    }
    done += static_cast<size_t>(n);
  }
  return SecretBytes(std::move(data));
}

}  // namespace

std::string Daemon::state_path() const {
  if (options_.state_file == "-") return {};
  return options_.state_file.empty() ? options_.control_path + ".state" : options_.state_file;
}

control::Response Daemon::shutdown(const control::Request& r, const Peer& peer) {
  if (peer.uid != 0 && peer.uid != ::geteuid())
    return control::Response::failure("shutdown refused: only root or ipsecd's own user may stop it");
  if (r.keep && state_path().empty())
    return control::Response::failure("shutdown --keep: ipsecd runs with --state-file -, "
                                      "so the next one could not continue the IKE SAs");
  size_t sas = 0;
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    sas += w->engine().sas(false).size();
  }
  control::Response resp;
  resp.data = {{"keep", r.keep}, {"ike_sas", sas}, {"pid", ::getpid()}};
  if (r.keep) {
    resp.data["state_file"] = state_path();
    begin_handover();
  } else {
    begin_shutdown();
  }
  return resp;
}

void Daemon::begin_handover() {
  stopping_ = true;
  keeping_ = true;
  stop_deadline_ = clock_.now() + options_.shutdown_wait;
  log::info("shutting down for a restart: the IKE SAs go to the next ipsecd through " +
            state_path() + ", the kernel keeps every CHILD SA and policy");
  notify::stopping("handing the IKE SAs over to the next ipsecd");
}

bool Daemon::handover_ready() {
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    if (w->engine().busy() != 0) return false;
  }
  return true;
}

// After the workers stopped: nothing changes any more.
void Daemon::save_state() {
  const std::string path = state_path();
  std::vector<ike::HandoverRecord> records;
  size_t size = kMagic.size() + 16, left = 0;
  for (auto& w : workers_) {
    for (ike::HandoverRecord& r : w->engine().hand_over()) {
      size += 12 + r.data.size();
      records.push_back(std::move(r));
    }
    left += w->engine().sas(false).size();
  }
  Bytes out;
  out.reserve(size);  // no reallocation: no stray copy of the keys
  wire::Writer wr(out);
  wr.bytes(magic_bytes());
  wr.u32(kFileVersion);
  wr.u64(static_cast<uint64_t>(clock_.now().count()));
  wr.u32(static_cast<uint32_t>(records.size()));
  for (const ike::HandoverRecord& r : records) {
    wr.u64(r.local_spi);
    wr.u32(static_cast<uint32_t>(r.data.size()));
    wr.bytes(r.data.view());
  }
  SecretBytes file(std::move(out));
  const std::string tmp = path + "." + std::to_string(::getpid()) + ".tmp";
  ::unlink(tmp.c_str());  // ours from a write that failed half-way, if any
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  bool ok = fd.valid() && ::write(fd.get(), file.data(), file.size()) ==
                              static_cast<ssize_t>(file.size());
  ok = ok && ::fsync(fd.get()) == 0 && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    log::error("cannot write the state file " + path + ": " + std::strerror(errno) +
               "; the next ipsecd renegotiates (crash recovery)");
    ::unlink(tmp.c_str());
    return;
  }
  log::info("handed over " + std::to_string(records.size()) + " IKE SA(s) to the next ipsecd in " +
            path);
  if (left != 0)
    log::warn(std::to_string(left) + " IKE SA(s) were still busy or not established: the next "
              "ipsecd renegotiates them and removes what they left in the kernel");
}

void Daemon::restore_state() {
  const std::string path = state_path();
  if (path.empty()) return;
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno != ENOENT) log::warn("handover: " + path + ": " + std::strerror(errno) + "; ignored");
    return;  // ENOENT: a start, not a restart
  }
  auto file = read_state_file(path, fd);
  if (!file) {
    log::warn("handover: " + file.error().message + "; ignored (left in place)");
    return;
  }
  ::unlink(path.c_str());  // read once: from here on a crash is crash recovery's
  std::vector<std::string> problems;
  const size_t taken = take_over(file->view(), problems);
  for (const std::string& p : problems) log::warn("handover: " + p);
  if (taken == 0 && problems.empty()) return;
  // The kernel may have lost CHILD SAs between the two processes: those are rekeyed now.
  auto sas = events_kernel_->dump_sas();
  if (sas) {
    std::unordered_set<std::string> held;
    for (const kernel::SaParams& sa : *sas) held.insert(kernel::identity_key(sa.id()));
    for (auto& w : workers_) {
      std::lock_guard lock(w->mutex());
      w->engine().reconcile(held, clock_.now());
      w->wake();
    }
  } else {
    log::warn("handover: cannot dump the kernel's SAs: " + sas.error().message);
  }
  log::info("continued " + std::to_string(taken) + " IKE SA(s) of the previous ipsecd" +
            (problems.empty() ? "" : "; " + std::to_string(problems.size()) + " could not be"));
}

size_t Daemon::take_over(ByteView data, std::vector<std::string>& problems) {
  wire::Reader r(data);
  const ByteView magic = r.view(kMagic.size());
  const uint32_t version = r.u32();
  const auto saved_at = ike::Millis(static_cast<int64_t>(r.u64()));
  const uint32_t count = r.u32();
  if (!r.ok() || !std::equal(magic.begin(), magic.end(), magic_bytes().begin()))
    return problems.push_back("the state file is not one ipsecd wrote"), 0;
  if (version != kFileVersion)
    return problems.push_back("state file version " + std::to_string(version) +
                              " (this ipsecd reads " + std::to_string(kFileVersion) + ")"),
           0;
  if (saved_at > clock_.now())
    return problems.push_back("the state file was written before the last reboot"), 0;
  size_t taken = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t spi = r.u64();
    const uint32_t len = r.u32();
    const ByteView record = len <= kMaxRecord ? r.view(len) : ByteView{};
    if (!r.ok() || len > kMaxRecord) {
      problems.push_back("record " + std::to_string(i) + ": truncated or too long; the rest skipped");
      break;
    }
    Worker& w = *workers_[(spi & 0xff) % workers_.size()];  // where the kernel steers it
    std::lock_guard lock(w.mutex());
    auto t = w.engine().take_over(record);
    if (!t)
      problems.push_back("IKE SA " + control::spi_hex(spi, 16) + ": " + t.error().message);
    else
      ++taken;
    w.wake();
  }
  return taken;
}

bool Daemon::has_sa(const std::string& connection) {
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    for (const ike::IkeSaSummary& sa : w->engine().sas(false))
      if (sa.connection == connection && !sa.replaced && sa.phase != ike::SaPhase::Gone) return true;
  }
  return false;
}

}  // namespace ipsec::daemon
