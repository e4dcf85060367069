// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/common: hex, prefixes, secrets.
#include <doctest/doctest.h>

#include "common/bytes.h"
#include "common/ip.h"
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
