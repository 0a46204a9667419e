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

// What central's signature covers starts with what is signed, so a signature of one kind can
// never pass for another.
constexpr const char* kSetContext = "steward-trusted-set\n";
constexpr const char* kChangesContext = "steward-trusted-changes\n";
constexpr const char* kPartContext = "steward-trusted-part\n";

// {"version":N, …what `fill` writes}: one change of the trusted set.
template <class Fill>
std::string change(uint64_t version, Fill fill) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("version");
  w.Uint64(version);
  fill(w);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

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
  w.Key("changes");
  w.StartArray();
  for (const auto& [version, json] : changes_) w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
  w.EndArray();
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
// {node:key} into `keys`.
Status parseKeys(const rapidjson::Value& object, std::map<std::string, std::string>& keys) {
  for (const auto& k : object.GetObject()) {
    if (!k.value.IsString()) return Error{"the key of " + std::string(k.name.GetString()) + " is not a string"};
    keys[k.name.GetString()] = k.value.GetString();
  }
  return {};
}

Status parseSet(const rapidjson::Value& set, uint64_t& version, std::map<std::string, std::string>& keys,
                std::set<std::string>& revoked, Acl& acl) {
  if (!set.IsObject() || !set.HasMember("version") || !set["version"].IsUint64() ||
      !set.HasMember("keys") || !set["keys"].IsObject() || !set.HasMember("revoked") ||
      !set["revoked"].IsArray()) {
    return Error{"not a trusted set: it needs version, keys and revoked"};
  }
  version = set["version"].GetUint64();
  if (auto s = parseKeys(set["keys"], keys); !s) return s;
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
  if (d.HasMember("changes") && d["changes"].IsArray()) {
    for (const auto& c : d["changes"].GetArray()) {
      if (!c.IsObject() || !c.HasMember("version") || !c["version"].IsUint64()) continue;
      rapidjson::StringBuffer buffer;
      Writer w(buffer);
      c.Accept(w);
      changes_.emplace_back(c["version"].GetUint64(), std::string(buffer.GetString(), buffer.GetSize()));
    }
  }
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

Result<rapidjson::Document> Trust::openSigned(const char* context, const std::string& json,
                                             const std::string& signature, const std::string& what) {
  // Central's key is the one the operator provisioned (or this node's own, at central); never
  // one taken from a set, which could then vouch for itself.
  std::optional<std::string> key;
  if (isCentral()) {
    key = settings_.ownKey;
  } else {
    std::lock_guard lock(mutex_);
    key = readKeyFile(settings_.centralNode);
  }
  if (!key) {
    return Error{"no key for " + settings_.centralNode + " in " + settings_.folder.string() +
                 " to check " + what + " with"};
  }
  if (!verifySignature(*key, std::string(context) + json, signature)) {
    return Error{what + " is not signed by " + settings_.centralNode + "'s key"};
  }
  return json::parse(json, what);
}

Status Trust::newerLocked(uint64_t version) const {
  if (version > version_) return {};
  return Error{"trusted set version " + std::to_string(version) + " is not newer than " +
               std::to_string(version_) + " (an old set sent again is ignored)"};
}

Status Trust::takeSetLocked(uint64_t version, std::map<std::string, std::string> keys,
                            std::set<std::string> revoked, Acl acl, std::string signature) {
  if (auto s = newerLocked(version); !s) return s;
  version_ = version;
  allowed_ = std::move(keys);
  revoked_ = std::move(revoked);
  acl_ = std::move(acl);
  setSignature_ = std::move(signature);
  return saveLocked();
}

Status Trust::applySet(const std::string& setJson, const std::string& signature) {
  auto d = openSigned(kSetContext, setJson, signature, "the trusted set");
  if (!d) return d.error();
  uint64_t version = 0;
  std::map<std::string, std::string> keys;
  std::set<std::string> revoked;
  Acl acl;
  if (auto s = parseSet(d.value(), version, keys, revoked, acl); !s) return s;
  std::lock_guard lock(mutex_);
  return takeSetLocked(version, std::move(keys), std::move(revoked), std::move(acl), signature);
}

std::optional<std::pair<std::string, std::string>> Trust::signedChanges(const Identity& central,
                                                                        uint64_t from) const {
  std::lock_guard lock(mutex_);
  if (from >= version_ || changes_.empty() || changes_.front().first > from + 1) return std::nullopt;
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("from");
  w.Uint64(from);
  w.Key("version");
  w.Uint64(version_);
  w.Key("changes");
  w.StartArray();
  for (const auto& [version, json] : changes_) {
    if (version > from) w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  w.EndObject();
  std::string changes(buffer.GetString(), buffer.GetSize());
  std::string signature = central.sign(std::string(kChangesContext) + changes);
  return std::make_pair(std::move(changes), std::move(signature));
}

Status Trust::applyChanges(const std::string& changesJson, const std::string& signature) {
  auto d = openSigned(kChangesContext, changesJson, signature, "the list of the trusted set's changes");
  if (!d) return d.error();
  const rapidjson::Document& doc = d.value();
  if (!doc.IsObject() || !doc.HasMember("from") || !doc["from"].IsUint64() || !doc.HasMember("version") ||
      !doc["version"].IsUint64() || !doc.HasMember("changes") || !doc["changes"].IsArray()) {
    return Error{"not the trusted set's changes: they need from, version and changes"};
  }
  const uint64_t from = doc["from"].GetUint64();
  const uint64_t version = doc["version"].GetUint64();
  std::lock_guard lock(mutex_);
  if (auto s = newerLocked(version); !s) return s;
  if (from > version_) {
    return Error{"this node holds trusted set version " + std::to_string(version_) +
                 " and the changes start after version " + std::to_string(from) +
                 ": the whole set comes with the answer to its next hello"};
  }
  // Worked on copies: a bad change leaves the set held as it was.
  auto allowed = allowed_;
  auto revoked = revoked_;
  Acl acl = acl_;
  for (const auto& c : doc["changes"].GetArray()) {
    if (!c.IsObject() || !c.HasMember("version") || !c["version"].IsUint64()) {
      return Error{"a change of the trusted set has no version"};
    }
    if (c["version"].GetUint64() <= version_) continue;
    auto text = [&c](const char* name) -> std::optional<std::string> {
      if (!c.HasMember(name) || !c[name].IsString()) return std::nullopt;
      return std::string(c[name].GetString(), c[name].GetStringLength());
    };
    const auto node = text("node");
    if (const auto allow = text("allow")) {
      if (!node) return Error{"a change of the trusted set allows a key for no node"};
      allowed[*node] = *allow;
      if (const auto old = text("revoke")) revoked.insert(*old);
    } else if (const auto revoke = text("revoke")) {
      if (node) allowed.erase(*node);
      revoked.insert(*revoke);
    } else if (c.HasMember("acl")) {
      auto parsed = Acl::parse(c["acl"]);
      if (!parsed) return parsed.error();
      acl = std::move(parsed).value();
    } else {
      return Error{"a change of the trusted set neither allows, revokes nor sets the ACL"};
    }
  }
  version_ = version;
  allowed_ = std::move(allowed);
  revoked_ = std::move(revoked);
  acl_ = std::move(acl);
  setSignature_ = signature;
  return saveLocked();
}

std::vector<std::pair<std::string, std::string>> Trust::signedParts(const Identity& central,
                                                                    size_t partBytes) const {
  std::lock_guard lock(mutex_);
  // The keys, split so that each part's share is about partBytes.
  std::vector<std::vector<std::pair<std::string, std::string>>> shares(1);
  size_t bytes = 0;
  for (const auto& [node, key] : allowed_) {
    const size_t entry = node.size() + key.size() + 8;
    if (bytes > 0 && bytes + entry > partBytes) {
      shares.emplace_back();
      bytes = 0;
    }
    shares.back().emplace_back(node, key);
    bytes += entry;
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < shares.size(); ++i) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("version");
    w.Uint64(version_);
    w.Key("part");
    w.Uint64(i);
    w.Key("parts");
    w.Uint64(shares.size());
    w.Key("keys");
    w.StartObject();
    for (const auto& [node, key] : shares[i]) {
      str(w, node);
      str(w, key);
    }
    w.EndObject();
    if (i == 0) {
      w.Key("revoked");
      w.StartArray();
      for (const auto& key : revoked_) str(w, key);
      w.EndArray();
      if (!acl_.empty()) {
        w.Key("acl");
        const std::string acl = acl_.json();
        w.RawValue(acl.c_str(), acl.size(), rapidjson::kObjectType);
      }
    }
    w.EndObject();
    std::string part(buffer.GetString(), buffer.GetSize());
    std::string signature = central.sign(std::string(kPartContext) + part);
    out.emplace_back(std::move(part), std::move(signature));
  }
  return out;
}

Result<std::string> Trust::applyPart(const std::string& partJson, const std::string& signature) {
  auto d = openSigned(kPartContext, partJson, signature, "a part of the trusted set");
  if (!d) return d.error();
  const rapidjson::Document& doc = d.value();
  if (!doc.IsObject() || !doc.HasMember("version") || !doc["version"].IsUint64() || !doc.HasMember("part") ||
      !doc["part"].IsUint64() || !doc.HasMember("parts") || !doc["parts"].IsUint64() ||
      !doc.HasMember("keys") || !doc["keys"].IsObject()) {
    return Error{"not a part of the trusted set: it needs version, part, parts and keys"};
  }
  const uint64_t version = doc["version"].GetUint64();
  const uint64_t part = doc["part"].GetUint64();
  const uint64_t parts = doc["parts"].GetUint64();
  if (parts == 0 || parts > 100000 || part >= parts) {
    return Error{"part " + std::to_string(part) + " of " + std::to_string(parts) + " is not a part"};
  }
  std::map<std::string, std::string> keys;
  std::set<std::string> revoked;
  Acl acl;
  if (part == 0) {
    // Part 0 also carries the revoked keys and the ACL: it reads as a set of its own.
    uint64_t ignored = 0;
    if (auto s = parseSet(doc, ignored, keys, revoked, acl); !s) return s.error();
  } else if (auto s = parseKeys(doc["keys"], keys); !s) {
    return s.error();
  }
  std::lock_guard lock(mutex_);
  if (auto s = newerLocked(version); !s) return s.error();
  if (parts_.version != version || parts_.count != parts) parts_ = Parts{version, parts, {}, {}, {}};
  parts_.keys[part] = std::move(keys);
  if (part == 0) {
    parts_.revoked = std::move(revoked);
    parts_.acl = std::move(acl);
  }
  if (parts_.keys.size() < parts_.count) {
    return "part " + std::to_string(part + 1) + " of " + std::to_string(parts) + " of trusted set version " +
           std::to_string(version) + " taken";
  }
  std::map<std::string, std::string> all;
  for (auto& [n, share] : parts_.keys) all.merge(share);
  Parts done = std::move(parts_);
  parts_ = Parts{};
  if (auto s = takeSetLocked(version, std::move(all), std::move(done.revoked), std::move(done.acl), signature); !s) {
    return s.error();
  }
  return "trusted set version " + std::to_string(version) + " applied (" + std::to_string(parts) + " parts)";
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
  std::optional<std::string> replaced;
  if (auto old = allowed_.find(node); old != allowed_.end()) {
    replaced = old->second;
    revoked_.insert(old->second);
  }
  allowed_[node] = it->second.key;
  pending_.erase(it);
  ++version_;
  recordLocked(change(version_, [&](Writer& w) {
    w.Key("node");
    str(w, node);
    w.Key("allow");
    str(w, allowed_[node]);
    if (replaced) {
      w.Key("revoke");
      str(w, *replaced);
    }
  }));
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
  recordLocked(change(version_, [&](Writer& w) {
    w.Key("node");
    str(w, node);
    w.Key("revoke");
    str(w, *key);
  }));
  return saveLocked();
}

std::map<std::string, std::string> Trust::keyStates() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::string> states;
  for (const auto& [node, key] : allowed_) states.emplace(node, "allowed");
  for (const auto& [node, p] : pending_) states.emplace(node, "pending");
  return states;
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
  recordLocked(change(version_, [&](Writer& w) {
    w.Key("acl");
    const std::string json = acl_.json();
    w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
  }));
  return saveLocked();
}

void Trust::recordLocked(std::string change) {
  changes_.emplace_back(version_, std::move(change));
  if (changes_.size() > kChangesKept) changes_.erase(changes_.begin());
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
  std::string signature = central.sign(std::string(kSetContext) + set);
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
