// SPDX-License-Identifier: Apache-2.0
// X.509 certificates: PEM bundles and DER, names, subjectAltName, basicConstraints, validity.
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include <cstring>
#include <ctime>
#include <string>

#include "crypto/pki_internal.h"

namespace ipsec::crypto {

namespace {

Result<std::vector<Certificate>> parse_der(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x509) return ossl::fail_openssl("certificate: not a DER certificate");
  if (p != der.data() + der.size()) {
    return fail("certificate: " + std::to_string(der.data() + der.size() - p) +
                " bytes after the DER certificate");
  }
  auto cert = pki::certificate_of(x509.get());
  if (!cert) return fail(cert.error());
  return std::vector<Certificate>{std::move(*cert)};
}

// Every "CERTIFICATE" block (PEM_read_bio_X509 skips blocks of other types).
Result<std::vector<Certificate>> parse_pem(ByteView pem) {
  ossl::BioPtr bio = ossl::mem_bio(pem);
  if (!bio) return ossl::fail_openssl("certificate: out of memory");
  std::vector<Certificate> certs;
  for (;;) {
    ERR_clear_error();
    ossl::X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x509) {
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) break;
      return ossl::fail_openssl("certificate #" + std::to_string(certs.size() + 1) +
                                " of the PEM input is damaged");
    }
    auto cert = pki::certificate_of(x509.get());
    if (!cert) {
      return fail("certificate #" + std::to_string(certs.size() + 1) + ": " + cert.error().message);
    }
    certs.push_back(std::move(*cert));
  }
  ERR_clear_error();
  if (certs.empty()) return fail("certificate: no PEM CERTIFICATE block and not DER");
  return certs;
}

// The subjectAltName entries of one GENERAL_NAME type.
template <class F>
void for_each_san(X509* x509, int type, F&& f) {
  ossl::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x509, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == type) f(name);
  }
}

std::string ia5_text(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

namespace pki {

Result<Certificate> certificate_of(X509* x509) {
  EVP_PKEY* key = X509_get0_pubkey(x509);
  if (!key) return ossl::fail_openssl("certificate: cannot read its public key");
  auto pub = public_key_of(key);
  if (!pub) return fail(pub.error());
  if (X509_up_ref(x509) != 1) return ossl::fail_openssl("certificate: cannot take a reference");
  return Certificate(
      std::make_shared<const Certificate::Impl>(Certificate::Impl{ossl::X509Ptr(x509), *pub}));
}

X509* x509_of(const Certificate& c) { return c.impl().x509.get(); }

std::time_t time_of(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

std::string utc_date(std::time_t t) {
  struct tm tm {};
  char text[32];
  if (!gmtime_r(&t, &tm) || std::strftime(text, sizeof text, "%Y-%m-%d", &tm) == 0) return "?";
  return text;
}

std::string reason_name(long reason) {
  // OCSP_crl_reason_str's table is RFC 5280's names; value 7 is unused.
  if (reason < 0) return {};
  const std::string name = OCSP_crl_reason_str(reason);
  return name == "(UNKNOWN)" ? "reason " + std::to_string(reason) : name;
}

}  // namespace pki

Certificate::Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<std::vector<Certificate>> Certificate::parse(ByteView pem_or_der) {
  if (pem_or_der.empty()) return fail("certificate: empty input");
  return ossl::looks_like_der(pem_or_der) ? parse_der(pem_or_der) : parse_pem(pem_or_der);
}

Bytes Certificate::der() const { return pki::to_der(impl_->x509.get(), i2d_X509); }
Bytes Certificate::subject() const {
  return pki::to_der(X509_get_subject_name(impl_->x509.get()), i2d_X509_NAME);
}
Bytes Certificate::issuer() const {
  return pki::to_der(X509_get_issuer_name(impl_->x509.get()), i2d_X509_NAME);
}
std::string Certificate::subject_text() const { return dn_to_text(subject()); }

std::vector<std::string> Certificate::dns_names() const {
  std::vector<std::string> out;
  for_each_san(impl_->x509.get(), GEN_DNS,
               [&](const GENERAL_NAME* n) { out.push_back(ia5_text(n->d.dNSName)); });
  return out;
}

std::vector<std::string> Certificate::emails() const {
  std::vector<std::string> out;
  for_each_san(impl_->x509.get(), GEN_EMAIL,
               [&](const GENERAL_NAME* n) { out.push_back(ia5_text(n->d.rfc822Name)); });
  return out;
}

std::vector<IpAddress> Certificate::ip_addresses() const {
  std::vector<IpAddress> out;
  for_each_san(impl_->x509.get(), GEN_IPADD, [&](const GENERAL_NAME* n) {
    const int len = ASN1_STRING_length(n->d.iPAddress);
    if (len != 4 && len != 16) return;  // not an address (a name constraint's form)
    IpAddress a;
    a.family = len == 4 ? Family::V4 : Family::V6;
    std::memcpy(a.bytes.data(), ASN1_STRING_get0_data(n->d.iPAddress), static_cast<size_t>(len));
    out.push_back(a);
  });
  return out;
}

PublicKey Certificate::public_key() const { return impl_->pub; }

bool Certificate::is_ca() const {
  return (X509_get_extension_flags(impl_->x509.get()) & EXFLAG_CA) != 0;
}

std::time_t Certificate::not_before() const {
  return pki::time_of(X509_get0_notBefore(impl_->x509.get()));
}
std::time_t Certificate::not_after() const {
  return pki::time_of(X509_get0_notAfter(impl_->x509.get()));
}

}  // namespace ipsec::crypto
