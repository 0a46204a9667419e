#include "core/transport/nkey.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace steward::transport;

// The user key pair of the NATS documentation's nkey example.
TEST(NKey, DerivesThePublicKeyOfAKnownSeed) {
  auto user = nkeyFromSeed("SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY");
  ASSERT_TRUE(user.ok()) << user.error().message;
  EXPECT_EQ(user->publicKey, "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4");
}

TEST(NKey, NewSeedsRoundTripAndDiffer) {
  const NKeyUser a = newNKeyUser();
  const NKeyUser b = newNKeyUser();
  EXPECT_EQ(a.seed.substr(0, 2), "SU");
  EXPECT_EQ(a.publicKey[0], 'U');
  EXPECT_EQ(a.publicKey.size(), 56u);
  EXPECT_NE(a.seed, b.seed);
  EXPECT_EQ(nkeyFromSeed(a.seed)->publicKey, a.publicKey);
}

TEST(NKey, DamagedSeedsSayWhat) {
  std::string seed = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY";
  seed[10] = seed[10] == 'A' ? 'B' : 'A';
  EXPECT_NE(nkeyFromSeed(seed).error().message.find("checksum"), std::string::npos);
  EXPECT_NE(nkeyFromSeed("SU1").error().message.find("base32"), std::string::npos);
  EXPECT_NE(nkeyFromSeed("SUAC").error().message.find("wrong length"), std::string::npos);
  EXPECT_NE(nkeyFromSeed("UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4").error().message.find("nkey seed"),
            std::string::npos);
}

TEST(NKey, SeedFilesMustBeTheOwnersAlone) {
  const auto file = std::filesystem::temp_directory_path() / ("seed-" + std::to_string(::getpid()));
  const NKeyUser user = newNKeyUser();
  std::ofstream(file) << "# a comment\n" << user.seed << "\n";
  ::chmod(file.c_str(), 0640);
  EXPECT_NE(readSeedFile(file).error().message.find("chmod 600"), std::string::npos);
  ::chmod(file.c_str(), 0600);
  auto read = readSeedFile(file);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->publicKey, user.publicKey);
  std::ofstream(file) << "nothing here\n";
  EXPECT_NE(readSeedFile(file).error().message.find("holds no user seed"), std::string::npos);
  std::filesystem::remove(file);
  EXPECT_NE(readSeedFile(file).error().message.find("cannot be read"), std::string::npos);
}
