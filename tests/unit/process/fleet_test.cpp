#include "core/process/fleet.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward;
using namespace steward::process;

namespace {

namespace fs = std::filesystem;

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fleet-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = std::move(store::Store::open(dir_ / "db", {.sync = false}).value());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  static message::Message hello(const std::string& from, const std::string& status) {
    message::Message m;
    m.fromNode = from;
    m.method = "REQHello";
    m.data = {from, "key", "1", status};
    return m;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace

TEST_F(FleetTest, AHelloIsKeptAcrossARestartWithItsFactsQueuesAndMethods) {
  NodeStatus status;
  status.helloSeconds = 30;
  status.inbox = 2;
  status.outbox = 5;
  status.methods = {"REQCliCommand", "REQOpCommand"};
  status.facts = {{"os", "Debian GNU/Linux 12"}, {"role", "db"}};
  {
    Fleet fleet(*store_, true);
    ASSERT_TRUE(fleet.onHello(hello("ship1", encodeStatus(status)), 1'000'000).ok());
  }
  Fleet again(*store_, true);
  const auto record = again.find("ship1");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->lastSeenUnixMs, 1'000'000);
  EXPECT_EQ(record->status.helloSeconds, 30);
  EXPECT_EQ(record->status.inbox, 2u);
  EXPECT_EQ(record->status.outbox, 5u);
  EXPECT_EQ(record->status.methods, status.methods);
  EXPECT_EQ(record->status.facts.at("role"), "db");
  EXPECT_EQ(again.nodes().size(), 1u);
}

TEST_F(FleetTest, SilenceIsExplainedByTheLastHello) {
  Fleet fleet(*store_, true);
  NodeStatus status;
  status.helloSeconds = 10;
  status.methods = {"REQCliCommand"};
  ASSERT_TRUE(fleet.onHello(hello("ship1", encodeStatus(status)), 100'000).ok());
  // Up, but the method is not among those it runs.
  auto why = fleet.explain("ship1", "REQHttpGet", 105'000);
  EXPECT_EQ(why.state, "notStarted");
  EXPECT_NE(why.note.find("steward-ctl start ship1 REQHttpGet"), std::string::npos) << why.note;
  // It ran the method at its last hello: nobody listening means it is gone, however recent.
  why = fleet.explain("ship1", "REQCliCommand", 101'000);
  EXPECT_EQ(why.state, "offline");
  EXPECT_NE(why.note.find("last heard from 1 s ago"), std::string::npos) << why.note;
  // Two hello periods (and 5 s) without one: offline whatever the method.
  why = fleet.explain("ship1", "REQHttpGet", 126'000);
  EXPECT_EQ(why.state, "offline");
  EXPECT_EQ(fleet.explain("ship9", "REQCliCommand", 0).note, "ship9 is offline: central has never heard from it (no hello)");
  // A node that is not central knows no fleet.
  Fleet ship(*store_, false);
  EXPECT_EQ(ship.explain("ship1", "REQCliCommand", 0).state, "noResponders");
  EXPECT_TRUE(ship.nodes().empty());
}

TEST_F(FleetTest, ABadStatusIsAnErrorThatNamesItAndTheTimeIsKept) {
  Fleet fleet(*store_, true);
  const auto s = fleet.onHello(hello("ship1", R"({"facts":{"bad key":"x"}})"), 5000);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("hello from ship1: status.facts: \"bad key\" is not a fact name"), std::string::npos)
      << s.error().message;
  EXPECT_EQ(fleet.find("ship1")->lastSeenUnixMs, 5000);
  for (const std::string& bad : std::vector<std::string>{R"([1])", R"({"helloSeconds":-1})", R"({"methods":[1]})",
                                R"({"facts":{"a":1}})", R"({"facts":[[[[[[[[]]]]]]]]})",
                                std::string(kMaxStatusBytes + 1, ' ')}) {
    EXPECT_FALSE(decodeStatus(bad).ok()) << bad.substr(0, 40);
  }
  std::string many = "{\"facts\":{";
  for (size_t i = 0; i <= kMaxFacts; ++i) many += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":\"v\"");
  EXPECT_FALSE(decodeStatus(many + "}}").ok());
  EXPECT_FALSE(decodeStatus(R"({"facts":{"long":")" + std::string(kMaxFactValue + 1, 'x') + "\"}}").ok());
  // What a newer node adds is passed over.
  EXPECT_TRUE(decodeStatus(R"({"helloSeconds":5,"newThing":{"x":1}})").ok());
}

TEST_F(FleetTest, FolderFactsAreKeyValueLinesAndWhatIsOffIsSkippedWithItsPlace) {
  const fs::path facts = dir_ / "facts";
  fs::create_directories(facts / "sub");
  std::ofstream(facts / "10-site") << "# where\nsite = north sea\n\nrack=7\n";
  std::ofstream(facts / "20-bad") << "no equals sign\nbad key=1\nlong=" << std::string(kMaxFactValue + 1, 'x') << "\n";
  std::ofstream(facts / "30-big") << std::string(kMaxFactFileBytes + 1, '#');
  std::ofstream(facts / ".hidden") << "hidden=1\n";
  std::ofstream(dir_ / "outside") << "secret=1\n";
  fs::create_symlink(dir_ / "outside", facts / "40-link");
  std::vector<std::string> problems;
  const Facts got = folderFacts(facts, problems);
  EXPECT_EQ(got, (Facts{{"rack", "7"}, {"site", "north sea"}}));
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("20-bad:1: not key=value"), std::string::npos) << all;
  EXPECT_NE(all.find("20-bad:2: a key is 1 to 64 letters"), std::string::npos) << all;
  EXPECT_NE(all.find("20-bad:3: the value of long is longer than 256 bytes"), std::string::npos) << all;
  EXPECT_NE(all.find("30-big: larger than"), std::string::npos) << all;
  EXPECT_NE(all.find("40-link: a link (skipped)"), std::string::npos) << all;
  EXPECT_NE(all.find("sub: not a regular file"), std::string::npos) << all;
  problems.clear();
  EXPECT_TRUE(folderFacts(dir_ / "nowhere", problems).empty());
  EXPECT_TRUE(problems.empty());
}

TEST(MachineFacts, SayTheSystemAndStewardsVersion) {
  const Facts facts = machineFacts();
  for (const char* key : {"kernel", "arch", "hostname", "stewardVersion", "uptimeSeconds"}) {
    EXPECT_EQ(facts.count(key), 1u) << key;
  }
  for (const auto& [key, value] : facts) {
    EXPECT_TRUE(validFactKey(key)) << key;
    EXPECT_LE(value.size(), kMaxFactValue) << key;
  }
  NodeStatus status;
  status.facts = facts;
  EXPECT_TRUE(decodeStatus(encodeStatus(status)).ok());
}
