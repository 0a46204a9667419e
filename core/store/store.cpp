#include "core/store/store.hpp"

#include "core/util/json.hpp"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <map>
#include <optional>
#include <random>

namespace steward::store {
namespace {

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string encodeU64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

Result<uint64_t> decodeU64(const std::string& s) {
  if (s.size() != 8) return Error{"holds " + std::to_string(s.size()) + " bytes, not 8"};
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

// Every key starts with the store's namespace (`ns`): empty for a node's own database.
std::string outKey(const std::string& ns, uint64_t id) { return ns + "out/" + hex16(id); }
std::string inKey(const std::string& ns, uint64_t arrival) { return ns + "in/" + hex16(arrival); }
std::string runKey(const std::string& ns, uint64_t arrival) { return ns + "run/" + hex16(arrival); }
std::string seenPrefix(const std::string& ns, const std::string& from) { return ns + "seen/" + from + "/"; }
std::string seenKey(const std::string& ns, const std::string& from, uint64_t id) {
  return seenPrefix(ns, from) + hex16(id);
}
std::string settledKey(const std::string& ns, const std::string& from) { return ns + "settled/" + from; }
std::string seqKey(const std::string& ns, const std::string& subject) { return ns + "seq/" + subject; }
std::string lostKey(const std::string& ns, const std::string& subject) { return ns + "lost/" + subject; }
std::string metaKey(const std::string& ns, const std::string& name) { return ns + "meta/" + name; }
std::string fleetKey(const std::string& ns, const std::string& node) { return ns + "fleet/" + node; }
// A received stream's parts (streamKey() names the stream).
std::string nextKey(const std::string& ns, const std::string& stream) { return ns + "stream/" + stream; }
std::string floorKey(const std::string& ns, const std::string& stream) { return ns + "floor/" + stream; }
std::string schedKey(const std::string& ns, uint64_t schedule) { return ns + "sched/" + hex16(schedule); }
std::string copyKey(const std::string& ns, uint64_t copy) { return ns + "copy/" + hex16(copy); }
std::string carryKey(const std::string& ns, uint64_t number) { return ns + "carry/" + hex16(number); }
std::string goneKey(const std::string& ns, const std::string& stream, uint64_t seq) {
  return ns + "gone/" + stream + "/" + hex16(seq);
}

// The number hex16() wrote; nullopt for anything else.
std::optional<uint64_t> parseHex16(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  uint64_t number = 0;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    number = number * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return number;
}

// An entry is a one-line JSON header, a newline, and the wire message.
template <class Fill>
std::string frame(const std::string& wire, Fill fill) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  fill(w);
  w.EndObject();
  std::string out(buffer.GetString(), buffer.GetSize());
  out.push_back('\n');
  out += wire;
  return out;
}

Result<std::pair<rapidjson::Document, std::string>> unframe(const std::string& value) {
  const auto nl = value.find('\n');
  if (nl == std::string::npos) return Error{"no header line"};
  auto header = json::parse(std::string_view(value).substr(0, nl), "the header");
  if (!header) return header.error();
  if (!header->IsObject()) return Error{"unreadable header"};
  return std::make_pair(std::move(header).value(), value.substr(nl + 1));
}

// One field of an entry's header, written by its type.
using HeaderWriter = rapidjson::Writer<rapidjson::StringBuffer>;
void put(HeaderWriter& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}
void put(HeaderWriter& w, const char* key, bool value) {
  w.Key(key);
  w.Bool(value);
}
void put(HeaderWriter& w, const char* key, int64_t value) {
  w.Key(key);
  w.Int64(value);
}
void put(HeaderWriter& w, const char* key, uint64_t value) {
  w.Key(key);
  w.Uint64(value);
}

// One field of an entry's header read into `out`, by its type; false when it is missing or of
// another type.
bool get(const rapidjson::Value& h, const char* key, std::string& out) {
  if (!h.HasMember(key) || !h[key].IsString()) return false;
  out = h[key].GetString();
  return true;
}
bool get(const rapidjson::Value& h, const char* key, bool& out) {
  if (!h.HasMember(key) || !h[key].IsBool()) return false;
  out = h[key].GetBool();
  return true;
}
bool get(const rapidjson::Value& h, const char* key, int64_t& out) {
  if (!h.HasMember(key) || !h[key].IsInt64()) return false;
  out = h[key].GetInt64();
  return true;
}
bool get(const rapidjson::Value& h, const char* key, uint64_t& out) {
  if (!h.HasMember(key) || !h[key].IsUint64()) return false;
  out = h[key].GetUint64();
  return true;
}

std::string encodeOutbox(const OutboxEntry& e) {
  return frame(e.wire, [&](HeaderWriter& w) {
    put(w, "subject", e.subject);
    put(w, "ack", e.ack);
    put(w, "ackTimeoutMs", e.ackTimeoutMs);
    put(w, "retries", e.retries);
    put(w, "expiresUnixMs", e.expiresUnixMs);
  });
}

Result<OutboxEntry> decodeOutbox(uint64_t id, const std::string& value) {
  auto parts = unframe(value);
  if (!parts) return parts.error();
  const auto& h = parts->first;
  OutboxEntry e;
  e.id = id;
  if (!get(h, "subject", e.subject) || !get(h, "ack", e.ack) || !get(h, "ackTimeoutMs", e.ackTimeoutMs) ||
      !get(h, "retries", e.retries) || !get(h, "expiresUnixMs", e.expiresUnixMs)) {
    return Error{"header lacks a field"};
  }
  e.wire = std::move(parts->second);
  return e;
}

std::string encodeInbox(const InboxEntry& e) {
  return frame(e.wire, [&](auto& w) {
    w.Key("method");
    w.String(e.method.c_str(), static_cast<rapidjson::SizeType>(e.method.size()));
    if (e.schedule != 0) {
      w.Key("run");
      w.Uint64(e.run);
      w.Key("schedule");
      w.Uint64(e.schedule);
    }
  });
}

Result<InboxEntry> decodeInbox(uint64_t arrival, const std::string& value) {
  auto parts = unframe(value);
  if (!parts) return parts.error();
  const auto& h = parts->first;
  if (!h.HasMember("method") || !h["method"].IsString()) return Error{"header lacks a field"};
  InboxEntry e;
  e.arrival = arrival;
  e.method = h["method"].GetString();
  if (h.HasMember("schedule")) {
    if (!h["schedule"].IsUint64() || !h.HasMember("run") || !h["run"].IsUint64()) return Error{"header has a bad run"};
    e.schedule = h["schedule"].GetUint64();
    e.run = h["run"].GetUint64();
  }
  e.wire = std::move(parts->second);
  return e;
}

std::string encodeScheduled(const ScheduledRun& r) {
  return frame(r.wire, [&](auto& w) {
    w.Key("method");
    w.String(r.method.c_str(), static_cast<rapidjson::SizeType>(r.method.size()));
    w.Key("run");
    w.Uint64(r.run);
    w.Key("atUnixMs");
    w.Int64(r.atUnixMs);
    if (r.cancelled) {
      w.Key("cancelled");
      w.Bool(true);
    }
  });
}

Result<ScheduledRun> decodeScheduled(uint64_t schedule, const std::string& value) {
  auto parts = unframe(value);
  if (!parts) return parts.error();
  const auto& h = parts->first;
  if (!h.HasMember("method") || !h["method"].IsString() || !h.HasMember("run") || !h["run"].IsUint64() ||
      !h.HasMember("atUnixMs") || !h["atUnixMs"].IsInt64()) {
    return Error{"header lacks a field"};
  }
  ScheduledRun r;
  r.schedule = schedule;
  r.method = h["method"].GetString();
  r.run = h["run"].GetUint64();
  r.atUnixMs = h["atUnixMs"].GetInt64();
  r.cancelled = h.HasMember("cancelled") && h["cancelled"].IsBool() && h["cancelled"].GetBool();
  r.wire = std::move(parts->second);
  return r;
}

std::string encodeCopyJob(const CopyJob& j) {
  return frame(j.request, [&](HeaderWriter& w) {
    put(w, "source", j.source);
    put(w, "toNode", j.toNode);
    put(w, "toPath", j.toPath);
    put(w, "size", j.size);
    put(w, "mode", uint64_t{j.mode});
    put(w, "sha256", j.sha256);
    put(w, "chunkSize", j.chunkSize);
    put(w, "chunks", j.chunks);
    put(w, "queued", j.queued);
  });
}

Result<CopyJob> decodeCopyJob(uint64_t copy, const std::string& value) {
  auto parts = unframe(value);
  if (!parts) return parts.error();
  const auto& h = parts->first;
  CopyJob j;
  j.copy = copy;
  uint64_t mode = 0;
  if (!get(h, "source", j.source) || !get(h, "toNode", j.toNode) || !get(h, "toPath", j.toPath) ||
      !get(h, "sha256", j.sha256) || !get(h, "size", j.size) || !get(h, "mode", mode) ||
      !get(h, "chunkSize", j.chunkSize) || !get(h, "chunks", j.chunks) || !get(h, "queued", j.queued)) {
    return Error{"header lacks a field"};
  }
  j.mode = static_cast<uint32_t>(mode);
  j.request = std::move(parts->second);
  return j;
}

// Scans one key prefix in order, decoding each entry; damaged ones are reported and removed.
template <class Entry, class Decode>
Loaded<Entry> scan(leveldb::DB& db, const std::string& prefix, Decode decode) {
  Loaded<Entry> out;
  std::vector<std::string> doomed;
  std::unique_ptr<leveldb::Iterator> it(db.NewIterator(leveldb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string key = it->key().ToString();
    const auto number = parseHex16(std::string_view(key).substr(prefix.size()));
    Result<Entry> entry = number ? decode(*number, it->value().ToString())
                                 : Result<Entry>(Error{"key is not <prefix><16 hex digits>"});
    if (entry) {
      out.entries.push_back(std::move(entry).value());
    } else {
      out.damaged.push_back(Error{"damaged store entry " + key + ": " + entry.error().message});
      doomed.push_back(key);
    }
  }
  if (!it->status().ok()) {
    out.damaged.push_back(Error{"reading " + prefix + " stopped early: " + it->status().ToString()});
  }
  for (const auto& key : doomed) db.Delete(leveldb::WriteOptions(), key);
  return out;
}

std::string encodeCarried(const CarriedEntry& e) {
  return frame(e.payload, [&](HeaderWriter& w) {
    put(w, "subject", e.subject);
    put(w, "toFar", e.toFar);
    put(w, "fromNode", e.fromNode);
    put(w, "id", e.id);
    put(w, "takenUnixMs", e.takenUnixMs);
    put(w, "ackTimeoutMs", e.ackTimeoutMs);
    put(w, "retries", e.retries);
    put(w, "expiresUnixMs", e.expiresUnixMs);
    put(w, "settledBelow", e.settledBelow);
    put(w, "seq", e.seq);
    put(w, "epoch", e.epoch);
    put(w, "floor", e.floor);
  });
}

Result<CarriedEntry> decodeCarried(uint64_t number, const std::string& value) {
  auto parts = unframe(value);
  if (!parts) return parts.error();
  const auto& h = parts->first;
  CarriedEntry e;
  e.number = number;
  if (!get(h, "subject", e.subject) || !get(h, "toFar", e.toFar) || !get(h, "fromNode", e.fromNode) ||
      !get(h, "id", e.id) || !get(h, "takenUnixMs", e.takenUnixMs) || !get(h, "ackTimeoutMs", e.ackTimeoutMs) ||
      !get(h, "retries", e.retries) || !get(h, "expiresUnixMs", e.expiresUnixMs) ||
      !get(h, "settledBelow", e.settledBelow) || !get(h, "seq", e.seq) || !get(h, "epoch", e.epoch) ||
      !get(h, "floor", e.floor)) {
    return Error{"header lacks a field"};
  }
  e.payload = std::move(parts->second);
  return e;
}

}  // namespace

Store::Store(std::shared_ptr<leveldb::DB> db, StoreOptions options, std::string ns)
    : db_(std::move(db)), options_(options), ns_(std::move(ns)) {
  arrivals_ = std::make_unique<IdSource>(*this, "arrival");
}
Store::~Store() = default;

leveldb::Status Store::commit(leveldb::WriteBatch& batch, bool sync) {
  leveldb::WriteOptions w;
  w.sync = sync;
  auto s = db_->Write(w, &batch);
  if (s.ok() && sync) ++syncedWrites_;
  return s;
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& folder,
                                           StoreOptions storeOptions) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return Error{"cannot create database folder " + folder.string() + ": " + ec.message(), Code::storage};
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* raw = nullptr;
  const auto path = folder / "steward.ldb";
  leveldb::Status s = leveldb::DB::Open(options, path.string(), &raw);
  if (!s.ok()) return Error{"cannot open database " + path.string() + ": " + s.ToString(), Code::storage};
  std::unique_ptr<Store> store(new Store(std::shared_ptr<leveldb::DB>(raw), storeOptions, ""));
  // A database written before senders said what they settled kept a ring of its last arrivals
  // (seenAt/…) to forget the oldest seen/ entries by; nothing reads it now.
  leveldb::WriteBatch stale;
  size_t staleKeys = 0;
  std::unique_ptr<leveldb::Iterator> it(store->db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek("seenAt/"); it->Valid() && it->key().starts_with("seenAt/"); it->Next(), ++staleKeys) {
    stale.Delete(it->key());
  }
  it.reset();
  if (staleKeys > 0) (void)store->commit(stale, false);
  return store;
}

std::unique_ptr<Store> Store::part(const std::string& name) const {
  return std::unique_ptr<Store>(new Store(db_, options_, "node/" + name + "/"));
}

Result<uint64_t> Store::reserve(const std::string& name, uint64_t count, uint64_t firstOfNew) {
  std::lock_guard lock(counterMutex_);
  const std::string key = metaKey(ns_, name);
  std::string value;
  uint64_t first = firstOfNew;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &value);
  if (s.ok()) {
    auto stored = decodeU64(value);
    if (!stored) return Error{"database: counter " + key + " " + stored.error().message, Code::storage};
    first = stored.value();
  } else if (!s.IsNotFound()) {
    return Error{"database: cannot read counter " + key + ": " + s.ToString(), Code::storage};
  }
  leveldb::WriteBatch batch;
  batch.Put(key, encodeU64(first + count));
  s = commit(batch, true);  // always: a counter that goes back would repeat ids
  if (!s.ok()) return Error{"database: cannot reserve from counter " + key + ": " + s.ToString(), Code::storage};
  return first;
}

