// Unit tests of ipsecctl's text for ipsecd's answers: units, durations,
// the status blocks an operator reads and load's summary.
#include <doctest/doctest.h>

#include <cstdint>
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
  a.child.state = "installed";
  a.child.spi_in = 0xc1a2b3c4;
  a.child.spi_out = 0xc5d6e7f8;
  a.child.mode = "tunnel";
  a.child.local_ts = {"10.1.0.0/24", "10.3.0.0/24 proto 6 port 443-443"};
  a.child.remote_ts = {"10.2.0.0/24"};
  a.child.algorithms = "ENCR_AES_GCM_16_256";
  a.child.bytes_in = 12595;
  a.child.bytes_out = 4718592;
  a.child.packets_in = 123;
  a.child.packets_out = 1;
  a.child.age_seconds = 303;
  a.child.rekey_in_seconds = 3130;
  a.child.expire_in_seconds = 3480;
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
  b.child.state = "none";
  s.ike_sas.push_back(b);

  s.closed.push_back({"to-far 0x00000000000000aa", "failed", "peer not responding: no answer "
                      "after 5 retransmits", ""});
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
      "  rekey         in 2h 57m\n"
      "  CHILD SA      installed, tunnel\n"
      "    SPIs        in 0xc1a2b3c4  out 0xc5d6e7f8\n"
      "    local TS    10.1.0.0/24\n"
      "                10.3.0.0/24 proto 6 port 443-443\n"
      "    remote TS   10.2.0.0/24\n"
      "    algorithms  ENCR_AES_GCM_16_256\n"
      "    traffic in  12.3 KiB, 123 packets\n"
      "    traffic out 4.5 MiB, 1 packet\n"
      "    age         5m 03s\n"
      "    rekey       in 52m 10s\n"
      "    expires     in 58m 00s\n"
      "\n"
      "from-left: failed, responder\n"
      "  local         2001:db8::1[500]\n"
      "  remote        2001:db8::2[500]\n"
      "  IKE SPIs      0x1111111111111111 (i)  0x2222222222222222 (r)\n"
      "  algorithms    ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519\n"
      "  age           2s\n"
      "  rekey         no rekey scheduled\n"
      "  failure       AUTHENTICATION_FAILED: peer's PSK does not match\n"
      "\n"
      "recent failures:\n"
      "failed: to-far 0x00000000000000aa: peer not responding: no answer after 5 retransmits\n"
      "failed: to-mid 0x00000000000000cc: deleted; child: TS_UNACCEPTABLE\n";
  std::string text = format_status(sample_status());
  MESSAGE("ipsecctl status renders:\n" << text);
  CHECK(text == expected);
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
