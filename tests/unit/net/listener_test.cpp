#include "core/net/address.hpp"
#include "core/net/listener.hpp"

#include <gtest/gtest.h>

using namespace steward;

TEST(HostPort, ParsesAndNamesWhatIsWrong) {
  auto ok = net::parseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "127.0.0.1");
  EXPECT_EQ(ok->second, 8080);
  EXPECT_EQ(net::parseHostPort("127.0.0.1:0")->second, 0);
  EXPECT_NE(net::parseHostPort("localhost").error().message.find("is not host:port"), std::string::npos);
  EXPECT_NE(net::parseHostPort("h:70000").error().message.find("from 0 to 65535"), std::string::npos);
  EXPECT_FALSE(net::parseHostPort("h:").ok());
  EXPECT_FALSE(net::parseHostPort(":80").ok());
  EXPECT_FALSE(net::parseHostPort("h:8x").ok());
}

TEST(ConnectionTable, RefusesOnlyWhenEverySlotIsBeingAnswered) {
  struct Fake : net::Connection {
    void evict(const std::string& why) override { evictedWith = why; }
    void answer() { answered(); }
    std::string evictedWith;
  };
  net::ConnectionTable table({.maxConnections = 2});
  auto a = std::make_shared<Fake>();
  auto b = std::make_shared<Fake>();
  auto c = std::make_shared<Fake>();
  ASSERT_TRUE(table.admit(a));
  ASSERT_TRUE(table.admit(b));
  a->answer();
  ASSERT_TRUE(table.admit(c));  // b, still reading, makes room
  EXPECT_EQ(a->evictedWith, "");
  EXPECT_NE(b->evictedWith.find("too many connections (2)"), std::string::npos);
  c->answer();
  EXPECT_FALSE(table.admit(std::make_shared<Fake>()));
  table.leave(a.get());
  EXPECT_EQ(table.open(), 1u);
  EXPECT_TRUE(table.reserve(10));
  EXPECT_FALSE(table.reserve(64 * 1024 * 1024));
  table.release(10);
  EXPECT_EQ(table.buffered(), 0u);
}
