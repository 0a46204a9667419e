// Authorization end to end: central's ACL, pushed in the signed set, decides who may run what on
// a node; what it refuses never runs, and central's error log says who tried what.
#include "tests/e2e/harness.hpp"

#include <fstream>

namespace steward::e2e {
namespace {

class Acl : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    central_ = &startNode("central");
    ship1_ = &startNode("ship1", {"--startSubREQCliCommand=central,ops1"});
    ops1_ = &startNode("ops1");
  }
  RunResult ctl(std::vector<std::string> args) { return E2eTest::ctl(*central_, std::move(args)); }
  std::string fromOps1(const std::string& shell) {
    return ops1_->submit(command("ship1", shell, R"("fileName":"ops.log")"));
  }
  bool centralSays(const std::string& text) {
    return waitFor([&] { return central_->errorLog().find(text) != std::string::npos; }, 30s);
  }

  StewardNode* central_ = nullptr;
  StewardNode* ship1_ = nullptr;
  StewardNode* ops1_ = nullptr;
};

TEST_F(Acl, WithoutAnAclOnlyCentralMayCommandANode) {
  const fs::path file = root_ / "by-ops1";
  ASSERT_TRUE(accepted(fromOps1("touch " + file.string())));
  EXPECT_TRUE(centralSays("node ship1 refused message") &&
              centralSays("from ops1: not authorized: with no ACL, only central may call REQCliCommand on ship1"))
      << central_->errorLog();
  EXPECT_FALSE(fs::exists(file));
  ASSERT_TRUE(accepted(central_->submit(command("ship1", "echo central", R"("fileName":"c.log")"))));
  EXPECT_TRUE(waitFor([&] { return readFile(central_->dataFolder() / "ship1" / "c.log") == "central\n"; }, 30s));
}

TEST_F(Acl, ACommandOutsideTheSendersPatternsIsRefusedAndOneInsideRuns) {
  const std::string allowed = (root_ / "allowed-").string();
  std::ofstream(root_ / "acl.json") << R"({"ship1":[{"from":"central","methods":["*"]},
      {"from":"ops1","methods":["REQCliCommand"],"commands":["bash -c touch )" << allowed << R"(*","uptime"]}]})";
  auto r = ctl({"acl", "set", (root_ / "acl.json").string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("ACL set; trusted set version 1"), std::string::npos) << r.out;
  ASSERT_TRUE(waitFor([&] { return ship1_->log().find("trusted set version 1") != std::string::npos; }, 20s))
      << ship1_->log();
  r = ctl({"acl", "show"});
  EXPECT_NE(r.out.find(R"("from":"ops1")"), std::string::npos) << r.out;

  ASSERT_TRUE(accepted(fromOps1("touch " + allowed + "1")));
  EXPECT_TRUE(waitFor([&] { return fs::exists(allowed + "1"); }, 30s)) << central_->errorLog();

  const fs::path victim = root_ / "victim";
  std::ofstream(victim) << "keep me\n";
  ASSERT_TRUE(accepted(fromOps1("rm -f " + victim.string())));
  EXPECT_TRUE(centralSays("from ops1: not authorized: ops1 may not run \"bash -c rm -f " + victim.string() +
                          "\" on ship1"))
      << central_->errorLog();
  EXPECT_TRUE(fs::exists(victim));
}

TEST_F(Acl, ABadAclIsRefusedWithWhereItIsWrong) {
  std::ofstream(root_ / "bad.json") << R"({"ship1":[{"from":"ops1"}]})";
  auto r = ctl({"acl", "set", (root_ / "bad.json").string()});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("ACL of ship1, rule 0: needs \"methods\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace steward::e2e
