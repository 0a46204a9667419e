#include "core/security/trust.hpp"

#include "core/util/json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace steward::security {

namespace {

constexpr const char* kStateFile = "trust.json";
// Announcements kept at most: a flood of hellos with made-up names cannot grow it without end.

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(Writer& w, const std::string& s) { w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size())); }

Status writeAtomically(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return Error{"cannot write " + tmp.string()};
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) return Error{"cannot replace " + file.string() + ": " + ec.message()};
  return {};
}

}  // namespace

Result<std::unique_ptr<Trust>> Trust::open(TrustSettings settings) {
  std::unique_ptr<Trust> t(new Trust(std::move(settings)));
  if (auto s = t->load(); !s) return s.error();
  return t;
}

std::optional<std::string> Trust::keyOf(const std::string& node) {
  if (node == settings_.ownNode) return settings_.ownKey;
  std::lock_guard lock(mutex_);
  std::optional<std::string> key;
  if (auto it = allowed_.find(node); it != allowed_.end()) {
    key = it->second;
  } else {
    key = provisionedKeyLocked(node);
  }
  if (key && revoked_.count(*key) != 0) return std::nullopt;
  return key;
}

bool Trust::revoked(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return revoked_.count(key) != 0;
}

std::string Trust::whyUntrusted(const std::string& node) {
  std::lock_guard lock(mutex_);
  const auto key = provisionedKeyLocked(node);
  if (key && revoked_.count(*key) != 0) return "the key of " + node + " has been revoked";
  return "no trusted key for " + node + " (allow it at central, or provision its key)";
}

std::vector<std::string> Trust::revokedKeys() const {
  std::lock_guard lock(mutex_);
  return {revoked_.begin(), revoked_.end()};
}

uint64_t Trust::version() const {
  std::lock_guard lock(mutex_);
  return version_;
}

std::optional<std::string> Trust::provisionedKeyLocked(const std::string& node) {
  if (auto it = files_.find(node); it != files_.end()) return it->second;
  auto key = readKeyFile(node);
  if (key) files_[node] = *key;
  return key;
}

std::optional<std::string> Trust::readKeyFile(const std::string& node) const {
  // Node names never hold a "/" (they are subject tokens), so this stays inside the folder.
  if (settings_.folder.empty() || node.empty() || node.find('/') != std::string::npos ||
      node[0] == '.') {
    return std::nullopt;
  }
  std::ifstream in(settings_.folder / (node + ".pub"));
  std::string key;
  if (!std::getline(in, key)) return std::nullopt;
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) return std::nullopt;
  return key;
}

