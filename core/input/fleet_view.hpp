// The fleet view: a web page central serves for operators (off by default; fleetViewListener).
// It lists the nodes (last seen, key, version, queues, facts), the messages waiting in central's
// outbox and the last lines of central's error log, and sends a command to a target (names,
// patterns, --where facts) and shows each node's result as it arrives.
//
// Loopback only (a tunnel or a TLS proxy carries it further), and every /api/ request needs the
// token (Authorization: Bearer …; the page takes it from its address, #token=…). Requests whose
// Host is not the loopback address it serves are refused, so another site cannot reach it
// through DNS rebinding; the token is never in a cookie, so another site's page cannot send
// requests with it either. The page and its script come from the node itself under a strict
// Content-Security-Policy.
//
//   GET  /                the page; /app.js and /app.css beside it
//   GET  /api/fleet       {"nodes":<nodes>,"queue":<listQueue outbox>,"errors":[lines]}
//   POST /api/run         {"target":"ship*","where":"role=db","command":"uptime"} → {"run":N,
//                         "nodes":[…]}: REQCliCommand ["sh","-c",command] to each node, one
//                         fan-out message
//   GET  /api/run/N       {"run":N,"nodes":{"ship1":{"state","output","stderr","error","note"}}}
#pragma once

#include "core/net/http_server.hpp"
#include "core/process/reply_watch.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace steward::input {

// What the view asks of its node.
struct FleetViewSource {
  // Runs an operation ({"opCmd":"nodes"}) on the node itself.
  std::function<Result<std::string>(std::string_view operationJson)> operate;
  // Takes operator input (a JSON array of messages), telling `watcher` of their replies.
  std::function<Result<std::vector<uint64_t>>(std::string_view messages,
                                              const std::shared_ptr<process::ReplyWatcher>& watcher)>
      submit;
  std::filesystem::path errorLog;  // central's error log, for its last lines
};

struct FleetViewSettings {
  std::string address;  // "127.0.0.1:8090"; loopback only
  std::string token;    // what /api/ requests must carry
  size_t keptRuns = 32;                    // runs whose results are kept, the oldest go first
  size_t maxOutputBytes = 256 * 1024;      // of each node's result
  int64_t methodTimeoutSeconds = 60;
};

// The host of a "host:port" listener address when it is a loopback one; an error otherwise.
Status checkLoopback(const std::string& address);
// The token in `file`; a new random one written there (0600) when there is none.
Result<std::string> fleetViewToken(const std::filesystem::path& file);

class FleetView {
 public:
  FleetView(boost::asio::io_context& io, FleetViewSettings settings, FleetViewSource source);
  ~FleetView();
  Status start();
  void stop();
  uint16_t port() const { return server_.port(); }

  // One answer, for tests and for the server.
  net::HttpResponse handle(const net::HttpRequest& request);

 private:
  struct NodeResult {
    std::string state = "waiting";  // waiting, ok, failed, refused, undelivered, offline, …
    std::string output;
    std::string stderrText;
    std::string error;
    std::string note;
  };
  struct Run {
    std::map<uint64_t, std::string> nodeOf;  // message id → node
    std::map<std::string, NodeResult> nodes;
  };
  net::HttpResponse fleet();
  net::HttpResponse startRun(const std::string& body);
  net::HttpResponse runStatus(uint64_t run);
  void notice(uint64_t run, const process::ReplyNotice& n);
  bool authorized(const net::HttpRequest& request) const;

  FleetViewSettings settings_;
  FleetViewSource source_;
  net::HttpServer server_;
  std::mutex mutex_;
  uint64_t nextRun_ = 1;
  std::map<uint64_t, Run> runs_;
  // The watchers of the runs kept: a run's replies are followed while it is kept.
  std::map<uint64_t, std::shared_ptr<process::ReplyWatcher>> watchers_;
};

}  // namespace steward::input
