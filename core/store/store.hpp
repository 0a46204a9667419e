// The node's database (LevelDB under databaseFolder). For now it hands out message ids that stay
// monotonic across restarts; the durable outbox and inbox build on it.
#pragma once

#include "core/util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>

namespace leveldb {
class DB;
}

namespace steward::store {

class Store {
 public:
  // Opens (creating if needed) the database in `folder`. A damaged database is an error that says
  // so; the daemon does not start on one it cannot read.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& folder);
  ~Store();

  // Reserves `count` ids and returns the first. The reservation is synced to disk before this
  // returns, so ids given out before a crash are never given out again.
  Result<uint64_t> reserveIds(uint64_t count);

 private:
  explicit Store(std::unique_ptr<leveldb::DB> db);
  std::unique_ptr<leveldb::DB> db_;
  std::mutex mutex_;
};

// Hands out ids one by one from blocks reserved in the store.
class IdSource {
 public:
  explicit IdSource(Store& store, uint64_t blockSize = 1000) : store_(store), blockSize_(blockSize) {}
  Result<uint64_t> next();

 private:
  Store& store_;
  const uint64_t blockSize_;
  std::mutex mutex_;
  uint64_t next_ = 0;
  uint64_t end_ = 0;  // first id not reserved yet
};

}  // namespace steward::store
