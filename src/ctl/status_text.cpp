// SPDX-License-Identifier: Apache-2.0
// Readable text for what ipsecd reports: `ipsecctl status` and `ipsecctl load`.
#include "ctl/status_text.h"

#include <time.h>

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <vector>

#include "common/bytes.h"

namespace ipsec::ctl {

namespace {

constexpr int kValueColumn = 16;       // where values start, at both indents
constexpr size_t kMaxNamesShown = 10;  // per category in load's summary

// "  label        value\n", with `indent` spaces before the label; the value's control
// characters escaped (names and identities come from files and peers).
std::string line(int indent, const char* label, const std::string& value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%*s%-*s ", indent, "", kValueColumn - indent - 1, label);
  return buf + printable_line(value) + "\n";
}

std::string two_digits(int64_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02" PRId64, v);
  return buf;
}

std::string traffic(uint64_t bytes, uint64_t packets) {
  return human_bytes(bytes) + ", " + std::to_string(packets) +
         (packets == 1 ? " packet" : " packets");
}

std::string in_time(int64_t seconds) { return "in " + human_duration(seconds); }

std::string child_block(const control::ChildStatus& c) {
  // "none" is a CHILD SA still being negotiated: shown once it has an SPI.
  if (c.state == "none" && c.spi_in == 0) return "";
  std::string head = (c.name.empty() ? "" : c.name + ": ") +
                     (c.state == "none" ? std::string("negotiating") : c.state);
  std::string out = line(2, "CHILD SA", head + (c.mode.empty() ? "" : ", " + c.mode));
  out += line(4, "SPIs",
              "in " + control::spi_hex(c.spi_in, 8) + "  out " + control::spi_hex(c.spi_out, 8));
  for (size_t i = 0; i < c.local_ts.size(); ++i)
    out += line(4, i == 0 ? "local TS" : "", c.local_ts[i]);
  for (size_t i = 0; i < c.remote_ts.size(); ++i)
    out += line(4, i == 0 ? "remote TS" : "", c.remote_ts[i]);
  if (!c.algorithms.empty()) out += line(4, "algorithms", c.algorithms);
  const bool live = c.state == "installed" || c.state == "rekeying" || c.state == "rekeyed";
  if (live || c.bytes_in || c.bytes_out || c.packets_in || c.packets_out) {
    out += line(4, "traffic in", traffic(c.bytes_in, c.packets_in));
    out += line(4, "traffic out", traffic(c.bytes_out, c.packets_out));
  }
  if (live) {
    out += line(4, "age", human_duration(int64_t(c.age_seconds)));
    out += line(4, "lifetime",
                lifetime_text(c.rekey_in_seconds, c.expire_in_seconds, c.last_rekey_seconds_ago));
  }
  if (c.replaces != 0) out += line(4, "replaces", control::spi_hex(c.replaces, 8));
  if (!c.failure.empty()) out += line(4, "failure", c.failure);
  return out;
}

std::string ike_block(const control::IkeStatus& sa) {
  std::string out = printable_line(sa.connection + ": " + sa.state + ", " +
                                   (sa.initiator ? "initiator" : "responder")) +
                    "\n";
  out += line(2, "local", sa.local);
  out += line(2, "remote", sa.remote);
  out += line(2, "IKE SPIs",
              control::spi_hex(sa.spi_i, 16) + " (i)  " + control::spi_hex(sa.spi_r, 16) + " (r)");
  if (!sa.algorithms.empty()) out += line(2, "algorithms", sa.algorithms);
  if (!sa.peer_id.empty())
    out += line(2, "peer",
                sa.peer_id + " (" + sa.peer_auth +
                    (sa.peer_cert.empty() ? "" : ", certificate " + sa.peer_cert) + ")");
  out += line(2, "age", human_duration(int64_t(sa.age_seconds)));
  out += line(2, "lifetime",
              lifetime_text(sa.rekey_in_seconds, sa.expire_in_seconds, sa.last_rekey_seconds_ago));
  if (!sa.failure.empty()) out += line(2, "failure", sa.failure);
  for (const auto& c : sa.children) out += child_block(c);
  return out;
}

// "added a, b" with at most kMaxNamesShown names.
std::string names(const char* verb, const std::vector<std::string>& v) {
  std::string out = verb;
  for (size_t i = 0; i < v.size() && i < kMaxNamesShown; ++i) out += (i ? ", " : " ") + v[i];
  if (v.size() > kMaxNamesShown)
    out += " and " + std::to_string(v.size() - kMaxNamesShown) + " more";
  return out;
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  // Move up while the value would print as 1024.0 or more.
  while (v >= 1023.95 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string lifetime_text(int64_t rekey_in, int64_t expire_in, int64_t last_rekey_ago) {
  std::string out = rekey_in >= 0 ? "rekey " + in_time(rekey_in) : "no rekey scheduled";
  if (expire_in >= 0) out += ", expires " + in_time(expire_in);
  if (last_rekey_ago >= 0) out += ", last rekey " + human_duration(last_rekey_ago) + " ago";
  return out;
}

std::string human_duration(int64_t s) {
  if (s < 0) return "none";
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m " + two_digits(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h " + two_digits(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d " + two_digits(s % 86400 / 3600) + "h";
}

std::string format_status(const control::Status& s) {
  std::string out;
  if (s.ike_sas.empty()) out += "no IKE SAs\n";
  for (size_t i = 0; i < s.ike_sas.size(); ++i) out += (i ? "\n" : "") + ike_block(s.ike_sas[i]);
  bool header = false;
  for (const auto& c : s.closed) {
    if (c.state != "failed" && c.child_failure.empty()) continue;
    if (!header) out += "\nrecent failures:\n";
    header = true;
    out += printable_line("failed: " + c.label + ": " + c.reason +
                          (c.child_failure.empty() ? "" : "; child: " + c.child_failure)) +
           "\n";
  }
  return out;
}

namespace {

// "2026-11-23T10:00:00Z" as local time "2026-11-23 10:00:00"; unchanged if it is not that.
std::string local_time(const std::string& utc) {
  std::tm tm{};
  const char* end = ::strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') return utc;
  std::time_t t = ::timegm(&tm);
  std::tm local{};
  char buf[32];
  if (::localtime_r(&t, &local) == nullptr ||
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local) == 0)
    return utc;
  return buf;
}

// "1h 00m", or "none" for 0 (the protocol's "no limit").
std::string limit(uint64_t seconds) {
  return seconds == 0 ? "none" : human_duration(static_cast<int64_t>(seconds));
}

}  // namespace

std::string format_event(const control::Event& e) {
  std::string out = local_time(e.time) + " " + e.event + " " + e.connection;
  if (!e.child.empty()) out += "/" + e.child;
  // Child events name their CHILD SPIs; the IKE SA's only when there are none.
  if (e.ike_spi != 0 && e.spi_in == 0) out += " IKE " + control::spi_hex(e.ike_spi, 16);
  if (e.old_ike_spi != 0) out += " replaces " + control::spi_hex(e.old_ike_spi, 16);
  if (e.spi_in != 0) out += " in " + control::spi_hex(e.spi_in, 8);
  if (e.spi_out != 0) out += " out " + control::spi_hex(e.spi_out, 8);
  if (e.old_spi_in != 0) out += " replaces " + control::spi_hex(e.old_spi_in, 8);
  if (!e.reason.empty()) out += ": " + e.reason;
  if (!e.detail.empty()) out += " (" + e.detail + ")";
  return printable_line(out);
}

std::string format_conn_settings(const control::ConnInfo& c) {
  std::string out = "CHILD rekey " + limit(c.child_rekey_seconds) + ", life " +
                    limit(c.child_life_seconds) + "; IKE ";
  out += c.ike_reauth_seconds != 0 ? "reauth " + limit(c.ike_reauth_seconds)
                                   : "rekey " + limit(c.ike_rekey_seconds);
  if (c.dpd_delay_seconds == 0)
    out += "; no dpd";
  else
    out += "; dpd " + limit(c.dpd_delay_seconds) + " (timeout " + limit(c.dpd_timeout_seconds) +
           ", then " + c.dpd_action + ")";
  out += "; close action " + c.close_action;
  return printable_line(out);
}

std::string format_load_summary(const control::LoadSummary& s) {
  size_t n = s.added.size() + s.changed.size() + s.unchanged.size();
  std::string out = "loaded " + std::to_string(n) + (n == 1 ? " connection" : " connections");
  std::vector<std::string> parts;
  if (!s.added.empty()) parts.push_back(names("added", s.added));
  if (!s.changed.empty()) parts.push_back(names("changed", s.changed));
  if (!s.removed.empty()) parts.push_back(names("removed", s.removed));
  if (!s.unchanged.empty()) parts.push_back(names("unchanged", s.unchanged));
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : ": ") + parts[i];
  return printable_line(out);
}

}  // namespace ipsec::ctl
