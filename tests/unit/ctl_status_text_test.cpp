// SPDX-License-Identifier: Apache-2.0
// Unit tests of ipsecctl's text for ipsecd's answers: units, durations,
// the status blocks an operator reads and load's summary.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <limits>

#include "control/protocol.h"
#include "ctl/status_text.h"

using namespace ipsec;
using namespace ipsec::ctl;

namespace {

control::Status sample_status() {
  control::Status s;
  control::IkeStatus a;
  a.connection = "to-right";
  a.state = "established";
  a.initiator = true;
  a.spi_i = 0x0123456789abcdefULL;
  a.spi_r = 0xfedcba9876543210ULL;
  a.local = "192.0.2.1[500]";
  a.remote = "192.0.2.2[500]";
  a.algorithms = "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519";
  a.age_seconds = 3725;
  a.rekey_in_seconds = 10620;
  a.expire_in_seconds = 12060;
  control::ChildStatus c;
  c.name = "net";
  c.state = "installed";
  c.spi_in = 0xc1a2b3c4;
  c.spi_out = 0xc5d6e7f8;
  c.mode = "tunnel";
  c.local_ts = {"10.1.0.0/24", "10.3.0.0/24 proto 6 port 443-443"};
  c.remote_ts = {"10.2.0.0/24"};
  c.algorithms = "ENCR_AES_GCM_16_256";
  c.bytes_in = 12595;
  c.bytes_out = 4718592;
  c.packets_in = 123;
  c.packets_out = 1;
  c.age_seconds = 303;
  c.rekey_in_seconds = 3130;
  c.expire_in_seconds = 3480;
  c.last_rekey_seconds_ago = 303;
  c.replaces = 0xc1a2b3c0;
  a.children.push_back(c);
  control::ChildStatus old;  // rekeyed, waiting for its Delete
  old.name = "net";
  old.state = "rekeyed";
  old.spi_in = 0xc1a2b3c0;
  old.spi_out = 0xc5d6e7f0;
  old.mode = "tunnel";
  old.local_ts = {"10.1.0.0/24"};
  old.remote_ts = {"10.2.0.0/24"};
  old.algorithms = "ENCR_AES_GCM_16_256";
  old.age_seconds = 3725;
  old.expire_in_seconds = 55;
  a.children.push_back(old);
  control::ChildStatus next;  // a CREATE_CHILD_SA in flight
  next.name = "net";
  next.state = "none";
  next.spi_in = 0xc1a2b3c8;
  next.mode = "tunnel";
  a.children.push_back(next);
  s.ike_sas.push_back(a);

  control::IkeStatus b;
  b.connection = "from-left";
  b.state = "failed";
  b.initiator = false;
  b.spi_i = 0x1111111111111111ULL;
  b.spi_r = 0x2222222222222222ULL;
  b.local = "2001:db8::1[500]";
  b.remote = "2001:db8::2[500]";
  b.algorithms = "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519";
  b.age_seconds = 2;
  b.failure = "AUTHENTICATION_FAILED: peer's PSK does not match";
  b.rekey_in_seconds = -1;
  control::ChildStatus none;
  none.name = "lan";
  none.state = "none";  // never got an SPI: not shown
  b.children.push_back(none);
  s.ike_sas.push_back(b);

  s.closed.push_back({"to-far 0x00000000000000aa", "failed",
                      "peer not responding: no answer "
                      "after 5 retransmits",
                      ""});
  s.closed.push_back({"to-near 0x00000000000000bb", "closed", "deleted by peer", ""});
  s.closed.push_back({"to-mid 0x00000000000000cc", "closed", "deleted", "TS_UNACCEPTABLE"});
  return s;
}

}  // namespace

TEST_CASE("byte counts in binary units") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1) == "1 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.0 KiB");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(12595) == "12.3 KiB");
  CHECK(human_bytes(1048575) == "1.0 MiB");  // not "1024.0 KiB"
  CHECK(human_bytes(4718592) == "4.5 MiB");
  CHECK(human_bytes(5ULL << 30) == "5.0 GiB");
  CHECK(human_bytes(3ULL << 40) == "3.0 TiB");
  CHECK(human_bytes(std::numeric_limits<uint64_t>::max()) == "16.0 EiB");
}

TEST_CASE("durations: two units, none for -1") {
  CHECK(human_duration(-1) == "none");
  CHECK(human_duration(0) == "0s");
  CHECK(human_duration(59) == "59s");
  CHECK(human_duration(60) == "1m 00s");
  CHECK(human_duration(187) == "3m 07s");
  CHECK(human_duration(3599) == "59m 59s");
  CHECK(human_duration(3600) == "1h 00m");
  CHECK(human_duration(3725) == "1h 02m");
  CHECK(human_duration(86399) == "23h 59m");
  CHECK(human_duration(2 * 86400 + 3 * 3600 + 59) == "2d 03h");
  CHECK(human_duration(400 * 86400) == "400d 00h");
}

