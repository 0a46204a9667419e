// The NATS transport against a real nats-server, where nats.c alone would give up: a first
// handshake that fails after the TCP connection was made (nats.c 3.4 then closes the connection
// for good instead of retrying, nats.c#926), and a broker that refuses the credentials twice.
#include "tests/e2e/harness.hpp"

#include "core/transport/nkey.hpp"
#include "core/transport/nats_transport.hpp"

#include <sys/stat.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace steward::e2e {
namespace {

// Accepts TCP connections on a loopback port and closes each at once, as a proxy in front of a
// broker that is down does.
class SlammingListener {
 public:
  explicit SlammingListener(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int yes = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 8) != 0) {
      ADD_FAILURE() << "cannot listen on port " << port;
    }
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) == 1) {
          const int client = ::accept(fd_, nullptr, nullptr);
          if (client >= 0) {
            ::close(client);
            ++accepted_;
          }
        }
      }
    });
  }
  ~SlammingListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int accepted() const { return accepted_.load(); }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

struct Events {
  std::mutex mutex;
  std::vector<std::string> seen;
  std::string all() {
    std::lock_guard lock(mutex);
    std::string out;
    for (const auto& e : seen) out += e + "\n";
    return out;
  }
};

class Transport : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    nats_.reset();  // each test brings its own broker
  }

  std::unique_ptr<transport::NatsTransport> connect(uint16_t port, Events& events,
                                                    const fs::path& seedFile = {}) {
    transport::NatsSettings settings;
    settings.nkeySeedFile = seedFile;
    settings.brokerAddress = "127.0.0.1:" + std::to_string(port);
    settings.nodeName = "ship1";
    settings.reconnectWaitMs = 100;
    auto t = transport::NatsTransport::connect(settings, [&events](bool, const std::string& e) {
      std::lock_guard lock(events.mutex);
      events.seen.push_back(e);
    });
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t ? std::move(t).value() : nullptr;
  }
};

TEST_F(Transport, AFirstHandshakeThatFailsIsRetriedUntilTheBrokerAnswers) {
  const uint16_t port = freePort();
  Events events;
  std::unique_ptr<transport::NatsTransport> t;
  std::unique_ptr<transport::Subscription> sub;
  std::atomic<int> received{0};
  {
    SlammingListener slam(port);
    t = connect(port, events);
    ASSERT_NE(t, nullptr);
    // Made while nats.c has no connection: it must hold once the broker is there.
    auto subscribed = t->subscribe("ship1.test", [&](transport::Incoming) { ++received; });
    ASSERT_TRUE(subscribed.ok()) << subscribed.error().message;
    sub = std::move(subscribed).value();
    EXPECT_TRUE(waitFor([&] { return slam.accepted() >= 2; }, 10s))
        << "the transport stopped trying after " << slam.accepted() << " handshake(s):\n"
        << events.all();
  }
  NatsServer broker(root_, port);
  ASSERT_TRUE(waitFor([&] { return t->connected(); }, 15s)) << events.all();
  EXPECT_TRUE(waitFor([&] {
    (void)t->publish("ship1.test", "hello");
    return received.load() > 0;
  }, 10s)) << events.all();
  sub.reset();
}

TEST_F(Transport, CredentialsTheBrokerRefusedAreTriedAgainUntilItTakesThem) {
  const auto admitted = transport::newNKeyUser();
  const auto refused = transport::newNKeyUser();
  const fs::path seed = root_ / "ship1.seed";
  std::ofstream(seed) << refused.seed << "\n";
  ::chmod(seed.c_str(), 0600);
  const fs::path config = root_ / "nats.conf";
  std::ofstream(config) << "authorization { users = [ { nkey: " << admitted.publicKey << " } ] }\n";
  NatsServer broker(root_, 0, config);

  Events events;
  auto t = connect(broker.port(), events, seed);
  ASSERT_NE(t, nullptr);
  std::atomic<int> received{0};
  auto sub = t->subscribe("ship1.test", [&](transport::Incoming) { ++received; });
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  // nats.c gives up after the same error twice; the transport tries again, and again.
  EXPECT_TRUE(waitFor([&] { return readFile(root_ / "nats-server.log").find("authentication error") != std::string::npos &&
                                   occurrences(events.all(), "a new connection in") >= 2; }, 10s))
      << events.all();

  std::ofstream(config) << "authorization { users = [ { nkey: " << admitted.publicKey
                        << " }, { nkey: " << refused.publicKey << " } ] }\n";
  broker.reload();
  ASSERT_TRUE(waitFor([&] { return t->connected(); }, 15s)) << events.all();
  EXPECT_TRUE(waitFor([&] {
    (void)t->publish("ship1.test", "hello");
    return received.load() > 0;
  }, 10s)) << events.all();
}

}  // namespace
}  // namespace steward::e2e
