// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/policy: key files (hex text, permissions, relative paths) and stdin/file
// loading.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policy/static_config.h"

using namespace ipsec::policy;
namespace fs = std::filesystem;

namespace {

// A private temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ipsec-policy-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  // Writes a file with the given mode (set explicitly: the umask does not apply).
  std::string write(const std::string& name, const std::string& text, mode_t mode) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    return p.string();
  }

 private:
  fs::path path_;
};

const char* kKeyHex = "00 01 02 03 04 05 06 07\n08 09 0a 0b 0c 0d 0e 0f\n10111213\n";

std::string sa_with_key_file(const std::string& key_file) {
  return R"({"sas": [{"protocol": "esp", "spi": "0x1000", "src": "192.0.2.1", "dst": "192.0.2.2",
    "aead": {"algorithm": "aes-gcm-16", "key_file": ")" +
         key_file + R"("}}]})";
}

std::vector<std::string> error_lines(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.errors) out.push_back(d.str());
  return out;
}

}  // namespace

TEST_CASE("policy key file: mode 0600, path relative to the policy file's folder") {
  TempDir dir;
  dir.write("keys/a.hex", kKeyHex, 0600);
  std::string policy = dir.write("site.json", sa_with_key_file("keys/a.hex"), 0644);
  auto r = load_files({policy});
  REQUIRE(error_lines(r) == std::vector<std::string>{});
  REQUIRE(r.config.sas.size() == 1);
  const auto& key = r.config.sas[0].aead->key;
  REQUIRE(key.size() == 20);
  CHECK(key.data()[0] == 0x00);
  CHECK(key.data()[19] == 0x13);
  // load_text resolves against the base directory it is given.
  auto t = load_text(sa_with_key_file("keys/a.hex"), "x.json", dir.path().string());
  CHECK(t.ok());
  auto abs = load_text(sa_with_key_file(dir.path().string() + "/keys/a.hex"), "x.json", "/");
  CHECK(abs.ok());
}

TEST_CASE("policy key file: readable or writable by others is refused") {
  TempDir dir;
  std::string k644 = dir.write("k644.hex", kKeyHex, 0644);
  std::string k602 = dir.write("k602.hex", kKeyHex, 0602);
  std::string k606 = dir.write("k606.hex", kKeyHex, 0606);
  dir.write("k640.hex", kKeyHex, 0640);  // group may read: allowed (README: o+r, o+w)
  auto base = dir.path().string();
  CHECK(error_lines(load_text(sa_with_key_file("k644.hex"), "s.json", base)) ==
        std::vector<std::string>{"s.json: sas[0].aead.key_file: \"" + k644 +
                                 "\" is readable by others (mode 0644); run \"chmod 600 " + k644 +
                                 "\""});
  CHECK(error_lines(load_text(sa_with_key_file("k602.hex"), "s.json", base)) ==
        std::vector<std::string>{"s.json: sas[0].aead.key_file: \"" + k602 +
                                 "\" is writable by others (mode 0602); run \"chmod 600 " + k602 +
                                 "\""});
  CHECK(error_lines(load_text(sa_with_key_file("k606.hex"), "s.json", base)) ==
        std::vector<std::string>{"s.json: sas[0].aead.key_file: \"" + k606 +
                                 "\" is readable and writable by others (mode 0606); run \"chmod "
                                 "600 " +
                                 k606 + "\""});
  CHECK(load_text(sa_with_key_file("k640.hex"), "s.json", base).ok());
}

TEST_CASE("policy key file: missing, not a file, bad contents") {
  TempDir dir;
  auto base = dir.path().string();
  CHECK(error_lines(load_text(sa_with_key_file("nope.hex"), "s.json", base)) ==
        std::vector<std::string>{"s.json: sas[0].aead.key_file: cannot open \"" + base +
                                 "/nope.hex\": No such file or directory"});
  fs::create_directories(dir.path() / "adir");
  ::chmod((dir.path() / "adir").c_str(), 0700);
  CHECK(error_lines(load_text(sa_with_key_file("adir"), "s.json", base)) ==
        std::vector<std::string>{"s.json: sas[0].aead.key_file: \"" + base +
                                 "/adir\" is not a regular file"});
  std::string bad = dir.write("bad.hex", "0011 22zz", 0600);
  CHECK(error_lines(load_text(sa_with_key_file("bad.hex"), "s.json", base)) ==
        std::vector<std::string>{"s.json: sas[0].aead.key_file: \"" + bad +
                                 "\" does not hold a hex key: not a hex digit at offset 7"});
  dir.write("short.hex", "0x00112233", 0600);
  CHECK(error_lines(load_text(sa_with_key_file("short.hex"), "s.json", base)) ==
        std::vector<std::string>{
            "s.json: sas[0].aead.key_file: key of 4 bytes, aes-gcm-16 needs 20, 28 or 36"});
}

TEST_CASE("policy files: merging, duplicates across files, unreadable files") {
  TempDir dir;
  std::string a = dir.write("a.json", sa_with_key_file("k.hex"), 0644);
  std::string b = dir.write("sub/b.json", sa_with_key_file("k.hex"), 0644);
  dir.write("k.hex", kKeyHex, 0600);
  dir.write("sub/k.hex", kKeyHex, 0600);
  auto r = load_files({a, b});
  CHECK(error_lines(r) ==
        std::vector<std::string>{b +
                                 ": sas[0]: duplicate SA spi 0x1000 192.0.2.1->192.0.2.2 esp, "
                                 "first defined at " +
                                 a + ": sas[0]"});
  CHECK(r.config.sas.empty());
  std::string missing = (dir.path() / "missing.json").string();
  auto m = load_files({a, missing});
  CHECK(error_lines(m) ==
        std::vector<std::string>{missing + ": cannot read: No such file or directory"});
  std::string c = dir.write("c.json", R"({"policies": [{"src": "10.0.0.0/8", "dst": "0.0.0.0/0",
    "dir": "in", "action": "allow"}]})",
                            0644);
  auto ok = load_files({a, c});
  CHECK(ok.ok());
  CHECK(ok.config.sas.size() == 1);
  CHECK(ok.config.policies.size() == 1);
}
