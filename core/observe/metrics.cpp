#include "core/observe/metrics.hpp"

#include "core/message/methods.hpp"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <mutex>

namespace steward::observe {
namespace {

constexpr const char* kEvents[] = {"accepted",   "sent",      "retried",  "acked",    "refused",
                                   "given up",   "expired",   "received", "duplicate",
                                   "executed",   "replied",   "interrupted", "removed",
                                   "carried",    "forwarded"};

std::string metricName(std::string_view event) {
  std::string name = "steward_messages_";
  for (char c : event) name.push_back(c == ' ' ? '_' : c);
  return name + "_total";
}

// Gauges computed from the node when Prometheus scrapes, instead of kept up to date by every
// part of the node.
class Sampled : public prometheus::Collectable {
 public:
  explicit Sampled(std::function<NodeSample()> sampler) : sampler_(std::move(sampler)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    const NodeSample s = sampler_();
    std::vector<prometheus::MetricFamily> out;
    auto gauge = [&](const char* name, const char* help, double value,
                     std::vector<prometheus::ClientMetric::Label> labels = {}) {
      prometheus::ClientMetric metric;
      metric.label = std::move(labels);
      metric.gauge.value = value;
      if (!out.empty() && out.back().name == name) {
        out.back().metric.push_back(metric);
        return;
      }
      out.push_back(prometheus::MetricFamily{name, help, prometheus::MetricType::Gauge, {metric}});
    };
    gauge("steward_outbox_pending", "messages sent by this node and not yet settled", s.outboxPending);
    gauge("steward_inbox_queued", "messages taken and waiting for their method to run", s.inboxQueued);
    gauge("steward_calls_running", "method calls running now", s.callsRunning);
    gauge("steward_processes", "processes running, by kind", s.subscribers, {{"kind", "subscriber"}});
    gauge("steward_processes", "processes running, by kind", s.publishers, {{"kind", "publisher"}});
    gauge("steward_plugins_loaded", "plugin libraries mapped now", s.pluginsLoaded);
    gauge("steward_relay_held", "messages this node holds as a relay until their receiver ACKs them",
          s.relayHeld);
    prometheus::ClientMetric synced;
    synced.counter.value = s.syncedWrites;
    out.push_back(prometheus::MetricFamily{"steward_store_synced_writes_total",
                                           "writes to the node's database synced to disk",
                                           prometheus::MetricType::Counter, {synced}});
    return out;
  }

 private:
  std::function<NodeSample()> sampler_;
};

}  // namespace

struct Metrics::Impl {
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<Sampled> sampled;
  std::map<std::string, prometheus::Family<prometheus::Counter>*, std::less<>> counters;
  prometheus::Family<prometheus::Histogram>* durations = nullptr;
  prometheus::Family<prometheus::Gauge>* lastHello = nullptr;
};

Result<std::unique_ptr<Metrics>> Metrics::create(const std::string& hostAndPort,
                                                 std::function<NodeSample()> sampler) {
  auto impl = std::make_unique<Impl>();
  for (const char* e : kEvents) {
    impl->counters[e] = &prometheus::BuildCounter()
                             .Name(metricName(e))
                             .Help(std::string("messages ") + e + ", by method")
                             .Register(*impl->registry);
  }
  impl->durations = &prometheus::BuildHistogram()
                         .Name("steward_handler_duration_seconds")
                         .Help("how long method runs took, by method")
                         .Register(*impl->registry);
  impl->lastHello = &prometheus::BuildGauge()
                         .Name("steward_last_hello_timestamp_seconds")
                         .Help("when this node last heard a hello from each node (Unix time)")
                         .Register(*impl->registry);
  impl->sampled = std::make_shared<Sampled>(std::move(sampler));
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(hostAndPort, 1);
  } catch (const std::exception& e) {
    return Error{"promHostAndPort: cannot serve metrics on " + hostAndPort + ": " + e.what()};
  }
  impl->exposer->RegisterCollectable(impl->registry);
  impl->exposer->RegisterCollectable(impl->sampled);
  return std::unique_ptr<Metrics>(new Metrics(std::move(impl)));
}

Metrics::Metrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Metrics::~Metrics() = default;

void Metrics::event(std::string_view event, const message::Message& m) {
  auto it = impl_->counters.find(event);
  if (it != impl_->counters.end()) it->second->Add({{"method", m.method}}).Increment();
  if (event == "received" && m.method == message::methods::kHello) {
    const auto now = std::chrono::duration<double>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    impl_->lastHello->Add({{"node", m.fromNode}}).Set(now);
  }
}

void Metrics::handlerDuration(const std::string& method, double seconds) {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300};
  impl_->durations->Add({{"method", method}}, buckets).Observe(seconds);
}

uint16_t Metrics::port() const {
  auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
}

}  // namespace steward::observe
