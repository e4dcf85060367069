// SPDX-License-Identifier: Apache-2.0
// OCSP over HTTP (RFC 6960 App. A.1): a POST of the DER request with OpenSSL's HTTP client
// on a TCP connection made here, so that a refused or unreachable responder is reported as
// such at once (OpenSSL's own connect retries a refused connection until its timeout); the
// whole exchange bounded in time, the response in size; never through a proxy.
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "crypto/ocsp.h"
#include "crypto/pki_internal.h"

namespace ipsec::crypto {
namespace {

using Clock = std::chrono::steady_clock;

struct Url {
  std::string host, port, path;
};

Result<Url> parse_url(const std::string& uri) {
  char *host = nullptr, *port = nullptr, *path = nullptr;
  int ssl = 0;
  const bool ok = OSSL_HTTP_parse_url(uri.c_str(), &ssl, nullptr, &host, &port, nullptr, &path,
                                      nullptr, nullptr) == 1 &&
                  !ssl;
  Url out{host ? host : "", port ? port : "", path ? path : "/"};
  OPENSSL_free(host), OPENSSL_free(port), OPENSSL_free(path);
  ERR_clear_error();
  if (!ok || out.host.empty()) return fail("OCSP responder " + uri + ": not an http:// URI");
  return out;
}

// A connected non-blocking TCP socket to the first of `host`'s addresses that takes the
// connection before `deadline`; the error is the last address's (strerror).
Result<int> connect_tcp(const Url& url, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int e = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found); e != 0)
    return fail(std::string("cannot resolve ") + url.host + ": " + ::gai_strerror(e));
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd, POLLOUT, 0};
      socklen_t len = sizeof err;
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
        err = ETIMEDOUT;
      else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    }
    if (err != 0) {
      why = std::strerror(err);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return fail(why);
  return fd;
}

// "Connection timed out; ...": the reasons OpenSSL's HTTP client queued.
std::string http_errors() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    std::string one;
    if (const char* r = ERR_reason_error_string(code)) one = r;
    if ((flags & ERR_TXT_STRING) && data && *data)
      one += (one.empty() ? "" : ": ") + std::string(data);
    if (one.empty() || out.find(one) != std::string::npos) continue;
    out += (out.empty() ? "" : "; ") + one;
  }
  return out.empty() ? "no response" : out;
}

class HttpTransport final : public OcspTransport {
 public:
  HttpTransport(std::chrono::seconds timeout, size_t max_response)
      : timeout_(timeout), max_response_(max_response) {}

  Result<Bytes> post(const std::string& uri, ByteView request) override {
    auto url = parse_url(uri);
    if (!url) return fail(url.error());
    const auto deadline = Clock::now() + timeout_;
    auto fd = connect_tcp(*url, deadline);
    if (!fd) return fail("OCSP responder " + uri + " did not answer (" + fd.error().message + ")");
    ossl::BioPtr conn(BIO_new_socket(*fd, BIO_CLOSE));
    if (!conn) {
      ::close(*fd);
      return ossl::fail_openssl("OCSP: out of memory");
    }
    // What is left of the timeout, in whole seconds (OpenSSL's unit), at least one.
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now());
    ossl::BioPtr req = ossl::mem_bio(request);
    // Our connection, also as rbio: OpenSSL then neither connects (a socket BIO cannot) nor
    // looks at http_proxy (proxy must be null with a BIO).
    ossl::BioPtr resp(
        OSSL_HTTP_transfer(nullptr, url->host.c_str(), url->port.c_str(), url->path.c_str(), 0,
                           nullptr, nullptr, conn.get(), conn.get(), nullptr, nullptr, 0, nullptr,
                           "application/ocsp-request", req.get(), "application/ocsp-response", 1,
                           max_response_, static_cast<int>(std::max<int64_t>(1, left.count())), 0));
    if (!resp) return fail("OCSP responder " + uri + " did not answer (" + http_errors() + ")");
    return read_all(uri, resp.get());
  }

 private:
  Result<Bytes> read_all(const std::string& uri, BIO* resp) const {
    Bytes out;
    unsigned char buf[4096];
    int n = 0;
    while ((n = BIO_read(resp, buf, sizeof buf)) > 0 && out.size() <= max_response_)
      out.insert(out.end(), buf, buf + n);
    ERR_clear_error();
    if (out.size() > max_response_)
      return fail("OCSP responder " + uri + ": response longer than " +
                  std::to_string(max_response_) + " bytes");
    return out;
  }

  std::chrono::seconds timeout_;
  size_t max_response_;
};

}  // namespace

std::unique_ptr<OcspTransport> http_ocsp_transport(std::chrono::seconds timeout,
                                                   size_t max_response) {
  return std::make_unique<HttpTransport>(timeout, max_response);
}

ThreadedOcspFetcher::ThreadedOcspFetcher(OcspTransport& transport, std::function<void()> notify)
    : transport_(transport), notify_(std::move(notify)) {}

ThreadedOcspFetcher::~ThreadedOcspFetcher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    jobs_.clear();
  }
  work_.notify_all();
  for (std::thread& t : threads_) t.join();
}

// The threads start with the first fetches: a daemon that never asks a responder has none.
void ThreadedOcspFetcher::fetch(uint64_t id, const std::string& uri, Bytes request) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(Job{id, uri, std::move(request)});
    if (threads_.size() < kThreads)
      threads_.emplace_back([this] { run(); });
  }
  work_.notify_one();
}

std::vector<ThreadedOcspFetcher::Outcome> ThreadedOcspFetcher::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(done_, {});
}

void ThreadedOcspFetcher::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    Result<Bytes> der = transport_.post(job.uri, job.request);  // bounded by the transport
    lock.lock();
    if (stop_) return;
    done_.push_back(Outcome{job.id, std::move(der)});
    lock.unlock();
    notify_();
    lock.lock();
  }
}

}  // namespace ipsec::crypto