Result<uint64_t> Store::epoch() {
  std::lock_guard lock(counterMutex_);
  std::string value;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), metaKey(ns_, "epoch"), &value);
  if (s.ok()) {
    auto stored = decodeU64(value);
    if (stored && stored.value() != 0) return stored.value();
  } else if (!s.IsNotFound()) {
    return Error{"database: cannot read the epoch: " + s.ToString(), Code::storage};
  }
  std::random_device random;
  uint64_t epoch = 0;
  while (epoch == 0) epoch = (static_cast<uint64_t>(random()) << 32) ^ random();
  leveldb::WriteBatch batch;
  batch.Put(metaKey(ns_, "epoch"), encodeU64(epoch));
  s = commit(batch, true);
  if (!s.ok()) return Error{"database: cannot write the epoch: " + s.ToString(), Code::storage};
  return epoch;
}

Result<uint64_t> Store::lastSeq(const std::string& subject) {
  std::string value;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), seqKey(ns_, subject), &value);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return Error{"database: cannot read " + seqKey(ns_, subject) + ": " + s.ToString(), Code::storage};
  auto stored = decodeU64(value);
  if (!stored) return Error{"database: " + seqKey(ns_, subject) + " " + stored.error().message, Code::storage};
  return stored.value();
}

std::string streamKey(const std::string& method, const std::string& fromNode, uint64_t epoch) {
  return method + "/" + fromNode + "/" + hex16(epoch);
}

