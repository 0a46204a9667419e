// Prometheus metrics (prometheus-cpp), served on promHostAndPort at /metrics. All names start
// with steward_:
//   steward_messages_<event>_total{method}   one counter per message event of the audit log
//                                             (accepted, sent, retried, acked, refused, given_up,
//                                             expired, received, duplicate, executed, replied,
//                                             interrupted, removed; a relay's carried and
//                                             forwarded)
//   steward_handler_duration_seconds{method}  histogram of method runs
//   steward_last_hello_timestamp_seconds{node} when central last heard a hello from each node
//   steward_outbox_pending, steward_inbox_queued, steward_calls_running,
//   steward_processes{kind}, steward_plugins_loaded,
//   steward_relay_held                        sampled from the node at each scrape
#pragma once

#include "core/message/message.hpp"
#include "core/util/result.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace steward::observe {

// The node's state at a scrape.
struct NodeSample {
  double outboxPending = 0;
  double inboxQueued = 0;
  double callsRunning = 0;
  double subscribers = 0;
  double publishers = 0;
  double pluginsLoaded = 0;
  double syncedWrites = 0;  // since the start: a counter
  double relayHeld = 0;     // messages a relay holds for other nodes (0 on other nodes)
};

class Metrics {
 public:
  // Serves on `hostAndPort` ("host:port"; port 0 picks one); the sampler runs at each scrape.
  static Result<std::unique_ptr<Metrics>> create(const std::string& hostAndPort,
                                                 std::function<NodeSample()> sampler);
  ~Metrics();

  // Thread-safe.
  void event(std::string_view event, const message::Message& m);
  void handlerDuration(const std::string& method, double seconds);
  uint16_t port() const;

  struct Impl;

 private:
  explicit Metrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace steward::observe