TEST_CASE("status: one aligned block per IKE SA, then the failures") {
  const char* expected =
      "to-right: established, initiator\n"
      "  local         192.0.2.1[500]\n"
      "  remote        192.0.2.2[500]\n"
      "  IKE SPIs      0x0123456789abcdef (i)  0xfedcba9876543210 (r)\n"
      "  algorithms    ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519\n"
      "  age           1h 02m\n"
      "  lifetime      rekey in 2h 57m, expires in 3h 21m\n"
      "  CHILD SA      net: installed, tunnel\n"
      "    SPIs        in 0xc1a2b3c4  out 0xc5d6e7f8\n"
      "    local TS    10.1.0.0/24\n"
      "                10.3.0.0/24 proto 6 port 443-443\n"
      "    remote TS   10.2.0.0/24\n"
      "    algorithms  ENCR_AES_GCM_16_256\n"
      "    traffic in  12.3 KiB, 123 packets\n"
      "    traffic out 4.5 MiB, 1 packet\n"
      "    age         5m 03s\n"
      "    lifetime    rekey in 52m 10s, expires in 58m 00s, last rekey 5m 03s ago\n"
      "    replaces    0xc1a2b3c0\n"
      "  CHILD SA      net: rekeyed, tunnel\n"
      "    SPIs        in 0xc1a2b3c0  out 0xc5d6e7f0\n"
      "    local TS    10.1.0.0/24\n"
      "    remote TS   10.2.0.0/24\n"
      "    algorithms  ENCR_AES_GCM_16_256\n"
      "    traffic in  0 B, 0 packets\n"
      "    traffic out 0 B, 0 packets\n"
      "    age         1h 02m\n"
      "    lifetime    no rekey scheduled, expires in 55s\n"
      "  CHILD SA      net: negotiating, tunnel\n"
      "    SPIs        in 0xc1a2b3c8  out 0x00000000\n"
      "\n"
      "from-left: failed, responder\n"
      "  local         2001:db8::1[500]\n"
      "  remote        2001:db8::2[500]\n"
      "  IKE SPIs      0x1111111111111111 (i)  0x2222222222222222 (r)\n"
      "  algorithms    ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519\n"
      "  age           2s\n"
      "  lifetime      no rekey scheduled\n"
      "  failure       AUTHENTICATION_FAILED: peer's PSK does not match\n"
      "\n"
      "recent failures:\n"
      "failed: to-far 0x00000000000000aa: peer not responding: no answer after 5 retransmits\n"
      "failed: to-mid 0x00000000000000cc: deleted; child: TS_UNACCEPTABLE\n";
  std::string text = format_status(sample_status());
  MESSAGE("ipsecctl status renders:\n" << text);
  CHECK(text == expected);
}

TEST_CASE("lifetime text: rekey, expiry, last rekey, each only when set") {
  CHECK(lifetime_text(-1, -1, -1) == "no rekey scheduled");
  CHECK(lifetime_text(2472, 3780, 300) ==
        "rekey in 41m 12s, expires in 1h 03m, last rekey 5m 00s ago");
  CHECK(lifetime_text(-1, 55, -1) == "no rekey scheduled, expires in 55s");
  CHECK(lifetime_text(0, -1, 0) == "rekey in 0s, last rekey 0s ago");
}

TEST_CASE("monitor lines: time, kind, connection/child, SPIs, reason, detail") {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  control::Event e{"child-rekeyed",
                   "2026-11-23T10:00:00Z",
                   "to-right",
                   "lan",
                   0x0123456789abcdefULL,
                   0,
                   0xc0000002,
                   0xc1000002,
                   0xc0000001,
                   "",
                   ""};
  CHECK(format_event(e) ==
        "2026-11-23 10:00:00 child-rekeyed to-right/lan in 0xc0000002 out "
        "0xc1000002 replaces 0xc0000001");
  control::Event ike{"ike-rekeyed",
                     "2026-11-23T14:00:00Z",
                     "to-right",
                     "",
                     0xff,
                     0x0123456789abcdefULL,
                     0,
                     0,
                     0,
                     "",
                     ""};
  CHECK(format_event(ike) ==
        "2026-11-23 14:00:00 ike-rekeyed to-right IKE 0x00000000000000ff replaces "
        "0x0123456789abcdef");
  control::Event down{"ike-down", "2026-11-23T15:00:00Z", "to-right", "", 0xff, 0, 0, 0,
                      0,          "deleted by peer",      ""};
  CHECK(format_event(down) ==
        "2026-11-23 15:00:00 ike-down to-right IKE 0x00000000000000ff: deleted by peer");
  control::Event acq{"acquire", "2026-11-23T15:00:02Z",        "od", "lan", 0, 0, 0, 0, 0,
                     "",        "10.1.0.5 -> 10.2.0.7 proto 1"};
  CHECK(format_event(acq) == "2026-11-23 15:00:02 acquire od/lan (10.1.0.5 -> 10.2.0.7 proto 1)");
  // Local time, and a time it cannot read is shown as it came.
  ::setenv("TZ", "CET-1", 1);
  ::tzset();
  CHECK(format_event(acq).rfind("2026-11-23 16:00:02 acquire", 0) == 0);
  acq.time = "yesterday";
  CHECK(format_event(acq).rfind("yesterday acquire od/lan", 0) == 0);
  ::setenv("TZ", "UTC", 1);
  ::tzset();
}