std::map<std::string, StreamState> Store::loadStreams(const std::string& method) {
  std::map<std::string, StreamState> out;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (const std::string part : {"stream/", "floor/", "gone/"}) {
    const std::string prefix = ns_ + part + method + "/";
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string key = it->key().ToString().substr(ns_.size() + part.size());
      if (part == "gone/") {
        const auto slash = key.rfind('/');
        const auto seq = slash == std::string::npos ? std::nullopt
                                                    : parseHex16(std::string_view(key).substr(slash + 1));
        if (seq) out[key.substr(0, slash)].gone.insert(*seq);
        continue;
      }
      auto value = decodeU64(it->value().ToString());
      if (!value) continue;
      (part == "stream/" ? out[key].next : out[key].floor) = value.value();
    }
  }
  // A removed number the stream has passed already matters no more.
  for (auto& [key, stream] : out) {
    while (!stream.gone.empty() && *stream.gone.begin() < stream.next) {
      stream.gone.erase(stream.gone.begin());
    }
  }
  return out;
}

Status Store::putNodeRecord(const std::string& node, const std::string& record) {
  leveldb::WriteBatch batch;
  batch.Put(fleetKey(ns_, node), record);
  auto s = commit(batch, false);
  if (!s.ok()) return Error{"database: cannot record node " + node + ": " + s.ToString(), Code::storage};
  return {};
}

