// steward-sim: many logical steward nodes in one process, for fleet-scale benchmarks and tests.
//
// Each node is a real node of the core library (process::SealedNode: its own key pair, outbox,
// inbox, subscribers, hellos, the real plugins), with its own folders under
// <folder>/nodes/<name>/. What a daemon has once per node, the nodes here share, so that 10,000
// of them fit on a small machine: one io_context and its threads, one pool of handler threads and
// one of intake threads, a few broker connections (nats.c's shared message delivery, so threads do
// not grow with the nodes), one LevelDB (each node's keys under its own prefix: Store::part), the
// plugins loaded once, one audit log, and one log whose lines say which node wrote them.
//
//   steward-sim --nodes=1000 --folder=/tmp/fleet [--prefix=s] [--connections=K]
//       [--startPerSecond=R] [--provisionKeys=DIR] -- --brokerAddress=… --startSubREQCliCommand=central …
//
// After "--" come the nodes' own flags, as steward takes them (nodeName and the folders are set
// per node; operator inputs, metrics and the data folder server are not started). The nodes are
// named <prefix><first> … <prefix><first+nodes-1>. A node keeps its key and its messages across
// restarts of the simulator, like a daemon. SIGINT or SIGTERM stops every node and exits.
#include "core/config/config.hpp"
#include "core/observe/audit.hpp"
#include "core/plugin/host.hpp"
#include "core/process/handler_pool.hpp"
#include "core/process/sealed_node.hpp"
#include "core/store/store.hpp"
#include "core/transport/nats_transport.hpp"
#include "core/util/log.hpp"
#include "core/util/thread_name.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cxxopts.hpp>
#include <openssl/crypto.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;
using namespace steward;
using Clock = std::chrono::steady_clock;

namespace {

struct SimSettings {
  std::string prefix = "s";
  size_t first = 1;
  size_t nodes = 0;
  fs::path folder;
  size_t connections = 0;  // 0: one per 1,000 nodes, at most 16
  double startPerSecond = 0;  // 0: all at once
  fs::path provisionKeys;  // each node's public key is written here as <name>.pub
  config::Config node;     // the nodes' settings, nodeName and folders aside
};

// One broker connection and the nodes on it (told when it is back).
struct Link {
  std::unique_ptr<transport::NatsTransport> transport;
  std::mutex mutex;
  std::vector<process::Node*> nodes;
};

class Simulator {
 public:
  explicit Simulator(SimSettings settings) : settings_(std::move(settings)) {}

  // The shared parts: plugins, database, audit log, broker connections.
  Status open() {
    const config::Config& c = settings_.node;
    plugins_ = std::make_unique<plugin::PluginHost>(
        c.pluginFolder.empty() ? plugin::PluginHost::defaultFolder() : c.pluginFolder,
        // `plugin` starts with the node's name ([s17] cli).
        [](const std::string& plugin, steward_log_level level, const std::string& text) {
          if (level >= STEWARD_LOG_WARNING) STEWARD_LOG(warning) << plugin << ": " << text;
        });
    plugins_->setConfigs(c.pluginConfigs);
    auto loaded = plugins_->loadAll();
    if (!loaded) return loaded.error();
    for (const auto& e : loaded.value()) STEWARD_LOG(warning) << e.message;
    auto store = store::Store::open(settings_.folder / "db", {.sync = c.syncWrites});
    if (!store) return store.error();
    store_ = std::move(store).value();
    audit_ = std::make_unique<observe::Audit>(observe::AuditSettings{settings_.folder / "db"});
    size_t links = settings_.connections;
    if (links == 0) links = std::clamp<size_t>(settings_.nodes / 1000, 1, 16);
    for (size_t k = 0; k < links; ++k) {
      auto link = std::make_unique<Link>();
      transport::NatsSettings nats;
      nats.brokerAddress = c.brokerAddress;
      nats.clientName = "steward-sim-" + settings_.prefix + "-" + std::to_string(k);
      nats.nodeName = "sim-" + settings_.prefix + std::to_string(k);
      nats.nkeySeedFile = c.nkeySeedFile;
      nats.rootCAPath = c.rootCAPath;
      auto connected = transport::NatsTransport::connect(
          nats, [l = link.get(), name = nats.clientName](bool up, const std::string& event) {
            STEWARD_LOG(info) << name << ": " << event;
            if (!up) return;
            std::lock_guard lock(l->mutex);
            for (auto* n : l->nodes) n->brokerReconnected();
          });
      if (!connected) return connected.error();
      link->transport = std::move(connected).value();
      links_.push_back(std::move(link));
    }
    return {};
  }

