// steward daemon entry point: parse flags, wire the parts, run until SIGINT/SIGTERM.
#include "core/config/config.hpp"
#include "core/input/http_input.hpp"
#include "core/input/operator_input.hpp"
#include "core/input/socket_input.hpp"
#include "core/observe/audit.hpp"
#include "core/observe/data_folder.hpp"
#include "core/util/log.hpp"
#include "core/plugin/host.hpp"
#include "core/process/node.hpp"
#include "core/security/identity.hpp"
#include "core/security/sealing.hpp"
#include "core/security/trust.hpp"
#include "core/store/store.hpp"
#include "core/transport/nats_transport.hpp"
#include "core/util/clock.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <nats/nats.h>
#include <openssl/crypto.h>
#include <systemd/sd-daemon.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <optional>
#include <iostream>
#include <thread>

namespace fs = std::filesystem;
using namespace steward;

namespace {

fs::path defaultPluginFolder() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "plugins";
  for (const fs::path& candidate :
       {exe.parent_path() / "plugins", exe.parent_path() / ".." / STEWARD_PLUGIN_INSTALL_DIR}) {
    if (fs::is_directory(candidate, ec)) return fs::weakly_canonical(candidate, ec);
  }
  return exe.parent_path() / "plugins";
}

logging::Severity severity(const std::string& level) {
  if (level == "debug") return logging::Severity::debug;
  if (level == "warning") return logging::Severity::warning;
  if (level == "error") return logging::Severity::error;
  return logging::Severity::info;
}

// The spec's "services at startup": each *.json in the startup folder is input, in name order.
void submitStartupFolder(const config::Config& config, process::Node& node) {
  if (config.startupFolder.empty()) return;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(config.startupFolder, ec)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  if (ec) {
    node.errors().report(config.nodeName + ": cannot read startupFolder " +
                         config.startupFolder.string() + ": " + ec.message());
    return;
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    // A refused file is reported by submit itself, naming the file as the source.
    if (auto ids = node.submit(text.str(), "startup file " + file.string())) {
      STEWARD_LOG(info) << "startup file " << file.string() << ": " << ids->size() << " message(s)";
    }
  }
}

