// steward daemon entry point: parse flags, wire the parts, run until SIGINT/SIGTERM.
#include "core/config/config.hpp"
#include "core/input/fleet_view.hpp"
#include "core/input/http_input.hpp"
#include "core/input/operator_input.hpp"
#include "core/input/socket_input.hpp"
#include "core/observe/audit.hpp"
#include "core/observe/data_folder.hpp"
#include "core/observe/metrics.hpp"
#include "core/plugin/host.hpp"
#include "core/process/relay.hpp"
#include "core/process/sealed_node.hpp"
#include "core/store/store.hpp"
#include "core/transport/nats_transport.hpp"
#include "core/util/clock.hpp"
#include "core/util/log.hpp"
#include "core/util/service_notify.hpp"
#include "core/util/targets.hpp"
#include "core/util/thread_name.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <nats/nats.h>
#include <openssl/crypto.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using namespace steward;

namespace {

// The parts of a running daemon, made by the start-up steps below in this order; each step that
// fails says why on stderr and the daemon exits 1.
struct Parts {
  std::unique_ptr<plugin::PluginHost> plugins;
  std::vector<Error> pluginErrors;  // plugins refused; reported to central once the node runs
  std::unique_ptr<store::Store> store;
  std::atomic<process::Node*> liveNode{nullptr};  // for broker events that come before it exists
  std::atomic<const process::Relay*> liveRelay{nullptr};  // for metrics, once it runs
  std::unique_ptr<transport::NatsTransport> transport;
};

// Step 1: logging, and the folders the node writes to, made absolute.
Status prepareFolders(config::Config& config) {
  logging::LogSettings logging;
  logging.minimum = logging::severityNamed(config.logLevel);
  logging.file = config.logFile;
  logging::initLogging(logging);
  if (config.pluginFolder.empty()) config.pluginFolder = plugin::PluginHost::defaultFolder();
  std::error_code ec;
  for (auto* folder : {&config.subscribersDataFolder, &config.databaseFolder, &config.socketFolder}) {
    fs::create_directories(*folder, ec);
    if (ec) return Error{"cannot create folder " + folder->string() + ": " + ec.message()};
    *folder = fs::canonical(*folder);
  }
  return {};
}

// Step 2: every plugin in the folder, checked; refused ones are kept to report.
Status loadPlugins(const config::Config& config, Parts& parts) {
  parts.plugins = std::make_unique<plugin::PluginHost>(
      config.pluginFolder, [](const std::string& plugin, steward_log_level level, const std::string& text) {
        switch (level) {
          case STEWARD_LOG_DEBUG: STEWARD_LOG(debug) << plugin << ": " << text; break;
          case STEWARD_LOG_INFO: STEWARD_LOG(info) << plugin << ": " << text; break;
          case STEWARD_LOG_WARNING: STEWARD_LOG(warning) << plugin << ": " << text; break;
          default: STEWARD_LOG(error) << plugin << ": " << text; break;
        }
      });
  parts.plugins->setConfigs(config.pluginConfigs);
  auto loaded = parts.plugins->loadAll();
  if (!loaded) return loaded.error();
  parts.pluginErrors = std::move(loaded).value();
  for (const auto& p : parts.plugins->plugins()) {
    STEWARD_LOG(info) << "loaded plugin " << p.name << " " << p.version << " from " << p.file.string();
  }
  return {};
}

// Step 3: the outbox and inbox.
Status openStore(const config::Config& config, Parts& parts) {
  store::StoreOptions options;
  options.sync = config.syncWrites;
  auto store = store::Store::open(config.databaseFolder, options);
  if (!store) return store.error();
  parts.store = std::move(store).value();
  return {};
}

// The settings of a connection to `address`, authenticated as this node.
transport::NatsSettings brokerSettings(const config::Config& config, const std::string& address,
                                       const std::string& clientName) {
  transport::NatsSettings nats;
  nats.brokerAddress = address;
  nats.clientName = clientName;
  nats.nodeName = config.nodeName;
  nats.nkeySeedFile = config.nkeySeedFile;
  nats.rootCAPath = config.rootCAPath;
  return nats;
}

// Step 4: the broker connection (kept, and made again, whatever happens to it later).
Status connectBroker(const config::Config& config, Parts& parts) {
  auto transport = transport::NatsTransport::connect(
      brokerSettings(config, config.brokerAddress, "steward-" + config.nodeName),
      [live = &parts.liveNode](bool connected, const std::string& event) {
        STEWARD_LOG(info) << event;
        if (auto* n = live->load(); connected && n != nullptr) n->brokerReconnected();
      });
  if (!transport) return transport.error();
  parts.transport = std::move(transport).value();
  return {};
}

// Step 8b, on a relay only (relayBrokerAddress set): the far broker's connection, and the relay
// carrying messages between it and the node's own broker (README, "Relays").
struct RelayParts {
  std::unique_ptr<transport::NatsTransport> far;
  std::unique_ptr<security::SealingTransport> sealedFar;  // seals with the node's key
  std::shared_ptr<process::Relay> relay;
};

void startRelay(const config::Config& config, boost::asio::io_context& io, process::SealedNode& sealed,
                store::Store& store, const observe::Audit& audit, RelayParts& parts) {
  if (config.relayBrokerAddress.empty()) return;
  process::Node& node = sealed.node();
  auto far = transport::NatsTransport::connect(
      brokerSettings(config, config.relayBrokerAddress, "steward-" + config.nodeName + "-relay"),
      [](bool, const std::string& event) { STEWARD_LOG(info) << "relay's far broker: " << event; });
  if (!far) return node.errors().report("relay not started: " + far.error().message);
  parts.far = std::move(far).value();
  parts.sealedFar = std::make_unique<security::SealingTransport>(*parts.far, sealed.identity(),
                                                                 config.nodeName, nowUnixMs);
  process::RelaySettings settings;
  settings.nodeName = config.nodeName;
  settings.hold = std::chrono::seconds(config.relayHoldSeconds);
  settings.defaultRetries = config.defaultMessageRetries;
  for (auto& n : targets::splitNames(config.relayNodes)) settings.farNodes.insert(std::move(n));
  parts.relay = std::make_shared<process::Relay>(io, sealed.broker(), *parts.sealedFar, sealed.verifier(),
                                                 store, audit, node.errors(), std::move(settings));
  if (auto s = parts.relay->start(); !s) {
    parts.relay->stop();
    parts.relay.reset();
    return node.errors().report("relay not started: " + s.error().message);
  }
  STEWARD_LOG(info) << "relaying for " << config.relayNodes << " on " << config.relayBrokerAddress;
}

// Step 7: Prometheus metrics, fed by the audit events and the node's samples.
std::unique_ptr<observe::Metrics> startMetrics(const config::Config& config, process::Node& node,
                                               observe::Audit& audit, const Parts& parts) {
  if (config.promHostAndPort.empty()) return nullptr;
  auto created = observe::Metrics::create(config.promHostAndPort, [&node, &parts] {
    observe::NodeSample sample = node.sample();
    if (const auto* relay = parts.liveRelay.load()) sample.relayHeld = static_cast<double>(relay->held());
    return sample;
  });
  if (!created) {
    node.errors().report(created.error().message);
    return nullptr;
  }
  auto metrics = std::move(created).value();
  audit.setListener([m = metrics.get()](std::string_view event, const message::Message& msg) {
    m->event(event, msg);
  });
  node.onHandlerDuration([m = metrics.get()](const std::string& method, double seconds) {
    m->handlerDuration(method, seconds);
  });
  STEWARD_LOG(info) << "serving metrics on " << config.promHostAndPort << "/metrics";
  return metrics;
}

// Step 9: the operator's inputs and the data folder server. One that cannot start is reported to
// central; the node serves without it.
struct Inputs {
  std::unique_ptr<input::SocketInput> socket;
  std::optional<input::TcpInput> tcp;
  std::optional<input::HttpInput> http;
  std::optional<observe::DataFolderServer> dataFolder;
  std::optional<input::FleetView> fleetView;
  std::shared_ptr<process::Relay> relay;  // a relay takes messages in too