std::map<std::string, std::string> Store::loadNodeRecords() {
  std::map<std::string, std::string> out;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  const std::string prefix = fleetKey(ns_, "");
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.emplace(it->key().ToString().substr(prefix.size()), it->value().ToString());
  }
  return out;
}

Status Store::putFloor(const std::string& streamKey, uint64_t floor) {
  leveldb::WriteBatch batch;
  batch.Put(floorKey(ns_, streamKey), encodeU64(floor));
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot record stream " + streamKey + ": " + s.ToString(), Code::storage};
  return {};
}

Status Store::removeInbound(uint64_t arrival, const std::string& streamKey, uint64_t seq) {
  leveldb::WriteBatch batch;
  batch.Delete(inKey(ns_, arrival));
  batch.Delete(runKey(ns_, arrival));
  if (!streamKey.empty()) batch.Put(goneKey(ns_, streamKey, seq), "");
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot remove a message: " + s.ToString(), Code::storage};
  return {};
}

Status Store::putOutbox(const std::vector<OutboxEntry>& entries,
                        const std::vector<std::pair<std::string, uint64_t>>& lastSeqs, const CopyJob* job) {
  leveldb::WriteBatch batch;
  for (const auto& e : entries) batch.Put(outKey(ns_, e.id), encodeOutbox(e));
  if (job != nullptr) batch.Put(copyKey(ns_, job->copy), encodeCopyJob(*job));
  for (const auto& [subject, seq] : lastSeqs) batch.Put(seqKey(ns_, subject), encodeU64(seq));
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot queue messages: " + s.ToString(), Code::storage};
  return {};
}

