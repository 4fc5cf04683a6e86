// A throw-away PKI for TLS and JWT tests, made with the OpenSSL API in memory (no openssl CLI):
// a test CA, server certificates for 127.0.0.1 (valid, expired, wrong name, self-signed), and
// RSA keys for JWT assertions. PEM text out; files written with mode 0600.
#pragma once

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace bulkwarden::testing {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

inline PKey ecKey() {
  PKey k(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  if (!k) throw std::runtime_error("EC key generation failed");
  return k;
}

inline PKey rsaKey(unsigned bits = 2048) {
  PKey k(EVP_RSA_gen(bits), &EVP_PKEY_free);
  if (!k) throw std::runtime_error("RSA key generation failed");
  return k;
}

inline std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

inline std::string privatePem(EVP_PKEY* key, bool pkcs8 = true) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (pkcs8) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  }
  return bioText(bio);
}

inline std::string publicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  return bioText(bio);
}

inline std::string certPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  return bioText(bio);
}

inline void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("bad certificate extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn` (with subjectAltName `san` unless empty), valid from
// now + notBeforeDays to now + notAfterDays, signed by issuer (self-signed when null).
inline Cert makeCert(EVP_PKEY* key, const std::string& cn, const std::string& san, bool ca,
                     long notBeforeDays, long notAfterDays, X509* issuer = nullptr,
                     EVP_PKEY* issuerKey = nullptr) {
  static long serial = 1000;
  Cert cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), notBeforeDays * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), notAfterDays * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("bulkwarden tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (ca) {
    addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
  }
  addExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (!san.empty()) addExtension(cert.get(), signer, NID_subject_alt_name, san.c_str());
  if (X509_sign(cert.get(), issuerKey != nullptr ? issuerKey : key, EVP_sha256()) == 0) {
    throw std::runtime_error("certificate signing failed");
  }
  return cert;
}

inline void writePrivate(const std::string& path, const std::string& text, mode_t mode = 0600) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) throw std::runtime_error("cannot write " + path);
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    ::close(fd);
    throw std::runtime_error("short write to " + path);
  }
  ::close(fd);
  ::fchmodat(AT_FDCWD, path.c_str(), mode, 0);
}

// The test CA and the server certificates made from it, as files in `dir`.
struct TestPki {
  explicit TestPki(const std::string& dir) : dir_(dir) {
    caKey_ = std::make_unique<PKey>(ecKey());
    caCert_ =
        std::make_unique<Cert>(makeCert(caKey_->get(), "bulkwarden test CA", "", true, -1, 30));
    caFile = dir + "/ca.pem";
    writePrivate(caFile, certPem(caCert_->get()), 0644);
  }

  struct Server {
    std::string certFile, keyFile;
  };

  // A server certificate signed by this CA (or self-signed), written to NAME.crt/NAME.key.
  Server server(const std::string& name, const std::string& san = "IP:127.0.0.1,DNS:localhost",
                long notBeforeDays = -1, long notAfterDays = 30, bool selfSigned = false,
                const std::string& cn = "127.0.0.1") {
    PKey key = ecKey();
    Cert cert = selfSigned ? makeCert(key.get(), cn, san, false, notBeforeDays, notAfterDays)
                           : makeCert(key.get(), cn, san, false, notBeforeDays, notAfterDays,
                                      caCert_->get(), caKey_->get());
    Server s{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
    writePrivate(s.certFile, certPem(cert.get()), 0644);
    writePrivate(s.keyFile, privatePem(key.get()));
    return s;
  }

  std::string caFile;

 private:
  std::string dir_;
  std::unique_ptr<PKey> caKey_;
  std::unique_ptr<Cert> caCert_;
};

// An RSA key pair for the JWT flow: the private key (PEM) and a self-signed certificate of it,
// as uploaded to a connected app.
struct JwtKeys {
  JwtKeys() : key(rsaKey()) {
    privateKeyPem = privatePem(key.get());
    privateKeyPkcs1Pem = privatePem(key.get(), false);
    Cert cert = makeCert(key.get(), "bulkwarden jwt", "", false, -1, 365);
    certificatePem = certPem(cert.get());
  }
  PKey key;
  std::string privateKeyPem, privateKeyPkcs1Pem, certificatePem;
};

}  // namespace bulkwarden::testing