std::string Trust::setJsonLocked() const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("version");
  w.Uint64(version_);
  w.Key("keys");
  w.StartObject();
  for (const auto& [node, key] : allowed_) {
    str(w, node);
    str(w, key);
  }
  w.EndObject();
  w.Key("revoked");
  w.StartArray();
  for (const auto& key : revoked_) str(w, key);
  w.EndArray();
  if (!acl_.empty()) {
    w.Key("acl");
    const std::string acl = acl_.json();
    w.RawValue(acl.c_str(), acl.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Status Trust::saveLocked() const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("set");
  const std::string set = setJsonLocked();
  w.RawValue(set.c_str(), set.size(), rapidjson::kObjectType);
  w.Key("signature");
  str(w, setSignature_);
  w.Key("pending");
  w.StartObject();
  for (const auto& [node, p] : pending_) {
    str(w, node);
    w.StartObject();
    w.Key("key");
    str(w, p.key);
    w.Key("lastSeenUnixMs");
    w.Int64(p.lastSeenUnixMs);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  std::error_code ec;
  fs::create_directories(settings_.stateDir, ec);
  return writeAtomically(settings_.stateDir / kStateFile,
                         std::string(buffer.GetString(), buffer.GetSize()) + "\n");
}

namespace {

// {"version":N,"keys":{node:key},"revoked":[key],"acl":{…}} into its parts.
Status parseSet(const rapidjson::Value& set, uint64_t& version, std::map<std::string, std::string>& keys,
                std::set<std::string>& revoked, Acl& acl) {
  if (!set.IsObject() || !set.HasMember("version") || !set["version"].IsUint64() ||
      !set.HasMember("keys") || !set["keys"].IsObject() || !set.HasMember("revoked") ||
      !set["revoked"].IsArray()) {
    return Error{"not a trusted set: it needs version, keys and revoked"};
  }
  version = set["version"].GetUint64();
  for (const auto& k : set["keys"].GetObject()) {
    if (!k.value.IsString()) return Error{"the key of " + std::string(k.name.GetString()) + " is not a string"};
    keys[k.name.GetString()] = k.value.GetString();
  }
  for (const auto& k : set["revoked"].GetArray()) {
    if (!k.IsString()) return Error{"a revoked key is not a string"};
    revoked.insert(k.GetString());
  }
  if (set.HasMember("acl")) {
    auto parsed = Acl::parse(set["acl"]);
    if (!parsed) return parsed.error();
    acl = std::move(parsed).value();
  }
  return {};
}

}  // namespace

Status Trust::load() {
  const fs::path file = settings_.stateDir / kStateFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = json::parse(text.str(), file.string());
  if (!parsed) return Error{parsed.error().message + ": the trust state is damaged"};
  const rapidjson::Document& d = parsed.value();
  if (!d.IsObject() || !d.HasMember("set")) {
    return Error{file.string() + " is damaged: not the trust state steward writes"};
  }
  if (auto s = parseSet(d["set"], version_, allowed_, revoked_, acl_); !s) {
    return Error{file.string() + ": " + s.error().message};
  }
  if (d.HasMember("signature") && d["signature"].IsString()) setSignature_ = d["signature"].GetString();
  if (d.HasMember("pending") && d["pending"].IsObject()) {
    for (const auto& p : d["pending"].GetObject()) {
      if (!p.value.IsObject() || !p.value.HasMember("key") || !p.value["key"].IsString()) continue;
      pending_[p.name.GetString()] = Pending{p.value["key"].GetString(),
                                             p.value.HasMember("lastSeenUnixMs") && p.value["lastSeenUnixMs"].IsInt64()
                                                 ? p.value["lastSeenUnixMs"].GetInt64() : 0};
    }
  }
  return {};
}

Status Trust::applySet(const std::string& setJson, const std::string& signature) {
  // Central's key is the one the operator provisioned (or this node's own, at central); never
  // one taken from a set, which could then vouch for itself.
  std::optional<std::string> centralKey;
  if (isCentral()) {
    centralKey = settings_.ownKey;
  } else {
    std::lock_guard lock(mutex_);
    centralKey = readKeyFile(settings_.centralNode);
  }
  if (!centralKey) {
    return Error{"no key for " + settings_.centralNode + " in " + settings_.folder.string() +
                 " to check the trusted set with"};
  }
  if (!verifySignature(*centralKey, "steward-trusted-set\n" + setJson, signature)) {
    return Error{"the trusted set is not signed by " + settings_.centralNode + "'s key"};
  }
  auto d = json::parse(setJson, "the trusted set");
  if (!d) return d.error();
  uint64_t version = 0;
  std::map<std::string, std::string> keys;
  std::set<std::string> revoked;
  Acl acl;
  if (auto s = parseSet(d.value(), version, keys, revoked, acl); !s) return s;
  std::lock_guard lock(mutex_);
  if (version <= version_) {
    return Error{"trusted set version " + std::to_string(version) + " is not newer than " +
                 std::to_string(version_) + " (an old set sent again is ignored)"};
  }
  version_ = version;
  allowed_ = std::move(keys);
  revoked_ = std::move(revoked);
  acl_ = std::move(acl);
  setSignature_ = signature;
  return saveLocked();
}

bool Trust::announce(const std::string& node, const std::string& key, int64_t nowUnixMs,
                     bool* newlyPending) {
  if (newlyPending != nullptr) *newlyPending = false;
  std::lock_guard lock(mutex_);
  const auto allowed = allowed_.find(node);
  const bool provisioned = allowed == allowed_.end() && provisionedKeyLocked(node) == key;
  if ((allowed != allowed_.end() && allowed->second == key) || provisioned) {
    if (pending_.erase(node) > 0) (void)saveLocked();
    return revoked_.count(key) == 0;
  }
  if (revoked_.count(key) != 0) return false;
  if (pending_.size() >= kMaxPending && pending_.count(node) == 0) return false;
  const bool changed = pending_[node].key != key;
  pending_[node] = Pending{key, nowUnixMs};
  if (changed) (void)saveLocked();
  if (newlyPending != nullptr) *newlyPending = changed;
  return false;
}

Status Trust::allow(const std::string& node) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(node);
  if (it == pending_.end()) {
    return Error{"no key announced by " + node + " is waiting (it sends its key in its hellos)"};
  }
  if (auto old = allowed_.find(node); old != allowed_.end()) revoked_.insert(old->second);
  allowed_[node] = it->second.key;
  pending_.erase(it);
  ++version_;
  return saveLocked();
}

Status Trust::revoke(const std::string& node) {
  std::lock_guard lock(mutex_);
  auto it = allowed_.find(node);
  std::optional<std::string> key;
  if (it != allowed_.end()) {
    key = it->second;
    allowed_.erase(it);
  } else if (auto file = provisionedKeyLocked(node)) {
    key = file;  // provisioned in the folder: revoking lists it so no node trusts it any more
  }
  if (!key) return Error{"no key is trusted for " + node};
  revoked_.insert(*key);
  pending_.erase(node);
  ++version_;
  return saveLocked();
}

std::string Trust::listJson() const {
  std::lock_guard lock(mutex_);
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("version");
  w.Uint64(version_);
  w.Key("allowed");
  w.StartObject();
  for (const auto& [node, key] : allowed_) {
    str(w, node);
    str(w, key);
  }
  w.EndObject();
  w.Key("pending");
  w.StartObject();
  for (const auto& [node, p] : pending_) {
    str(w, node);
    str(w, p.key);
  }
  w.EndObject();
  w.Key("revoked");
  w.StartArray();
  for (const auto& key : revoked_) str(w, key);
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Status Trust::setAcl(Acl acl) {
  std::lock_guard lock(mutex_);
  acl_ = std::move(acl);
  ++version_;
  return saveLocked();
}

std::string Trust::aclJson() const {
  std::lock_guard lock(mutex_);
  return acl_.json();
}

Status Trust::authorize(const std::string& from, const std::string& method,
                        const std::vector<std::string>& data, bool commandData) const {
  std::lock_guard lock(mutex_);
  return acl_.allows(settings_.ownNode, settings_.centralNode, from, method, data, commandData);
}

std::pair<std::string, std::string> Trust::signedSet(const Identity& central) const {
  std::lock_guard lock(mutex_);
  std::string set = setJsonLocked();
  std::string signature = central.sign("steward-trusted-set\n" + set);
  return {std::move(set), std::move(signature)};
}

std::set<std::string> Trust::knownNodes() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> nodes;
  for (const auto& [node, key] : allowed_) nodes.insert(node);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(settings_.folder, ec)) {
    if (entry.path().extension() == ".pub") nodes.insert(entry.path().stem().string());
  }
  nodes.erase(settings_.ownNode);
  return nodes;
}

}  // namespace steward::security
