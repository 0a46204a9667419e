#include "core/util/log.hpp"

#include <boost/log/core.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace fs = std::filesystem;
using namespace steward;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Captures std::clog and removes every sink afterwards (the logging core is process-wide).
class Logging : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("log-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    old_ = std::clog.rdbuf(captured_.rdbuf());
  }
  void TearDown() override {
    boost::log::core::get()->remove_all_sinks();
    std::clog.rdbuf(old_);
    ::unsetenv("JOURNAL_STREAM");
    fs::remove_all(dir_);
  }
  fs::path dir_;
  std::stringstream captured_;
  std::streambuf* old_ = nullptr;
};

logging::LogSettings atLeast(logging::Severity minimum) {
  logging::LogSettings s;
  s.minimum = minimum;
  return s;
}

}  // namespace

TEST_F(Logging, StderrUnderSystemdCarriesThePriorityForJournald) {
  ::setenv("JOURNAL_STREAM", "8:12345", 1);
  logging::initLogging(atLeast(logging::Severity::info));
  STEWARD_LOG(debug) << "hidden";
  STEWARD_LOG(info) << "started";
  STEWARD_LOG(warning) << "slow";
  STEWARD_LOG(error) << "broken";
  EXPECT_EQ(captured_.str(), "<6>started\n<4>slow\n<3>broken\n");
}

TEST_F(Logging, StderrElsewhereIsStampedWithTimeAndLevel) {
  logging::initLogging(atLeast(logging::Severity::debug));
  STEWARD_LOG(debug) << "shown";
  const std::string line = captured_.str();
  // e.g. "2026-11-24T23:59:12.123456 debug shown"
  EXPECT_EQ(line.size(), std::string("2026-11-24T23:59:12.123456 debug shown\n").size()) << line;
  EXPECT_NE(line.find("T"), std::string::npos);
  EXPECT_NE(line.find(" debug shown\n"), std::string::npos) << line;
}

TEST_F(Logging, TheFileRotatesAndKeepsALimitedNumber) {
  const fs::path file = dir_ / "steward.log";
  logging::LogSettings settings = atLeast(logging::Severity::info);
  settings.file = file;
  settings.rotationBytes = 2000;
  settings.keepFiles = 2;
  logging::initLogging(settings);
  STEWARD_LOG(debug) << "not in the file";
  for (int i = 0; i < 200; ++i) STEWARD_LOG(info) << "line " << i << " of some length to fill the file";
  boost::log::core::get()->flush();
  EXPECT_NE(read(file).find("info line 199 of"), std::string::npos);
  EXPECT_EQ(read(file).find("not in the file"), std::string::npos);
  size_t rotated = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "steward")) {
    EXPECT_EQ(entry.path().extension(), ".log");
    ++rotated;
  }
  EXPECT_EQ(rotated, 2u);
}