Status Store::putCopyJob(const CopyJob& job) {
  leveldb::WriteBatch batch;
  batch.Put(copyKey(ns_, job.copy), encodeCopyJob(job));
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot record a copy: " + s.ToString(), Code::storage};
  return {};
}

Status Store::removeCopyJob(uint64_t copy) {
  leveldb::WriteBatch batch;
  batch.Delete(copyKey(ns_, copy));
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot end a copy: " + s.ToString(), Code::storage};
  return {};
}

Loaded<CopyJob> Store::loadCopyJobs() { return scan<CopyJob>(*db_, ns_ + "copy/", decodeCopyJob); }

Status Store::putCarried(const std::vector<CarriedEntry>& entries) {
  leveldb::WriteBatch batch;
  for (const auto& e : entries) batch.Put(carryKey(ns_, e.number), encodeCarried(e));
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot hold messages for another node: " + s.ToString(), Code::storage};
  return {};
}

// Not synced, like removeOutbox: a removal lost in a crash only forwards the message again.
Status Store::removeCarried(uint64_t number) {
  auto s = db_->Delete(leveldb::WriteOptions(), carryKey(ns_, number));
  if (!s.ok()) return Error{"database: cannot remove carried message " + std::to_string(number) + ": " + s.ToString(), Code::storage};
  return {};
}

