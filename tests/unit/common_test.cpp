// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/common: hex, prefixes, secrets, printable text, log lines.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/bytes.h"
#include "common/ip.h"
#include "common/log.h"
#include "common/secret.h"

using namespace ipsec;

TEST_CASE("hex round trip and errors") {
  auto b = from_hex("0x00ff10");
  REQUIRE(b);
  CHECK(*b == Bytes{0x00, 0xff, 0x10});
  CHECK(to_hex(*b) == "00ff10");
  CHECK(from_hex("00:11:22")->size() == 3);
  CHECK_FALSE(from_hex("abc"));
  CHECK(from_hex("zz").error().message == "not a hex digit at offset 0");
}

TEST_CASE("prefixes are strict") {
  auto p = Prefix::parse("10.0.0.0/24");
  REQUIRE(p);
  CHECK(p->str() == "10.0.0.0/24");
  CHECK(p->contains(*IpAddress::parse("10.0.0.77")));
  CHECK_FALSE(p->contains(*IpAddress::parse("10.0.1.1")));
  CHECK(Prefix::parse("192.0.2.1")->len == 32);
  CHECK(Prefix::parse("2001:db8::/32")->str() == "2001:db8::/32");
  CHECK(Prefix::parse("10.0.0.0/33").error().message ==
        "\"10.0.0.0/33\" is not a prefix: length 33 exceeds 32");
  CHECK_FALSE(Prefix::parse("10.0.0.1/24"));
  CHECK_FALSE(Prefix::parse("10.0.0.0/"));
  CHECK_FALSE(Prefix::parse("10.0.0/8"));
}

TEST_CASE("secret bytes compare and wipe") {
  SecretBytes a(Bytes{1, 2, 3});
  SecretBytes b(Bytes{1, 2, 3});
  SecretBytes c(Bytes{1, 2, 4});
  CHECK(a == b);
  CHECK_FALSE(a == c);
  SecretBytes moved(std::move(a));
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  CHECK(moved.size() == 3);
  moved.wipe();
  CHECK(moved.empty());
}

TEST_CASE("printable text: C0, DEL and C1 controls escaped; printable_line keeps backslashes") {
  CHECK(printable("a\x1b[31mX\nerror: y") == "a\\x1b[31mX\\x0aerror: y");
  CHECK(printable("tab\there\r\x7f\\") == "tab\\x09here\\x0d\\x7f\\x5c");
  CHECK(printable("csi \xc2\x9b"
                  "2J, nel \xc2\x85") == "csi \\xc2\\x9b2J, nel \\xc2\\x85");
  CHECK(printable("Müller \xc2\xa0 ok") == "Müller \xc2\xa0 ok");  // U+00A0 is not a control
  CHECK(printable("cut \xc2") == "cut \xc2");
  // A line holding an already escaped value is not escaped twice.
  const std::string value = printable("gw\x1b.example");
  CHECK(printable_line("peer " + value + " sent\n\x1b[2J") ==
        "peer gw\\x1b.example sent\\x0a\\x1b[2J");
  CHECK(printable_line(R"(dn:CN=a\, b)") == R"(dn:CN=a\, b)");
}

TEST_CASE("log lines: one line each, control characters escaped") {
  // stderr into a temporary file for the duration of the writes.
  std::fflush(stderr);
  FILE* tmp = std::tmpfile();
  REQUIRE(tmp != nullptr);
  const int saved = ::dup(STDERR_FILENO);
  REQUIRE(::dup2(::fileno(tmp), STDERR_FILENO) == STDERR_FILENO);
  log::warn("connection a\x1b[31m\nerror: forged");
  log::info("tab\tand \\x41");
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::rewind(tmp);
  char buf[256] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, tmp);
  std::fclose(tmp);
  CHECK(std::string(buf, n) ==
        "warning: connection a\\x1b[31m\\x0aerror: forged\n"
        "info: tab\\x09and \\x41\n");
}
