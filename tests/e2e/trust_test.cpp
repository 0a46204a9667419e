// Trust distribution end to end: a node announces its key in its hellos, an operator allows it
// at central with steward-ctl, central pushes the signed set, and a revocation reaches the nodes
// the same way. Every node here trusts central's key (provisioned); ship2's key is not.
#include "tests/e2e/harness.hpp"

#include <fstream>

namespace steward::e2e {
namespace {

class Trust : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startPubREQHello=1", "--startSubREQCliCommand=central,ship2"});
    ship2_ = &makeNode("ship2", {"--startPubREQHello=1", "--startSubREQCliCommand=central"});
    fs::remove(root_ / "trusted-keys" / "ship2.pub");  // a new node nobody was told about
    ship2_->start();
    ASSERT_TRUE(waitFor([&] { return ship2_->log().find("running") != std::string::npos; }, 15s));
  }
  RunResult ctl(std::vector<std::string> args) { return E2eTest::ctl(*central_, std::move(args)); }
  // ship2 asks ship1 to run a command that leaves `file` behind.
  std::string fromShip2ToShip1(const fs::path& file) {
    return ship2_->submit(command("ship1", "touch " + file.string(), R"("fileName":"t.log")"));
  }

  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
  StewardNode* ship2_ = nullptr;
};

TEST_F(Trust, AnAllowedKeyReachesCentralAndEveryNodeAndARevokedOneIsRefusedEverywhere) {
  // Announced in a hello, waiting for the operator.
  ASSERT_TRUE(waitFor([&] {
    const auto r = ctl({"keys", "list"});
    return r.exitCode == 0 && r.out.find("pending") != std::string::npos &&
           r.out.find("ship2") != std::string::npos;
  }, 20s)) << ctl({"keys", "list"}).out << central_->log();

  // Not trusted yet: ship2's reply to central is refused, and central says why.
  ASSERT_TRUE(accepted(central_->submit(command("ship2", "echo before", R"("fileName":"before.log")"))));
  EXPECT_TRUE(waitFor([&] {
    return central_->errorLog().find("signed as ship2: no trusted key for ship2") != std::string::npos;
  }, 30s)) << central_->errorLog();
  EXPECT_FALSE(fs::exists(central_->dataFolder() / "ship2" / "before.log"));

  auto r = ctl({"keys", "allow", "ship2"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("allowed ship2; trusted set version 1"), std::string::npos) << r.out;
  r = ctl({"keys", "list"});
  EXPECT_NE(r.out.find("allowed   ship2"), std::string::npos) << r.out;

  // Central takes ship2's messages now; ship1 gets the set at its next hello and takes them too
  // (the ACL lets ship2 run commands on ship1).
  ASSERT_TRUE(accepted(central_->submit(command("ship2", "echo after", R"("fileName":"after.log")"))));
  EXPECT_TRUE(waitFor([&] { return readFile(central_->dataFolder() / "ship2" / "after.log") == "after\n"; }, 30s))
      << central_->errorLog();
  EXPECT_TRUE(waitFor([&] { return ship1_->log().find("trusted set version 1") != std::string::npos; }, 20s))
      << ship1_->log();
  std::ofstream(root_ / "acl.json")
      << R"({"*":[{"from":"central","methods":["*"]},{"from":"ship2","methods":["REQCliCommand"]}]})";
  r = ctl({"acl", "set", (root_ / "acl.json").string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitFor([&] { return ship1_->log().find("trusted set version 2") != std::string::npos; }, 20s))
      << ship1_->log();
  const fs::path ran = root_ / "ran-on-ship1";
  ASSERT_TRUE(accepted(fromShip2ToShip1(ran)));
  EXPECT_TRUE(waitFor([&] { return fs::exists(ran); }, 30s)) << ship1_->log();

  // Revoked: refused at central at once, and at ship1 once its next hello brings the new set.
  r = ctl({"keys", "revoke", "ship2"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // It travels as the changes since the version ship1 holds, not as the whole set.
  EXPECT_TRUE(waitFor([&] { return ship1_->log().find("trusted set version 3 applied (changes)") != std::string::npos; }, 20s))
      << ship1_->log();
  const fs::path again = root_ / "ran-again-on-ship1";
  ASSERT_TRUE(accepted(fromShip2ToShip1(again)));
  EXPECT_TRUE(waitFor([&] {
    return central_->errorLog().find("node ship1 refused a message on ship1.REQCliCommand") != std::string::npos &&
           central_->errorLog().find("signed as ship2: it is signed by a revoked key") != std::string::npos;
  }, 30s)) << central_->errorLog();
  EXPECT_FALSE(fs::exists(again));
}

TEST_F(Trust, SeveralPendingKeysAreAllowedAtOnceAfterAQuestion) {
  StewardNode& ship3 = makeNode("ship3", {"--startPubREQHello=1"});
  fs::remove(root_ / "trusted-keys" / "ship3.pub");
  ship3.start();
  ASSERT_TRUE(waitFor([&] {
    const auto out = ctl({"keys", "list"}).out;
    return occurrences(out, "pending") == 2;
  }, 20s)) << ctl({"keys", "list"}).out;
  // A pattern picks the pending keys only (ship1's is allowed already); without a terminal to ask
  // on, nothing happens without --yes.
  auto r = ctl({"keys", "allow", "ship*"});
  EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("Allow the keys of 2 nodes: ship2 ship3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("give --yes to allow them"), std::string::npos) << r.err;
  EXPECT_EQ(occurrences(ctl({"keys", "list"}).out, "pending"), 2u);
  r = ctl({"keys", "allow", "--all", "--yes"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("allowed ship2;"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("allowed ship3;"), std::string::npos) << r.out;
  r = ctl({"keys", "list"});
  EXPECT_EQ(occurrences(r.out, "pending"), 0u) << r.out;
  EXPECT_NE(r.out.find("allowed   ship3"), std::string::npos) << r.out;
}

TEST_F(Trust, KeysOperationsAreCentralsAndSayWhatIsWrong) {
  auto r = ctl({"keys", "allow", "nobody"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("no key announced by nobody is waiting"), std::string::npos) << r.err;
  r = ctl({"keys", "frobnicate"});
  EXPECT_EQ(r.exitCode, 2);
  // A node that is not central does not keep the register.
  ASSERT_TRUE(accepted(central_->submit(op("ship1", R"({"opCmd":"keysList"})", "keys.log"))));
  EXPECT_TRUE(waitFor([&] {
    return readFile(central_->dataFolder() / "ops" / "ship1" / "keys.log").find("is done at the central node") !=
           std::string::npos;
  }, 30s)) << readFile(central_->dataFolder() / "ops" / "ship1" / "keys.log");
}

}  // namespace
}  // namespace steward::e2e