  void stop() {
    if (relay) relay->stop();
    if (fleetView) fleetView->stop();
    if (socket) socket->stop();
    if (tcp) tcp->stop();
    if (http) http->stop();
    if (dataFolder) dataFolder->stop();
  }
};

void startInputs(const config::Config& config, boost::asio::io_context& io, process::Node& node,
                 Inputs& inputs) {
  auto operatorInput = [&node](const std::string& source) {
    return input::operatorInput(
        [&node, source](std::string_view in, const std::shared_ptr<process::ReplyWatcher>& w) {
          return node.submit(in, source, w);
        });
  };
  auto started = [&](const Status& s, const std::string& serving) {
    if (!s) {
      node.errors().report(s.error().message);
    } else if (!serving.empty()) {
      STEWARD_LOG(info) << serving;
    }
  };
  inputs.socket = std::make_unique<input::SocketInput>(io, config.socketFolder / "steward.sock",
                                                       operatorInput("socket"));
  started(inputs.socket->start(), "");
  node.submitStartupFiles();
  if (!config.tcpListener.empty()) {
    inputs.tcp.emplace(io, config.tcpListener, operatorInput("tcp"));
    started(inputs.tcp->start(), "taking input over TCP on " + config.tcpListener);
  }
  if (!config.httpListener.empty()) {
    inputs.http.emplace(io, config.httpListener, [&node](std::string_view in) { return node.submit(in, "http"); });
    started(inputs.http->start(), "taking input over HTTP on " + config.httpListener);
  }
  if (!config.fleetViewListener.empty()) {
    const fs::path tokenFile = config.fleetViewTokenFile.empty() ? config.databaseFolder / "fleet-view.token"
                                                                 : config.fleetViewTokenFile;
    auto token = input::fleetViewToken(tokenFile);
    if (!token) {
      node.errors().report("fleet view not started: " + token.error().message);
    } else {
      input::FleetViewSource source{
          .operate = [&node](std::string_view op) { return node.operate(op); },
          .submit = [&node](std::string_view in, const std::shared_ptr<process::ReplyWatcher>& w) {
            return node.submit(in, "fleet view", w);
          },
          .errorLog = config.subscribersDataFolder / "errorLog" / "errors.log"};
      inputs.fleetView.emplace(io, input::FleetViewSettings{.address = config.fleetViewListener, .token = *token},
                               std::move(source));
      // The token itself stays out of the log: the file says it.
      started(inputs.fleetView->start(), "fleet view on http://" + config.fleetViewListener +
                                             "/ (open it with #token=<the token in " + tokenFile.string() + ">)");
    }
  }
  if (!config.exposeDataFolder.empty()) {
    inputs.dataFolder.emplace(io, config.subscribersDataFolder, config.exposeDataFolder);
    started(inputs.dataFolder->start(), "serving " + config.subscribersDataFolder.string() +
                                            " read-only on http://" + config.exposeDataFolder + "/");
  }
}

// Step 10: serve on a small pool of io threads until SIGINT or SIGTERM, then stop: inputs first,
// then the node (which waits for running methods up to stopGraceSeconds).
void serveUntilSignal(const config::Config& config, boost::asio::io_context& io, process::Node& node,
                      Inputs& inputs) {
  auto work = boost::asio::make_work_guard(io);
  // Stopping blocks (handlers are joined), so it runs on its own thread while the io threads
  // keep serving the cancellations it posts.
  std::thread stopper;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    STEWARD_LOG(info) << "signal " << sig << ": stopping";
    (void)notifyServiceManager("STOPPING=1");
    inputs.stop();
    work.reset();
    stopper = std::thread([&] {
      nameThisThread("stw-stop");
      node.stop(std::chrono::seconds(config.stopGraceSeconds));
      io.stop();
    });
  });
  STEWARD_LOG(info) << "node " << config.nodeName << " running; central is " << config.centralNodeName
                    << ", broker " << config.brokerAddress;
  // systemd (Type=notify): the store is open, the subscribers and inputs are up. The broker may
  // still be out of reach; that is the normal state of a ship at sea, not a failed start.
  (void)notifyServiceManager("READY=1\nSTATUS=node " + config.nodeName + " running");
  // Blocking work (methods, storing what arrives) has pools of its own; the io threads only route,
  // so half the cores serve (one on a small machine: a node at rest keeps few threads).
  const unsigned threads = std::clamp(std::thread::hardware_concurrency() / 2, 1u, 4u);
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) {
    pool.emplace_back([&] {
      nameThisThread("stw-io");
      io.run();
    });
  }
  io.run();
  for (auto& t : pool) t.join();
  if (stopper.joinable()) stopper.join();
}