  // Makes and starts the nodes, paced by startPerSecond; stops early when `stop` is set.
  Status start(boost::asio::io_context& io, const std::atomic<bool>& stop) {
    const auto began = Clock::now();
    for (size_t i = 0; i < settings_.nodes && !stop; ++i) {
      if (settings_.startPerSecond > 0) {
        std::this_thread::sleep_until(
            began + std::chrono::microseconds(static_cast<int64_t>(1e6 * i / settings_.startPerSecond)));
      }
      auto made = makeNode(io, settings_.prefix + std::to_string(settings_.first + i), *links_[i % links_.size()]);
      if (!made) return made.error();
    }
    return {};
  }

  // Stops every node (what is not settled stays in the store), then the shared threads.
  void stop(std::chrono::milliseconds grace) {
    for (auto& n : nodes_) n->node().stop(grace);
    handlers_.stop();
    intake_.stop();
  }

  size_t running() const { return nodes_.size(); }

 private:
  Status makeNode(boost::asio::io_context& io, const std::string& name, Link& link) {
    config::Config c = settings_.node;
    c.nodeName = name;
    const fs::path home = settings_.folder / "nodes" / name;
    c.databaseFolder = home / "db";
    c.subscribersDataFolder = home / "data";
    c.socketFolder = home;
    std::error_code ec;
    for (const auto& folder : {c.databaseFolder, c.subscribersDataFolder}) {
      fs::create_directories(folder, ec);
      if (ec) return Error{"cannot create folder " + folder.string() + ": " + ec.message()};
    }
    parts_.push_back(store_->part(name));
    auto sealed = process::SealedNode::create(c, io, *link.transport, *plugins_, *parts_.back(), *audit_,
                                              {.handlers = &handlers_, .intake = &intake_});
    if (!sealed) return Error{name + ": " + sealed.error().message};
    if (!settings_.provisionKeys.empty()) {
      const fs::path file = settings_.provisionKeys / (name + ".pub");
      std::ifstream in(file);
      std::string held;
      std::getline(in, held);
      if (held != sealed.value()->identity().publicKey()) {
        std::ofstream(file) << sealed.value()->identity().publicKey() << "\n";
      }
    }
    process::Node& node = sealed.value()->node();
    node.start();
    {
      std::lock_guard lock(link.mutex);
      link.nodes.push_back(&node);
    }
    nodes_.push_back(std::move(sealed).value());
    return {};
  }