TEST_CASE("list-conns settings: lifetimes, DPD and close action in one line") {
  control::ConnInfo c{"to-right", "192.0.2.1[500]", "192.0.2.2[500]", "left", "right",
                      "net",      "start"};
  c.child_rekey_seconds = 3600;
  c.child_life_seconds = 3960;
  c.ike_rekey_seconds = 14400;
  c.dpd_delay_seconds = 30;
  c.dpd_timeout_seconds = 120;
  c.dpd_action = "restart";
  c.close_action = "none";
  CHECK(format_conn_settings(c) ==
        "CHILD rekey 1h 00m, life 1h 06m; IKE rekey 4h 00m; dpd 30s "
        "(timeout 2m 00s, then restart); close action none");
  c.child_rekey_seconds = 0;
  c.child_life_seconds = 0;
  c.ike_reauth_seconds = 7200;
  c.dpd_delay_seconds = 0;
  c.close_action = "trap";
  CHECK(format_conn_settings(c) ==
        "CHILD rekey none, life none; IKE reauth 2h 00m; no dpd; close action trap");
}

TEST_CASE("status without SAs says so") {
  CHECK(format_status(control::Status{}) == "no IKE SAs\n");
}

TEST_CASE("load summary names what changed") {
  CHECK(format_load_summary({{"a", "b"}, {"c"}, {"e"}, {"d"}}) ==
        "loaded 4 connections: added a, b; changed c; removed d; unchanged e");
  CHECK(format_load_summary({{"a"}, {}, {}, {}}) == "loaded 1 connection: added a");
  CHECK(format_load_summary({{}, {}, {}, {"d"}}) == "loaded 0 connections: removed d");
  CHECK(format_load_summary({}) == "loaded 0 connections");
  control::LoadSummary many;
  for (int i = 0; i < 13; ++i) many.unchanged.push_back("c" + std::to_string(i));
  CHECK(format_load_summary(many) ==
        "loaded 13 connections: unchanged c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 and 3 more");
}

TEST_CASE("status, monitor, list-conns and load text escape control characters") {
  // Names and identities come from files and peers: none may forge a line or drive the
  // terminal.
  const std::string evil = "a\x1b[31m\nfailed: forged\r";
  const std::string shown = "a\\x1b[31m\\x0afailed: forged\\x0d";
  control::Status s;
  control::IkeStatus sa;
  sa.connection = evil;
  sa.state = "established";
  sa.local = "192.0.2.1[500]";
  sa.remote = "192.0.2.2[500]";
  sa.peer_id = "fqdn:" + evil;
  sa.peer_auth = "psk";
  control::ChildStatus child;
  child.name = evil;
  child.state = "installed";
  child.spi_in = 1;
  child.failure = evil;
  sa.children.push_back(child);
  s.ike_sas.push_back(sa);
  s.closed.push_back({evil, "failed", evil, evil});
  const std::string text = format_status(s);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text.find("\nfailed: forged") == std::string::npos);
  CHECK(text.starts_with(shown + ": established, responder\n"));
  CHECK(text.find("  peer          fqdn:" + shown + " (psk)\n") != std::string::npos);
  CHECK(text.find("  CHILD SA      " + shown + ": installed\n") != std::string::npos);
  CHECK(text.find("\nfailed: " + shown + ": " + shown + "; child: " + shown + "\n") !=
        std::string::npos);

  control::Event e;
  e.event = "ike-up";
  e.time = "x";
  e.connection = evil;
  e.reason = evil;
  CHECK(format_event(e) == "x ike-up " + shown + ": " + shown);
  control::ConnInfo c;
  c.dpd_action = evil;
  c.dpd_delay_seconds = 30;
  c.close_action = evil;
  CHECK(format_conn_settings(c).find(shown) != std::string::npos);
  CHECK(format_conn_settings(c).find('\n') == std::string::npos);
  CHECK(format_load_summary({{evil}, {}, {}, {}}) == "loaded 1 connection: added " + shown);
}