int run(config::Config config) {
  Parts parts;
  for (const auto& step : {std::function<Status()>([&] { return prepareFolders(config); }),
                           std::function<Status()>([&] { return loadPlugins(config, parts); }),
                           std::function<Status()>([&] { return openStore(config, parts); }),
                           std::function<Status()>([&] { return connectBroker(config, parts); })}) {
    if (auto s = step(); !s) {
      std::cerr << "steward: " << s.error().message << "\n";
      return 1;
    }
  }
  // Steps 5 and 6: this node's key pair and the keys it trusts, and the node: every message it
  // sends is sealed with its key; every one it takes must be sealed by a key it trusts.
  observe::Audit audit(observe::AuditSettings{config.databaseFolder});
  boost::asio::io_context io;
  auto sealed = process::SealedNode::create(config, io, *parts.transport, *parts.plugins,
                                            *parts.store, audit);
  if (!sealed) {
    std::cerr << "steward: " << sealed.error().message << "\n";
    return 1;
  }
  process::Node& node = sealed.value()->node();
  STEWARD_LOG(info) << "public key of " << config.nodeName << ": " << sealed.value()->identity().publicKey()
                    << " (" << (config.databaseFolder / "keys" / "node.pub").string() << ")";
  auto metrics = startMetrics(config, node, audit, parts);
  // Step 8: the node resumes its outbox and inbox and starts its subscribers.
  for (const auto& e : parts.pluginErrors) node.errors().report(e.message);
  node.start();
  parts.liveNode = &node;
  RelayParts relay;
  Inputs inputs;
  startRelay(config, io, *sealed.value(), *parts.store, audit, relay);
  inputs.relay = relay.relay;
  parts.liveRelay = relay.relay.get();
  startInputs(config, io, node, inputs);
  serveUntilSignal(config, io, node, inputs);
  parts.liveNode = nullptr;
  parts.liveRelay = nullptr;
  // Metrics call into the node (samples) and the node into metrics (events): part them first.
  audit.setListener({});
  metrics.reset();
  STEWARD_LOG(info) << "stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything starts OpenSSL (nats.c for TLS, libcurl in a plugin): no cleanup handler at
  // exit. nats.c 3.4's own cleanup frees OpenSSL's compression-method stack without clearing it,
  // and OpenSSL's exit handler would free it again and crash the daemon as it stops (nats.c
  // issue #904, fixed in later releases). The OS takes the memory back at exit anyway.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  const char* folder = std::getenv("CONFIG_FOLDER");
  auto cli = config::parseCommandLine(argc, argv, folder != nullptr && *folder ? folder : "./etc");
  if (!cli) {
    std::cerr << "steward: " << cli.error().message << "\n"
              << "run 'steward --help' for the flags\n";
    return 2;
  }
  if (!cli->config) {
    std::cout << cli->helpText;
    return 0;
  }
  for (const auto& warning : cli->warnings) std::cerr << "steward: warning: " << warning << "\n";
  // No nats_CloseAndWait: in nats.c 3.4 its TLS cleanup (run whenever a connection used TLS, even
  // one the server asked for) corrupts OpenSSL's state (same bug). run() has closed and destroyed
  // the connection already; exit ends nats.c's threads.
  return run(*cli->config);
}