  SimSettings settings_;
  std::unique_ptr<plugin::PluginHost> plugins_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<observe::Audit> audit_;
  std::vector<std::unique_ptr<Link>> links_;
  process::HandlerPool handlers_{64};
  process::HandlerPool intake_{4, "stw-intake"};
  std::vector<std::unique_ptr<store::Store>> parts_;
  std::vector<std::unique_ptr<process::SealedNode>> nodes_;  // destroyed first
};

// Parses the simulator's own flags (before "--") and the nodes' (after it).
Result<std::optional<SimSettings>> parse(int argc, char** argv) {
  int split = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      split = i;
      break;
    }
  }
  cxxopts::Options spec("steward-sim", "many steward nodes in one process (benchmarks, tests)");
  spec.add_options()("nodes", "how many nodes", cxxopts::value<size_t>())(
      "folder", "where the nodes' folders, database and logs go", cxxopts::value<std::string>())(
      "prefix", "node names: <prefix><number>", cxxopts::value<std::string>()->default_value("s"))(
      "first", "number of the first node", cxxopts::value<size_t>()->default_value("1"))(
      "connections", "broker connections shared by the nodes (0: one per 1,000, at most 16)",
      cxxopts::value<size_t>()->default_value("0"))(
      "startPerSecond", "nodes started per second (0: all at once)",
      cxxopts::value<double>()->default_value("0"))(
      "provisionKeys", "folder to write each node's public key to, as <name>.pub",
      cxxopts::value<std::string>()->default_value(""))("help", "this text");
  SimSettings s;
  try {
    auto args = spec.parse(split, argv);
    if (args.count("help") != 0) {
      std::cout << spec.help() << "\nAfter \"--\": the nodes' flags, as steward --help lists them.\n";
      return std::optional<SimSettings>();
    }
    if (args.count("nodes") == 0 || args.count("folder") == 0) return Error{"--nodes and --folder are required"};
    s.nodes = args["nodes"].as<size_t>();
    s.folder = args["folder"].as<std::string>();
    s.prefix = args["prefix"].as<std::string>();
    s.first = args["first"].as<size_t>();
    s.connections = args["connections"].as<size_t>();
    s.startPerSecond = args["startPerSecond"].as<double>();
    s.provisionKeys = args["provisionKeys"].as<std::string>();
  } catch (const cxxopts::exceptions::exception& e) {
    return Error{e.what()};
  }
  if (s.nodes == 0 || s.nodes > 100000) return Error{"--nodes must be between 1 and 100000"};
  std::error_code ec;
  fs::create_directories(s.folder / "etc", ec);
  if (ec) return Error{"cannot create " + (s.folder / "etc").string() + ": " + ec.message()};
  s.folder = fs::canonical(s.folder);
  // The nodes' flags, read as steward reads them; the first node's name stands in for all.
  std::vector<std::string> nodeArgs = {"steward", "--nodeName=" + s.prefix + std::to_string(s.first)};
  for (int i = split + 1; i < argc; ++i) nodeArgs.emplace_back(argv[i]);
  std::vector<const char*> raw;
  for (const auto& a : nodeArgs) raw.push_back(a.c_str());
  auto cli = config::parseCommandLine(static_cast<int>(raw.size()), raw.data(), s.folder / "etc");
  if (!cli) return Error{"node flags: " + cli.error().message};
  if (!cli->config) return Error{"node flags: --help is steward's"};
  s.node = *cli->config;
  if (!s.node.trustedKeysFolder.is_absolute()) s.node.trustedKeysFolder = fs::absolute(s.node.trustedKeysFolder);
  return std::optional<SimSettings>(std::move(s));
}

// Each node keeps a few files open while it writes; the database and connections a few more.
void raiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // As in steward's main: nats.c 3.4's OpenSSL cleanup must not run at exit.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  auto parsed = parse(argc, argv);
  if (!parsed) {
    std::cerr << "steward-sim: " << parsed.error().message << "\n";
    return 2;
  }
  if (!parsed.value()) return 0;
  SimSettings settings = std::move(*parsed.value());
  raiseFileLimit();
  logging::initLogging({.minimum = logging::severityNamed(settings.node.logLevel), .file = settings.node.logFile});
  logging::tagNodes(true);

  boost::asio::io_context io;  // outlives the nodes and their timers
  Simulator sim(settings);
  if (auto s = sim.open(); !s) {
    std::cerr << "steward-sim: " << s.error().message << "\n";
    return 1;
  }
  auto work = boost::asio::make_work_guard(io);
  std::atomic<bool> stop{false};
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) stop = true;
  });
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < std::clamp(std::thread::hardware_concurrency(), 1u, 4u); ++i) {
    threads.emplace_back([&io] {
      nameThisThread("stw-io");
      io.run();
    });
  }
  int status = 0;
  if (auto s = sim.start(io, stop); !s) {
    std::cerr << "steward-sim: " << s.error().message << "\n";
    status = 1;
  } else if (!stop) {
    // On stdout whatever the log level: what scripts wait for.
    std::cout << "steward-sim: " << sim.running() << " nodes running" << std::endl;
  }
  while (status == 0 && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  STEWARD_LOG(info) << "steward-sim: stopping " << sim.running() << " nodes";
  sim.stop(std::chrono::seconds(settings.node.stopGraceSeconds));
  work.reset();
  io.stop();
  for (auto& t : threads) t.join();
  STEWARD_LOG(info) << "steward-sim: stopped";
  return status;
}
