// REQHttpGet: fetches data[0] (an http:// or https:// URL) with libcurl and replies with the body.
//   data[1], optional: the largest body accepted, in bytes (default 512 KiB); a larger body is an
//   error, never a cut reply that looks complete.
// Bounded by methodTimeout. A non-2xx status, a name that does not resolve, a refused connection
// or a TLS failure is an error reply that says which. Only http and https: file://, ftp:// and the
// like could read the node's own files.
#include <steward/plugin.hpp>

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

constexpr size_t kDefaultMaxBody = 512 * 1024;

struct Sink {
  std::string body;
  size_t limit;
  bool tooLarge = false;
  steward::sdk::Call* call;
};

size_t write(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->body.size() + n > sink->limit) {
    sink->tooLarge = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->body.append(data, n);
  return n;
}

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Sink*>(user)->call->cancelled() ? 1 : 0;  // non-zero aborts the transfer
}

class HttpGet {
 public:
  HttpGet(steward::sdk::Host, std::string_view) {
    // Reference counted by curl, and thread-safe in the libcurl Debian ships (7.84+).
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  }
  ~HttpGet() { curl_global_cleanup(); }
  HttpGet(const HttpGet&) = delete;
  HttpGet& operator=(const HttpGet&) = delete;

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call& call) {
    if (req.data().empty() || req.data()[0].empty()) {
      return steward::sdk::Status::error("no URL given: data must hold the URL to fetch");
    }
    const std::string url(req.data()[0]);
    size_t limit = kDefaultMaxBody;
    if (req.data().size() > 1) {
      try {
        limit = std::stoul(std::string(req.data()[1]));
      } catch (const std::exception&) {
        return steward::sdk::Status::error("data[1] must be the largest body in bytes, got \"" +
                                           std::string(req.data()[1]) + "\"");
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        req.deadline() - std::chrono::system_clock::now());
    if (left.count() <= 0) return steward::sdk::Status::error("methodTimeout reached before the request");

    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return steward::sdk::Status::error("cannot create a curl handle");
    Sink sink{{}, limit, false, &call};
    char errorText[CURL_ERROR_SIZE] = {0};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limit));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &sink);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errorText);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "steward-httpget/1.0");

    const CURLcode rc = curl_easy_perform(c);
    if (sink.tooLarge || rc == CURLE_FILESIZE_EXCEEDED) {
      return steward::sdk::Status::error(url + ": body larger than the limit of " +
                                         std::to_string(limit) + " bytes");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return steward::sdk::Status::error(url + ": no complete answer within methodTimeout");
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) return steward::sdk::Status::error(url + ": cancelled");
    if (rc != CURLE_OK) {
      const char* kind = rc == CURLE_COULDNT_RESOLVE_HOST    ? "DNS: "
                         : rc == CURLE_COULDNT_CONNECT       ? "connect: "
                         : rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION
                             ? "TLS: "
                             : "";
      return steward::sdk::Status::error(url + ": " + kind +
                                         (errorText[0] ? errorText : curl_easy_strerror(rc)));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
      return steward::sdk::Status::error(url + ": HTTP status " + std::to_string(status));
    }
    call.output(sink.body);
    return steward::sdk::Status::ok();
  }
};

}  // namespace

STEWARD_PLUGIN(HttpGet, "httpget", "1.0.0",
               steward::sdk::command("REQHttpGet", steward::sdk::Delivery::ack,
                                     steward::sdk::Order::concurrent))
