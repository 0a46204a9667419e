// Broker security with a real nats-server: nkey authentication and TLS from a throwaway CA, with
// per-node subject permissions like the spec's example.
#include "tests/e2e/harness.hpp"

#include "core/transport/nkey.hpp"

#include <sys/stat.h>

#include <fstream>

namespace steward::e2e {
namespace {

class BrokerSecurity : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    makeCertificates();
    for (const char* node : {"central", "ship1", "intruder"}) {
      users_[node] = transport::newNKeyUser();
      const fs::path seed = root_ / (std::string(node) + ".seed");
      std::ofstream(seed) << users_[node].seed << "\n";
      ::chmod(seed.c_str(), 0600);
    }
    writeBrokerConfig({"central", "ship1"});
    nats_.reset();
    nats_ = std::make_unique<NatsServer>(root_, 0, root_ / "nats.conf");
  }

  // Only `users` may connect; each may publish to the others' subjects and reply inboxes, and
  // subscribe to its own subjects and reply inboxes only.
  void writeBrokerConfig(const std::vector<std::string>& users) {
    std::ofstream config(root_ / "nats.conf");
    config << "tls {\n  cert_file: \"" << (root_ / "server.pem").string() << "\"\n  key_file: \""
           << (root_ / "server.key").string() << "\"\n}\nauthorization {\n  users = [\n";
    for (const auto& node : users) {
      const std::string others = node == "central" ? "ship1" : "central";
      config << user(node, R"([")" + others + R"(.>", ")" + node + R"(.>", "_INBOX.>"])",
                     R"([")" + node + R"(.>", "_INBOX.)" + node + R"(.>"])");
    }
    config << "  ]\n}\n";
  }

  std::string user(const std::string& node, const std::string& publish, const std::string& subscribe) {
    return "    { nkey: " + users_[node].publicKey + "\n      permissions: { publish: { allow: " +
           publish + " }, subscribe: { allow: " + subscribe + " } } }\n";
  }

  void makeCertificates() {
    std::ofstream(root_ / "san.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    const std::vector<std::vector<std::string>> steps = {
        {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=steward test CA"},
        {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"},
        {"openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf"},
        // A CA the broker's certificate does not come from.
        {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=other CA"},
    };
    for (auto step : steps) {
      step[0] = "/usr/bin/openssl";
      const auto r = runToEnd(step, root_, 30s);
      ASSERT_EQ(r.exitCode, 0) << r.err;
    }
  }

  // Flags for a node authenticating as `user` with TLS trusting `ca`.
  std::vector<std::string> secured(const std::string& user, const std::string& ca = "ca.pem") {
    return {"--brokerAddress=localhost:" + std::to_string(nats_->port()),
            "--nkeySeedFile=" + (root_ / (user + ".seed")).string(),
            "--rootCAPath=" + (root_ / ca).string()};
  }
  static std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  std::string brokerLog() const { return readFile(root_ / "nats-server.log"); }

  std::map<std::string, transport::NKeyUser> users_;
};

TEST_F(BrokerSecurity, NodesWithTheirNkeysOverTlsWorkEndToEnd) {
  auto& central = startNode("central", secured("central"));
  startNode("ship1", plus(secured("ship1"), {"--startSubREQCliCommand=central"}));
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo over tls", R"("fileName":"tls.log")"))));
  EXPECT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ship1" / "tls.log") == "over tls\n"; }, 30s))
      << central.log();
  // And they stop cleanly: exit status 0, nothing crashing in the TLS library's cleanup.
  EXPECT_EQ(central.stop(), 0) << central.log();
}

TEST_F(BrokerSecurity, AnUnknownNkeyCannotConnect) {
  auto& intruder = makeNode("ship2", secured("intruder"));
  intruder.start();
  EXPECT_TRUE(waitFor([&] { return brokerLog().find("authentication error - Nkey \"" + users_["intruder"].publicKey) != std::string::npos; }, 20s))
      << brokerLog();
  EXPECT_EQ(intruder.log().find("connected to broker"), std::string::npos) << intruder.log();
}

// The NATS client gives a connection up after the same authentication error twice; a node must
// not: once the operator lets it in at the broker, it comes in by itself.
TEST_F(BrokerSecurity, ANodeTheBrokerRefusedComesInOnceTheBrokerLetsItIn) {
  writeBrokerConfig({"central"});
  nats_->reload();
  auto& central = startNode("central", secured("central"));
  auto& ship1 = makeNode("ship1", plus(secured("ship1"), {"--startSubREQCliCommand=central"}));
  ship1.start();
  ASSERT_TRUE(waitFor([&] { return occurrences(ship1.log(), "a new connection in") >= 2; }, 20s)) << ship1.log() << brokerLog();
  EXPECT_NE(brokerLog().find("authentication error - Nkey \"" + users_["ship1"].publicKey), std::string::npos);
  EXPECT_TRUE(ship1.running());

  writeBrokerConfig({"central", "ship1"});
  nats_->reload();
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo let in", R"("fileName":"in.log")"))));
  EXPECT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ship1" / "in.log") == "let in\n"; }, 30s))
      << ship1.log();
}

TEST_F(BrokerSecurity, NoTlsOrAnotherCaCannotConnect) {
  auto& plain = makeNode("ship1", {"--brokerAddress=localhost:" + std::to_string(nats_->port()),
                                   "--nkeySeedFile=" + (root_ / "ship1.seed").string()});
  plain.start();
  auto& wrongCa = makeNode("central", secured("central", "other.pem"));
  wrongCa.start();
  // Each has tried and failed (the first failed try says so) …
  EXPECT_TRUE(waitFor([&] { return plain.log().find("not reachable yet") != std::string::npos; }, 20s))
      << plain.log();
  EXPECT_TRUE(waitFor([&] { return wrongCa.log().find("not reachable yet") != std::string::npos; }, 20s))
      << wrongCa.log();
  // … and neither got in.
  EXPECT_EQ(plain.log().find("connected to broker"), std::string::npos) << plain.log();
  EXPECT_EQ(wrongCa.log().find("connected to broker"), std::string::npos) << wrongCa.log();
}

TEST_F(BrokerSecurity, ASeedFileOthersCanReadIsRefusedAtStart) {
  ::chmod((root_ / "ship1.seed").c_str(), 0644);
  auto& ship1 = makeNode("ship1", secured("ship1"));
  ship1.start();
  EXPECT_TRUE(waitFor([&] { return !ship1.running(); }, 15s));
  EXPECT_NE(ship1.log().find("can be read by group or others: chmod 600 it"), std::string::npos)
      << ship1.log();
}

}  // namespace
}  // namespace steward::e2e
