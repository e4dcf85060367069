// SPDX-License-Identifier: Apache-2.0
// Loading policy files: JSON syntax, document structure, merging and duplicate detection.
#include "policy/static_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "common/bytes.h"
#include "policy/parser.h"
#include "policy/reader.h"

namespace ipsec::policy {

std::string Diagnostic::str() const {
  std::string out = file;
  for (const std::string* part : {&path, &message}) {
    if (part->empty()) continue;
    if (!out.empty()) out += ": ";
    out += *part;
  }
  return printable_line(out);  // names, keys and values from the file: no control characters
}

namespace {

using detail::Json;
using detail::Reader;

// One file's result, with where each object came from (for duplicate errors).
struct FileResult {
  StaticConfig config;
  std::vector<std::string> sa_paths, policy_paths, connection_paths;
  std::vector<Diagnostic> errors, warnings;
  std::string file;
};

// "line 3, column 5: syntax error while parsing object - unexpected '}'; expected string
// literal". The lexer's "last read" text is dropped: it may be part of a key. `byte`: the
// 1-based offset the parser stopped at.
std::string syntax_message(std::string_view text, size_t byte, std::string what) {
  size_t at = std::min<size_t>(byte == 0 ? 0 : byte - 1, text.size());
  size_t line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  if (auto c = what.find("column "); c != std::string::npos)
    if (auto colon = what.find(": ", c); colon != std::string::npos) what.erase(0, colon + 2);
  if (auto last = what.find("; last read: '"); last != std::string::npos) {
    auto expected = what.rfind("; expected ");
    what = what.substr(0, last) +
           (expected != std::string::npos && expected > last ? what.substr(expected) : "");
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + what;
}

// A first, linear SAX pass over the text: reports a field given twice in one
// object (the DOM parser would keep the last silently) and refuses nesting
// deeper than any policy file needs. (nlohmann's callback parser would do the
// former in quadratic time for large arrays.)
class DuplicateKeys {
 public:
  static constexpr size_t kMaxDepth = 32;
  explicit DuplicateKeys(Reader& r) : r_(r) {}
  bool too_deep() const { return too_deep_; }

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(Json::number_integer_t) { return value(); }
  bool number_unsigned(Json::number_unsigned_t) { return value(); }
  bool number_float(Json::number_float_t, const std::string&) { return value(); }
  bool string(std::string&) { return value(); }
  bool binary(Json::binary_t&) { return value(); }
  bool start_object(size_t) { return open(false); }
  bool start_array(size_t) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    Frame& f = frames_.back();
    f.key = k;
    if (!f.seen.insert(k).second) r_.error(detail::join(f.path, f.key), "field given twice");
    return true;
  }
  // Syntax errors and numbers out of range (1e999999): with the offset, for syntax_message.
  bool parse_error(size_t byte, const std::string& token, const nlohmann::detail::exception& e) {
    error_byte_ = byte;
    if (e.id == 406) {  // out_of_range: the DOM parser would throw it without a position
      constexpr size_t kShown = 32;
      if (byte > token.size()) error_byte_ = byte - token.size() + 1;  // where it starts
      error_ =
          "number out of range: " + token.substr(0, kShown) + (token.size() > kShown ? "..." : "");
    } else {
      error_ = e.what();
    }
    return false;
  }
  // The first syntax error: "line L, column C: ..."; empty when none.
  std::string syntax_error(std::string_view text) const {
    return error_.empty() ? std::string() : syntax_message(text, error_byte_, error_);
  }

 private:
  struct Frame {
    bool is_array;
    std::string path;
    size_t index;
    std::string key;
    std::unordered_set<std::string> seen;
  };
  bool open(bool is_array) {
    std::string path = child_path();
    if (frames_.size() >= kMaxDepth) {
      r_.error(path, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
      too_deep_ = true;
      return false;
    }
    frames_.push_back(Frame{is_array, std::move(path), 0, {}, {}});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return value();
  }
  bool value() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
    return true;
  }
  std::string child_path() const {
    if (frames_.empty()) return "";
    const Frame& f = frames_.back();
    return f.is_array ? detail::join(f.path, f.index) : detail::join(f.path, f.key);
  }
  Reader& r_;
  std::vector<Frame> frames_;
  bool too_deep_ = false;
  size_t error_byte_ = 0;
  std::string error_;
};

// The parsed document holds key hex strings: wipe them once the keys are decoded.
// Iterative: a hostile file may nest deeper than the stack allows.
void wipe_strings(Json& root) {
  std::vector<Json*> todo{&root};
  while (!todo.empty()) {
    Json* j = todo.back();
    todo.pop_back();
    if (j->is_string()) {
      auto& s = j->get_ref<std::string&>();
      secure_wipe(s.data(), s.size());
    } else if (j->is_structured()) {
      for (auto& child : *j) todo.push_back(&child);
    }
  }
}

void parse_connections(Reader& r, const Json& doc, FileResult& out) {
  const Json* conns = Reader::field(doc, "connections");
  if (conns == nullptr) return;
  if (!conns->is_object()) {
    r.error("connections", "expected an object, got " + detail::type_name(*conns));
    return;
  }
  for (const auto& item : conns->items()) {
    std::string path = detail::join("connections", item.key());
    if (auto c = detail::parse_connection(r, item.value(), path, item.key())) {
      out.config.connections.push_back(std::move(*c));
      out.connection_paths.push_back(path);
    }
  }
}

void parse_document(Reader& r, const Json& doc, FileResult& out) {
  if (!r.object(doc, "", {"sas", "policies", "connections"})) return;
  parse_connections(r, doc, out);
  if (const Json* sas = Reader::field(doc, "sas"); sas != nullptr && r.array(*sas, "sas")) {
    for (size_t i = 0; i < sas->size(); ++i) {
      std::string path = detail::join("sas", i);
      if (auto sa = detail::parse_sa(r, (*sas)[i], path)) {
        out.config.sas.push_back(std::move(*sa));
        out.sa_paths.push_back(path);
      }
    }
  }
  const Json* policies = Reader::field(doc, "policies");
  if (policies == nullptr || !r.array(*policies, "policies")) return;
  for (size_t i = 0; i < policies->size(); ++i) {
    std::string path = detail::join("policies", i);
    if (auto p = detail::parse_policy(r, (*policies)[i], path)) {
      out.config.policies.push_back(std::move(*p));
      out.policy_paths.push_back(path);
    }
  }
}

FileResult parse_file(std::string_view text, const std::string& name, const std::string& base_dir) {
  Reader r(name, base_dir);
  FileResult out;
  out.file = name;
  Json doc;
  try {
    DuplicateKeys dups(r);
    Json::sax_parse(text.begin(), text.end(), &dups);
    if (std::string syntax = dups.syntax_error(text); !syntax.empty()) {
      r.error("", syntax);
    } else if (!dups.too_deep()) {
      doc = Json::parse(text.begin(), text.end());
      parse_document(r, doc, out);
    }
  } catch (const Json::parse_error& e) {
    r.error("", syntax_message(text, e.byte, e.what()));
  } catch (const Json::exception& e) {
    r.error("", std::string("cannot read JSON: ") + e.what());
  }
  wipe_strings(doc);
  out.errors = std::move(r.errors());
  out.warnings = std::move(r.warnings());
  return out;
}

// Connections are the same object when their names are equal. A reqid a file gives names one
// child of its connection (its ACQUIREs and SAs), so two children of one connection may not
// give the same one. (Across connections it is allowed: `validate left.json right.json`
// checks both ends of one tunnel, which may well use the same number.)
void merge_connections(FileResult& f, std::unordered_map<std::string, std::string>& seen,
                       LoadResult& out) {
  for (size_t i = 0; i < f.config.connections.size(); ++i) {
    const std::string& name = f.config.connections[i].name;
    std::unordered_map<uint32_t, std::string> reqids;
    for (const auto& child : f.config.connections[i].children) {
      if (child.reqid == 0) continue;
      const std::string path = f.connection_paths[i] + ".children." + child.name + ".reqid";
      auto [it, fresh] = reqids.emplace(child.reqid, f.file + ": " + path);
      if (!fresh)
        out.errors.push_back(
            {f.file, path,
             "reqid " + std::to_string(child.reqid) + " is already given at " + it->second});
    }
    auto [it, fresh] = seen.emplace(name, f.file + ": " + f.connection_paths[i]);
    if (!fresh)
      out.errors.push_back(
          {f.file, f.connection_paths[i],
           "duplicate connection " + detail::quote(name) + ", first defined at " + it->second});
    out.config.connections.push_back(std::move(f.config.connections[i]));
  }
}

// Merges per-file results in order; an object defined twice is an error naming both places.
LoadResult merge(std::vector<FileResult>& files) {
  LoadResult out;
  std::unordered_map<std::string, std::string> sa_seen, policy_seen, connection_seen;
  for (auto& f : files) {
    for (auto& d : f.errors) out.errors.push_back(std::move(d));
    for (auto& d : f.warnings) out.warnings.push_back(std::move(d));
    for (size_t i = 0; i < f.config.sas.size(); ++i) {
      std::string where = f.file + ": " + f.sa_paths[i];
      auto [it, fresh] = sa_seen.emplace(kernel::identity_key(f.config.sas[i].id()), where);
      if (!fresh)
        out.errors.push_back({f.file, f.sa_paths[i],
                              "duplicate " + kernel::describe(f.config.sas[i]) +
                                  ", first defined at " + it->second});
      out.config.sas.push_back(std::move(f.config.sas[i]));
    }
    for (size_t i = 0; i < f.config.policies.size(); ++i) {
      const auto& p = f.config.policies[i];
      auto [it, fresh] =
          policy_seen.emplace(kernel::identity_key(p.id()), f.file + ": " + f.policy_paths[i]);
      if (!fresh)
        out.errors.push_back(
            {f.file, f.policy_paths[i],
             "duplicate " + kernel::describe(p) + ", first defined at " + it->second});
      out.config.policies.push_back(std::move(f.config.policies[i]));
    }
    merge_connections(f, connection_seen, out);
  }
  if (!out.errors.empty()) out.config = StaticConfig{};
  return out;
}

constexpr size_t kMaxPolicyBytes = 16 * 1024 * 1024;

std::string directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// Reads all of fd into text, at most kMaxPolicyBytes + 1 bytes (more is refused: standard
// input may be /dev/zero). Grows by hand so that no unwiped copy of the contents (which may
// hold keys) is left behind in freed memory.
bool read_fd(int fd, std::string& text) {
  std::string buf(64 * 1024, '\0');
  size_t used = 0;
  while (used <= kMaxPolicyBytes) {
    if (used == buf.size()) {
      std::string bigger(buf.size() * 2, '\0');
      std::memcpy(bigger.data(), buf.data(), used);
      secure_wipe(buf.data(), buf.size());
      buf.swap(bigger);
    }
    ssize_t n = ::read(fd, buf.data() + used, std::min(buf.size(), kMaxPolicyBytes + 1) - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      secure_wipe(buf.data(), buf.size());
      errno = saved;
      return false;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  buf.resize(used);
  text.swap(buf);
  return true;
}

FileResult load_one(const std::string& path) {
  bool is_stdin = path == "-";
  std::string name = is_stdin ? "<stdin>" : path;
  FileResult out;
  out.file = name;
  // O_NONBLOCK: a FIFO or device is refused by fstat below, not waited on by open.
  int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st {};
  if (fd >= 0 && !is_stdin &&
      (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
       static_cast<size_t>(st.st_size) > kMaxPolicyBytes)) {
    const bool regular = S_ISREG(st.st_mode);
    ::close(fd);
    out.errors.push_back({name, "",
                          regular ? "too large for a policy file (" + std::to_string(st.st_size) +
                                        " bytes, at most " + std::to_string(kMaxPolicyBytes) + ")"
                                  : std::string("not a regular file")});
    return out;
  }
  std::string text;
  bool read = fd >= 0 && read_fd(fd, text);
  int err = errno;
  if (fd >= 0 && !is_stdin) ::close(fd);
  if (read && text.size() > kMaxPolicyBytes) {
    secure_wipe(text.data(), text.size());
    out.errors.push_back(
        {name, "",
         "too large for a policy file (more than " + std::to_string(kMaxPolicyBytes) + " bytes)"});
    return out;
  }
  if (!read) {
    out.errors.push_back({name, "", std::string("cannot read: ") + std::strerror(err)});
    return out;
  }
  out = parse_file(text, name, is_stdin ? "." : directory_of(path));
  secure_wipe(text.data(), text.size());
  return out;
}

}  // namespace

LoadResult load_text(std::string_view text, const std::string& name, const std::string& base_dir) {
  std::vector<FileResult> files;
  files.push_back(parse_file(text, name, base_dir));
  return merge(files);
}

LoadResult load_files(const std::vector<std::string>& paths) {
  std::vector<FileResult> files;
  for (const auto& p : paths) files.push_back(load_one(p));
  return merge(files);
}

}  // namespace ipsec::policy