Loaded<CarriedEntry> Store::loadCarried() { return scan<CarriedEntry>(*db_, ns_ + "carry/", decodeCarried); }

// Not synced: if the removal is lost in a crash, the message is sent again and the receiver,
// which remembers it, ACKs it without running it.
Status Store::removeOutbox(uint64_t id) {
  auto s = db_->Delete(leveldb::WriteOptions(), outKey(ns_, id));
  if (!s.ok()) return Error{"database: cannot remove message " + std::to_string(id) + ": " + s.ToString(), Code::storage};
  return {};
}

Status Store::putLost(const std::string& subject, uint64_t lostUpTo) {
  leveldb::WriteBatch batch;
  if (lostUpTo == 0) {
    batch.Delete(lostKey(ns_, subject));
  } else {
    batch.Put(lostKey(ns_, subject), encodeU64(lostUpTo));
  }
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot record " + lostKey(ns_, subject) + ": " + s.ToString(), Code::storage};
  return {};
}

std::map<std::string, uint64_t> Store::loadLost() {
  std::map<std::string, uint64_t> out;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  const std::string prefix = lostKey(ns_, "");
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (auto value = decodeU64(it->value().ToString())) out[it->key().ToString().substr(prefix.size())] = value.value();
  }
  return out;
}

Loaded<OutboxEntry> Store::loadOutbox() {
  return scan<OutboxEntry>(*db_, ns_ + "out/", decodeOutbox);
}

Result<Store::Taken> Store::acceptInbound(const std::string& fromNode, uint64_t id,
                                          const std::string& method, const std::string& wire,
                                          int64_t sealedUnixMs, uint64_t settledBelow) {
  auto taken = acceptInbound({Arriving{fromNode, id, method, wire, sealedUnixMs, settledBelow}});
  if (!taken) return taken.error();
  return taken->front();
}

Result<Store::Sender*> Store::sender(const std::string& fromNode) {
  if (auto known = senders_.find(fromNode); known != senders_.end()) return &known->second;
  Sender state;
  std::string value;
  const leveldb::Status s = db_->Get(leveldb::ReadOptions(), settledKey(ns_, fromNode), &value);
  if (s.ok()) {
    if (auto below = decodeU64(value)) state.settledBelow = below.value();
  } else if (!s.IsNotFound()) {
    return Error{"database: cannot read what " + fromNode + " settled: " + s.ToString(), Code::storage};
  }
  const std::string prefix = seenPrefix(ns_, fromNode);
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++state.seen;
  return &senders_.emplace(fromNode, state).first->second;
}

uint64_t Store::forgetSeen(leveldb::WriteBatch& batch, const std::string& fromNode, uint64_t below,
                           uint64_t most) {
  const std::string prefix = seenPrefix(ns_, fromNode);
  const std::string end = below == UINT64_MAX ? std::string() : seenKey(ns_, fromNode, below);
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  uint64_t forgotten = 0;
  for (it->Seek(prefix); it->Valid() && forgotten < most && it->key().starts_with(prefix) &&
                         (end.empty() || it->key().compare(end) < 0);
       it->Next()) {
    batch.Delete(it->key());
    ++forgotten;
  }
  return forgotten;
}

