// What a node shows over HTTP: Prometheus metrics scraped from real daemons after messages went
// through, and parsed; the data folder served read-only (exposeDataFolder).
#include "tests/e2e/harness.hpp"

#include <httplib.h>

#include <map>
#include <sstream>

namespace steward::e2e {
namespace {

class Metrics : public E2eTest {};

TEST_F(Metrics, CountersGaugesAndHistogramsDescribeWhatHappened) {
  const uint16_t centralPort = freePort();
  const uint16_t shipPort = freePort();
  auto& central = startNode("central", {"--promHostAndPort=127.0.0.1:" + std::to_string(centralPort)});
  startNode("ship1", {"--promHostAndPort=127.0.0.1:" + std::to_string(shipPort),
                      "--startSubREQCliCommand=central", "--startPubREQHello=1"});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(accepted(central.submit(command("ship1", "echo m" + std::to_string(i), R"("fileName":"m.log")"))));
  }
  ASSERT_TRUE(waitFor([&] { return countLines(readFile(central.dataFolder() / "ship1" / "m.log")) == 3; }, 30s));
  const std::string cli = R"({method="REQCliCommand"})";
  ASSERT_TRUE(waitFor([&] { return scrapeMetrics(centralPort)["steward_messages_acked_total" + cli] == 3; }, 10s));
  auto c = scrapeMetrics(centralPort);
  EXPECT_EQ(c["steward_messages_accepted_total" + cli], 3);
  EXPECT_EQ(c["steward_messages_sent_total" + cli], 3);
  EXPECT_EQ(c["steward_messages_received_total{method=\"REQToFileAppend\"}"], 3);
  EXPECT_GE(c["steward_processes{kind=\"subscriber\"}"], 5);
  EXPECT_GE(c["steward_plugins_loaded"], 1);
  EXPECT_EQ(c["steward_outbox_pending"], 0);
  EXPECT_GT(c["steward_last_hello_timestamp_seconds{node=\"ship1\"}"], 1.7e9);

  auto s = scrapeMetrics(shipPort);
  EXPECT_EQ(s["steward_messages_received_total" + cli], 3);
  EXPECT_EQ(s["steward_messages_executed_total" + cli], 3);
  EXPECT_EQ(s["steward_messages_replied_total{method=\"REQToFileAppend\"}"], 3);
  EXPECT_EQ(s["steward_handler_duration_seconds_count" + cli], 3);
  EXPECT_EQ(s["steward_calls_running"], 0);
  // Taking, running and finishing three messages needs synced writes; some may share one.
  EXPECT_GE(s["steward_store_synced_writes_total"], 3);
}

TEST_F(Metrics, ExposeDataFolderServesRepliesReadOnlyAndNothingOutside) {
  const uint16_t port = freePort();
  auto& central = startNode("central", {"--exposeDataFolder=127.0.0.1:" + std::to_string(port)});
  startNode("ship1", {"--startSubREQCliCommand=central"});
  ASSERT_TRUE(accepted(central.submit(command("ship1", "echo served", R"("fileName":"s.log")"))));
  ASSERT_TRUE(waitFor([&] { return readFile(central.dataFolder() / "ship1" / "s.log") == "served\n"; }, 30s));
  httplib::Client client("127.0.0.1", port);
  auto file = client.Get("/ship1/s.log");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->status, 200);
  EXPECT_EQ(file->body, "served\n");
  auto listing = client.Get("/");
  ASSERT_TRUE(listing);
  EXPECT_NE(listing->body.find("ship1/"), std::string::npos) << listing->body;
  // The node's own folder (database, config) sits next to the data folder: not reachable.
  auto outside = client.Get("/%2e%2e/etc/config.toml");
  ASSERT_TRUE(outside);
  EXPECT_EQ(outside->status, 403);
  EXPECT_EQ(outside->body.find("nodeName"), std::string::npos);
}

}  // namespace
}  // namespace steward::e2e