int run(config::Config config) {
  logging::LogSettings logging;
  logging.minimum = severity(config.logLevel);
  logging.file = config.logFile;
  logging::initLogging(logging);
  if (config.pluginFolder.empty()) config.pluginFolder = defaultPluginFolder();
  std::error_code ec;
  for (auto* folder : {&config.subscribersDataFolder, &config.databaseFolder,
                       &config.socketFolder}) {
    fs::create_directories(*folder, ec);
    if (ec) {
      std::cerr << "steward: cannot create folder " << folder->string() << ": " << ec.message()
                << "\n";
      return 1;
    }
    *folder = fs::canonical(*folder);
  }

  std::vector<Error> pluginErrors;
  plugin::PluginHost plugins(config.pluginFolder, [](const std::string& plugin,
                                                     steward_log_level level,
                                                     const std::string& text) {
    switch (level) {
      case STEWARD_LOG_DEBUG: STEWARD_LOG(debug) << plugin << ": " << text; break;
      case STEWARD_LOG_INFO: STEWARD_LOG(info) << plugin << ": " << text; break;
      case STEWARD_LOG_WARNING: STEWARD_LOG(warning) << plugin << ": " << text; break;
      default: STEWARD_LOG(error) << plugin << ": " << text; break;
    }
  });
  plugins.setConfigs(config.pluginConfigs);
  if (auto loaded = plugins.loadAll(); !loaded) {
    std::cerr << "steward: " << loaded.error().message << "\n";
    return 1;
  } else {
    pluginErrors = loaded.value();
  }
  for (const auto& p : plugins.plugins()) {
    STEWARD_LOG(info) << "loaded plugin " << p.name << " " << p.version << " from "
                      << p.file.string();
  }

  store::StoreOptions storeOptions;
  storeOptions.sync = config.syncWrites;
  auto store = store::Store::open(config.databaseFolder, storeOptions);
  if (!store) {
    std::cerr << "steward: " << store.error().message << "\n";
    return 1;
  }

  transport::NatsSettings nats;
  nats.brokerAddress = config.brokerAddress;
  nats.clientName = "steward-" + config.nodeName;
  nats.nodeName = config.nodeName;
  nats.nkeySeedFile = config.nkeySeedFile;
  nats.rootCAPath = config.rootCAPath;
  // The node does not exist yet when the first connection event arrives.
  std::atomic<process::Node*> liveNode{nullptr};
  auto transport = transport::NatsTransport::connect(
      nats, [&liveNode](bool connected, const std::string& event) {
        STEWARD_LOG(info) << event;
        if (auto* n = liveNode.load(); connected && n != nullptr) n->brokerReconnected();
      });
  if (!transport) {
    std::cerr << "steward: " << transport.error().message << "\n";
    return 1;
  }

  // Every message this node sends is sealed with its key; every one it takes must be sealed by
  // a key it trusts.
  auto identity = security::Identity::loadOrCreate(config.databaseFolder / "keys");
  if (!identity) {
    std::cerr << "steward: " << identity.error().message << "\n";
    return 1;
  }
  STEWARD_LOG(info) << "public key of " << config.nodeName << ": " << identity->publicKey() << " ("
                    << (config.databaseFolder / "keys" / "node.pub").string() << ")";
  auto trust = security::Trust::open({.ownNode = config.nodeName,
                                      .ownKey = identity->publicKey(),
                                      .centralNode = config.centralNodeName,
                                      .folder = config.trustedKeysFolder,
                                      .stateDir = config.databaseFolder / "keys"});
  if (!trust) {
    std::cerr << "steward: " << trust.error().message << "\n";
    return 1;
  }
  security::SealingTransport sealing(*transport.value(), *identity, config.nodeName, nowUnixMs);
  const security::Verifier verifier(**trust, std::chrono::seconds(config.signatureWindowSeconds),
                                    nowUnixMs);

  observe::Audit audit(observe::AuditSettings{config.databaseFolder});
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  process::Node node(config, io, sealing, plugins, *store.value(), audit,
                     {.verifier = &verifier, .trust = trust->get(), .identity = &*identity});
  std::unique_ptr<observe::Metrics> metrics;
  if (!config.promHostAndPort.empty()) {
    auto created = observe::Metrics::create(config.promHostAndPort, [&node] { return node.sample(); });
    if (created) {
      metrics = std::move(created).value();
      audit.setListener([m = metrics.get()](std::string_view event, const message::Message& msg) {
        m->event(event, msg);
      });
      node.onHandlerDuration([m = metrics.get()](const std::string& method, double seconds) {
        m->handlerDuration(method, seconds);
      });
      STEWARD_LOG(info) << "serving metrics on " << config.promHostAndPort << "/metrics";
    } else {
      node.errors().report(config.nodeName + ": " + created.error().message);
    }
  }
  for (const auto& e : pluginErrors) node.errors().report(config.nodeName + ": " + e.message);
  node.start();
  liveNode = &node;

  auto operatorInput = [&node](const std::string& source) {
    return input::operatorInput(
        [&node, source](std::string_view in, const std::shared_ptr<process::ReplyWatcher>& w) {
          return node.submit(in, source, w);
        });
  };
  // An input or server that cannot start is reported to central; the node serves without it.
  auto started = [&](const Status& s, const std::string& serving) {
    if (!s) {
      node.errors().report(config.nodeName + ": " + s.error().message);
    } else if (!serving.empty()) {
      STEWARD_LOG(info) << serving;
    }
  };
  input::SocketInput socket(io, config.socketFolder / "steward.sock", operatorInput("socket"));
  started(socket.start(), "");
  submitStartupFolder(config, node);
  std::optional<input::TcpInput> tcp;
  if (!config.tcpListener.empty()) {
    tcp.emplace(io, config.tcpListener, operatorInput("tcp"));
    started(tcp->start(), "taking input over TCP on " + config.tcpListener);
  }
  std::optional<input::HttpInput> http;
  if (!config.httpListener.empty()) {
    http.emplace(io, config.httpListener, [&](std::string_view in) { return node.submit(in, "http"); });
    started(http->start(), "taking input over HTTP on " + config.httpListener);
  }
  std::optional<observe::DataFolderServer> dataFolder;
  if (!config.exposeDataFolder.empty()) {
    dataFolder.emplace(io, config.subscribersDataFolder, config.exposeDataFolder);
    started(dataFolder->start(), "serving " + config.subscribersDataFolder.string() +
                                     " read-only on http://" + config.exposeDataFolder + "/");
  }

  // Stopping blocks (handlers are joined), so it runs on its own thread while the io threads
  // keep serving the cancellations it posts.
  std::thread stopper;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    STEWARD_LOG(info) << "signal " << sig << ": stopping";
    (void)sd_notify(0, "STOPPING=1");
    socket.stop();
    if (tcp) tcp->stop();
    if (http) http->stop();
    if (dataFolder) dataFolder->stop();
    work.reset();
    stopper = std::thread([&] {
      node.stop(std::chrono::seconds(config.stopGraceSeconds));
      io.stop();
    });
  });

  STEWARD_LOG(info) << "node " << config.nodeName << " running; central is "
                    << config.centralNodeName << ", broker " << config.brokerAddress;
  // systemd (Type=notify): the store is open, the subscribers and inputs are up. The broker may
  // still be out of reach; that is the normal state of a ship at sea, not a failed start.
  (void)sd_notify(0, ("READY=1\nSTATUS=node " + config.nodeName + " running").c_str());
  const unsigned threads = std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  if (stopper.joinable()) stopper.join();
  liveNode = nullptr;
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
  // No nats_CloseAndWait: in nats.c 3.4 its TLS cleanup (run whenever a connection used TLS, even
  // one the server asked for) corrupts OpenSSL's state (same bug). run() has closed and destroyed
  // the connection already; exit ends nats.c's threads.
  return run(*cli->config);
}