Result<std::vector<Store::Taken>> Store::acceptInbound(const std::vector<Arriving>& arriving,
                                                       bool durable) {
  std::lock_guard lock(inboxMutex_);
  std::vector<Taken> out;
  leveldb::WriteBatch batch;
  // What this write changes of each sender's memory; kept only once the write is.
  std::map<std::string, Sender> changed;
  auto senderOf = [&](const std::string& from) -> Result<Sender*> {
    if (auto it = changed.find(from); it != changed.end()) return &it->second;
    auto known = sender(from);
    if (!known) return known.error();
    return &changed.emplace(from, *known.value()).first->second;
  };
  // The senders' word first: what they settled is forgotten, and a late copy of it is not taken.
  for (const auto& a : arriving) {
    if (a.settledBelow == 0) continue;
    auto state = senderOf(a.fromNode);
    if (!state) return state.error();
    Sender& s = *state.value();
    if (a.settledBelow <= s.settledBelow) continue;
    s.seen -= std::min(s.seen, forgetSeen(batch, a.fromNode, a.settledBelow, UINT64_MAX));
    s.settledBelow = a.settledBelow;
    batch.Put(settledKey(ns_, a.fromNode), encodeU64(a.settledBelow));
  }
  // Taken earlier in this batch: by seen key, the value written for it.
  std::map<std::string, std::string> takenNow;
  for (const auto& a : arriving) {
    auto state = senderOf(a.fromNode);
    if (!state) return state.error();
    Sender& sender = *state.value();
    const std::string seen = seenKey(ns_, a.fromNode, a.id);
    // The value is the arrival (8 bytes) and, since messages are sealed, the seal time of the
    // latest copy taken (8 more).
    std::string value;
    bool known = false;
    if (auto it = takenNow.find(seen); it != takenNow.end()) {
      value = it->second;
      known = true;
    } else {
      leveldb::Status s = db_->Get(leveldb::ReadOptions(), seen, &value);
      if (!s.ok() && !s.IsNotFound()) {
        return Error{"database: cannot check for duplicates: " + s.ToString(), Code::storage};
      }
      known = s.ok();
    }
    if (known) {
      const auto stored = value.size() >= 16 ? decodeU64(value.substr(8, 8)) : Result<uint64_t>(0);
      const uint64_t last = stored ? stored.value() : 0;
      const auto sealed = static_cast<uint64_t>(a.sealedUnixMs);
      if (a.sealedUnixMs > 0 && last > 0 && sealed <= last) {
        out.push_back(Taken{0, true});
        continue;
      }
      // (Unless this write forgets it: the sender settled it.)
      if (a.sealedUnixMs > 0 && a.id >= sender.settledBelow) {
        value = value.substr(0, 8) + encodeU64(sealed);
        batch.Put(seen, value);
        takenNow[seen] = value;
      }
      out.push_back(Taken{});
      continue;
    }
    if (a.id < sender.settledBelow) {
      // The sender settled it before this copy came: taken (ACKed) but never run.
      out.push_back(Taken{});
      continue;
    }
    auto arrival = arrivals_->next();
    if (!arrival) return arrival.error();
    const uint64_t n = arrival.value();
    value = encodeU64(n) + encodeU64(static_cast<uint64_t>(std::max<int64_t>(a.sealedUnixMs, 0)));
    batch.Put(inKey(ns_, n), encodeInbox(InboxEntry{n, a.method, false, a.wire}));
    batch.Put(seen, value);
    takenNow[seen] = value;
    // A sender that never says what it settled is remembered up to a bound: its oldest go.
    if (++sender.seen > options_.seenPerSender) {
      sender.seen -= std::min(sender.seen, forgetSeen(batch, a.fromNode, UINT64_MAX,
                                                      sender.seen - options_.seenPerSender));
    }
    out.push_back(Taken{n, false});
  }
  auto s = commit(batch, options_.sync && durable);
  if (!s.ok()) return Error{"database: cannot take message: " + s.ToString(), Code::storage};
  for (auto& [from, state] : changed) senders_[from] = state;
  return out;
}

void Store::markIn(leveldb::WriteBatch& batch, uint64_t arrival, const StreamAdvance* advance) const {
  batch.Put(runKey(ns_, arrival), "");
  if (advance != nullptr) {
    batch.Put(nextKey(ns_, advance->key), encodeU64(advance->next));
    for (uint64_t seq : advance->passed) batch.Delete(goneKey(ns_, advance->key, seq));
  }
}

