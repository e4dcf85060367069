// SPDX-License-Identifier: Apache-2.0
// Distinguished names between DER (RDNSequence) and RFC 4514 text, in the order of the
// sequence ("C=DE, O=Example, CN=gw-b"), as IKE identities (ID_DER_ASN1_DN) write them.
#include <openssl/err.h>
#include <openssl/objects.h>

#include <cctype>
#include <string>
#include <vector>

#include "crypto/pki_internal.h"

namespace ipsec::crypto {

namespace {

struct AttributeName {
  std::string_view name;
  int nid;
};

// RFC 4514 §3 names, plus emailAddress/E (PKCS#9), serialNumber and UID as OpenSSL prints them.
constexpr AttributeName kAttributes[] = {
    {"C", NID_countryName},
    {"ST", NID_stateOrProvinceName},
    {"L", NID_localityName},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"CN", NID_commonName},
    {"emailAddress", NID_pkcs9_emailAddress},
    {"E", NID_pkcs9_emailAddress},
    {"serialNumber", NID_serialNumber},
    {"DC", NID_domainComponent},
    {"UID", NID_userId},
};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

int attribute_nid(std::string_view name) {
  for (const auto& a : kAttributes)
    if (iequal(a.name, name)) return a.nid;
  return NID_undef;
}

struct Ava {
  int nid;
  std::string type;     // as written, for errors
  std::string value;    // UTF-8, unescaped
  bool joins_previous;  // after '+': same RDN as the previous one
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

class DnParser {
 public:
  explicit DnParser(std::string_view text) : text_(text) {}

  Result<std::vector<Ava>> parse() {
    std::vector<Ava> avas;
    skip_spaces();
    if (pos_ == text_.size()) return avas;  // the empty name
    bool joins = false;
    for (;;) {
      auto ava = parse_ava(joins);
      if (!ava) return fail(ava.error());
      avas.push_back(std::move(*ava));
      if (pos_ == text_.size()) return avas;
      joins = text_[pos_++] == '+';
    }
  }

 private:
  Unexpected<Error> error(const std::string& why) const {
    return fail("DN \"" + std::string(text_) + "\": " + why + " at offset " + std::to_string(pos_));
  }

  void skip_spaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }

  Result<Ava> parse_ava(bool joins) {
    skip_spaces();
    size_t eq = text_.find('=', pos_);
    if (eq == std::string_view::npos) return error("expected type=value");
    std::string_view type = text_.substr(pos_, eq - pos_);
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    if (type.empty()) return error("empty attribute type");
    int nid = attribute_nid(type);
    if (nid == NID_undef) return error("unknown attribute type \"" + std::string(type) + "\"");
    pos_ = eq + 1;
    skip_spaces();
    if (pos_ < text_.size() && text_[pos_] == '#') {
      return error("hex-encoded values (#...) are not supported");
    }
    auto value = parse_value();
    if (!value) return fail(value.error());
    return Ava{nid, std::string(type), std::move(*value), joins};
  }

  // RFC 4514 §3: up to an unescaped ',' or '+'; "\c" for a special character, "\hh" for a
  // byte; unescaped spaces at either end dropped.
  Result<std::string> parse_value() {
    std::string value;
    size_t kept = 0;  // value[0, kept) ends with an escaped character: never trimmed
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '+') {
      char c = text_[pos_++];
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos_ == text_.size()) return error("dangling '\\'");
      int hi = hex_digit(text_[pos_]);
      int lo = pos_ + 1 < text_.size() ? hex_digit(text_[pos_ + 1]) : -1;
      if (hi >= 0 && lo >= 0) {
        value += static_cast<char>(hi * 16 + lo);
        pos_ += 2;
      } else if (std::string_view(",+\"\\<>;=# ").find(text_[pos_]) != std::string_view::npos) {
        value += text_[pos_++];
      } else {
        return error("bad escape");
      }
      kept = value.size();
    }
    while (value.size() > kept && value.back() == ' ') value.pop_back();
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

Result<void> add(X509_NAME* name, const Ava& ava) {
  // MBSTRING_UTF8: OpenSSL picks the string type the attribute requires (PrintableString for
  // C, IA5String for emailAddress and DC, UTF8String otherwise) and checks its size limits.
  if (X509_NAME_add_entry_by_NID(
          name, ava.nid, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(ava.value.data()),
          static_cast<int>(ava.value.size()), -1, ava.joins_previous ? -1 : 0) != 1) {
    return fail(ossl::openssl_error("DN: value of " + ava.type + " refused"));
  }
  return ok();
}

}  // namespace

Result<Bytes> dn_from_text(std::string_view text) {
  auto avas = DnParser(text).parse();
  if (!avas) return fail(avas.error());
  ossl::X509NamePtr name(X509_NAME_new());
  if (!name) return ossl::fail_openssl("DN: out of memory");
  for (const auto& ava : *avas)
    if (auto r = add(name.get(), ava); !r) return fail(std::move(r.error()));
  Bytes der = pki::to_der(name.get(), i2d_X509_NAME);
  if (der.empty()) return ossl::fail_openssl("DN: cannot encode");
  return der;
}

std::string dn_to_text(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  // RFC 2253 escaping and short names, but UTF-8 kept as is, the sequence's own order
  // (no XN_FLAG_DN_REV) and ", " / " + " between RDNs / AVAs.
  constexpr unsigned long kFlags =
      (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_DN_REV & ~XN_FLAG_SEP_MASK) |
      XN_FLAG_SEP_CPLUS_SPC;
  if (!name || p != der.data() + der.size() || !bio ||
      X509_NAME_print_ex(bio.get(), name.get(), 0, kFlags) < 0) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len > 0 ? len : 0));
}

}  // namespace ipsec::crypto
