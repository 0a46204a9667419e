#include "core/store/store.hpp"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <cstring>

namespace steward::store {
namespace {

constexpr const char* kNextIdKey = "meta/nextId";

std::string encodeU64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

Result<uint64_t> decodeU64(const std::string& s) {
  if (s.size() != 8) return Error{"stored id counter has " + std::to_string(s.size()) + " bytes, not 8"};
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

}  // namespace

Store::Store(std::unique_ptr<leveldb::DB> db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return Error{"cannot create database folder " + folder.string() + ": " + ec.message()};
  leveldb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  const auto path = folder / "steward.ldb";
  leveldb::Status s = leveldb::DB::Open(options, path.string(), &raw);
  if (!s.ok()) return Error{"cannot open database " + path.string() + ": " + s.ToString()};
  return std::unique_ptr<Store>(new Store(std::unique_ptr<leveldb::DB>(raw)));
}

Result<uint64_t> Store::reserveIds(uint64_t count) {
  std::lock_guard lock(mutex_);
  std::string value;
  uint64_t first = 1;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), kNextIdKey, &value);
  if (s.ok()) {
    auto stored = decodeU64(value);
    if (!stored) return Error{"database: " + stored.error().message};
    first = stored.value();
  } else if (!s.IsNotFound()) {
    return Error{"database: cannot read the id counter: " + s.ToString()};
  }
  leveldb::WriteOptions sync;
  sync.sync = true;
  s = db_->Put(sync, kNextIdKey, encodeU64(first + count));
  if (!s.ok()) return Error{"database: cannot reserve ids: " + s.ToString()};
  return first;
}

Result<uint64_t> IdSource::next() {
  std::lock_guard lock(mutex_);
  if (next_ == end_) {
    auto first = store_.reserveIds(blockSize_);
    if (!first) return first.error();
    next_ = first.value();
    end_ = next_ + blockSize_;
  }
  return next_++;
}

}  // namespace steward::store