Status Store::markRunning(uint64_t arrival, const StreamAdvance* advance, bool durable) {
  leveldb::WriteBatch batch;
  markIn(batch, arrival, advance);
  auto s = commit(batch, options_.sync && durable);
  if (!s.ok()) return Error{"database: cannot mark message running: " + s.ToString(), Code::storage};
  return {};
}

Status Store::finishInbound(uint64_t arrival, const OutboxEntry* reply,
                            const std::vector<std::pair<std::string, uint64_t>>& lastSeqs,
                            const RunMark* next, bool durable, const Repeat* repeat) {
  leveldb::WriteBatch batch;
  if (next != nullptr) markIn(batch, next->arrival, next->advance);
  if (repeat != nullptr) {
    if (repeat->next != nullptr) {
      batch.Put(schedKey(ns_, repeat->schedule), encodeScheduled(*repeat->next));
    } else {
      batch.Delete(schedKey(ns_, repeat->schedule));
    }
    durable = true;  // a schedule lost to a power cut would end it unasked
  }
  for (const auto& [subject, seq] : lastSeqs) batch.Put(seqKey(ns_, subject), encodeU64(seq));
  batch.Delete(inKey(ns_, arrival));
  batch.Delete(runKey(ns_, arrival));
  if (reply != nullptr) batch.Put(outKey(ns_, reply->id), encodeOutbox(*reply));
  // A reply is sent as soon as this returns: it and the sequence numbers it took are synced
  // whatever the request was, or a power cut could give the same numbers to another reply.
  auto s = commit(batch, options_.sync && (durable || reply != nullptr || !lastSeqs.empty()));
  if (!s.ok()) return Error{"database: cannot record a finished message: " + s.ToString(), Code::storage};
  return {};
}

Result<uint64_t> Store::releaseScheduled(const ScheduledRun& due) {
  auto arrival = arrivals_->next();
  if (!arrival) return arrival.error();
  InboxEntry entry{arrival.value(), due.method, false, due.wire, due.run, due.schedule};
  leveldb::WriteBatch batch;
  batch.Put(inKey(ns_, entry.arrival), encodeInbox(entry));
  batch.Delete(schedKey(ns_, due.schedule));
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot start a scheduled run: " + s.ToString(), Code::storage};
  return entry.arrival;
}

Status Store::cancelScheduled(const ScheduledRun& run, bool mark) {
  leveldb::WriteBatch batch;
  if (mark) {
    ScheduledRun marked = run;
    marked.cancelled = true;
    batch.Put(schedKey(ns_, run.schedule), encodeScheduled(marked));
  } else {
    batch.Delete(schedKey(ns_, run.schedule));
  }
  auto s = commit(batch, options_.sync);
  if (!s.ok()) return Error{"database: cannot cancel a schedule: " + s.ToString(), Code::storage};
  return {};
}

Loaded<ScheduledRun> Store::loadScheduled() { return scan<ScheduledRun>(*db_, ns_ + "sched/", decodeScheduled); }

Loaded<InboxEntry> Store::loadInbox() {
  auto loaded = scan<InboxEntry>(*db_, ns_ + "in/", decodeInbox);
  std::string ignored;
  for (auto& e : loaded.entries) {
    e.running = db_->Get(leveldb::ReadOptions(), runKey(ns_, e.arrival), &ignored).ok();
  }
  return loaded;
}

Status Store::putRaw(const std::string& key, const std::string& value) {
  auto s = db_->Put(leveldb::WriteOptions(), ns_ + key, value);
  if (!s.ok()) return Error{s.ToString(), Code::storage};
  return {};
}

Result<uint64_t> IdSource::next() {
  std::lock_guard lock(mutex_);
  if (next_ == end_) {
    auto first = store_.reserve(counter_, blockSize_, firstOfNew_);
    if (!first) return first.error();
    next_ = first.value();
    end_ = next_ + blockSize_;
  }
  return next_++;
}

}  // namespace steward::store
