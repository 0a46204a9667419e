// Whose keys a node trusts, and, at central, the operator's register of keys.
//
// Every node trusts its own key, and the keys in its trusted-keys folder (<node>.pub files, one
// base64 ed25519 public key each: what configuration management provisions; central.pub at
// least, see README "Trust"). A key file added while the node runs is found the first time that
// node's message arrives.
//
// Central keeps the register: keys announced by nodes in their hellos wait as pending until an
// operator allows them (steward-ctl keys allow NODE); revoking takes a node's key out and lists
// it as revoked. Central signs the set of allowed and revoked keys with its own key, versioned,
// and pushes it to the nodes (REQKeysUpdate); a node checks it against central's key, takes only
// a newer version, keeps it on disk and trusts its keys too. A revoked key is refused whatever
// else says. Thread-safe.
#pragma once

#include "core/security/acl.hpp"
#include "core/security/identity.hpp"
#include "core/util/result.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace steward::security {

struct TrustSettings {
  std::string ownNode;
  std::string ownKey;
  std::string centralNode;
  std::filesystem::path folder;    // the operator's <node>.pub files
  std::filesystem::path stateDir;  // where the pushed set (and, at central, the register) is kept
};

class Trust {
 public:
  // Loads what was kept in stateDir; a damaged file is an error naming it.
  static Result<std::unique_ptr<Trust>> open(TrustSettings settings);

  // The key `node` is trusted with, if any.
  std::optional<std::string> keyOf(const std::string& node);
  // Whether `key` has been revoked.
  bool revoked(const std::string& key) const;
  // Why `node` has no trusted key: its key was revoked, or none is known.
  std::string whyUntrusted(const std::string& node);
  std::vector<std::string> revokedKeys() const;
  // The version of the signed set this node holds (0: none).
  uint64_t version() const;

  // On a node: takes a set central signed. Refused when central's signature does not check out
  // or it is not newer than the one held.
  Status applySet(const std::string& setJson, const std::string& signature);

  // At central.
  bool isCentral() const { return settings_.ownNode == settings_.centralNode; }
  // A key a node announced in its hello: true when it is the key allowed for that node. Else it
  // waits as pending (at most kMaxPending nodes; `newlyPending` says whether this announcement
  // added or changed an entry).
  bool announce(const std::string& node, const std::string& key, int64_t nowUnixMs,
                bool* newlyPending = nullptr);
  static constexpr size_t kMaxPending = 1000;
  Status allow(const std::string& node);   // the pending key of `node` becomes trusted
  Status revoke(const std::string& node);  // its allowed key is taken out and listed as revoked
  std::string listJson() const;            // allowed, pending and revoked keys, as JSON
  // Each node with a key here: "allowed" or "pending".
  std::map<std::string, std::string> keyStates() const;
  Status setAcl(Acl acl);                  // replaces the ACL (acl.hpp) pushed with the set
  std::string aclJson() const;

  // Whether this node lets `from` call `method` with `data`, by the ACL of the set it holds
  // (`commandData`: Acl::allows).
  Status authorize(const std::string& from, const std::string& method,
                   const std::vector<std::string>& data, bool commandData) const;
  // The current set and central's signature of it, to push.
  std::pair<std::string, std::string> signedSet(const Identity& central) const;
  // The changes since version `from` (allowed keys, revocations, ACLs), signed, when central still
  // holds them all (it keeps the last kChangesKept): a node at `from` or later takes it instead of
  // the whole set, which at 10,000 nodes is some 600 KB per node and change.
  static constexpr size_t kChangesKept = 256;
  std::optional<std::pair<std::string, std::string>> signedChanges(const Identity& central,
                                                                   uint64_t from) const;
  // The whole set in parts of about `partBytes` each (its keys split among them), each signed:
  // for a set larger than one message may carry.
  std::vector<std::pair<std::string, std::string>> signedParts(const Identity& central,
                                                               size_t partBytes) const;
  // On a node: changes central signed (signedChanges). Refused when the signature does not check
  // out, when they start after the version held (a change would be missing), or when they bring
  // nothing newer.
  Status applyChanges(const std::string& changesJson, const std::string& signature);
  // On a node: one part of a set central signed (signedParts); the set is taken once every part
  // of its version has come. Says which it is.
  Result<std::string> applyPart(const std::string& partJson, const std::string& signature);
  // The nodes the set is pushed to: those allowed here, and those whose key is provisioned in the
  // trusted-keys folder.
  std::set<std::string> knownNodes() const;

 private:
  explicit Trust(TrustSettings settings) : settings_(std::move(settings)) {}
  std::optional<std::string> readKeyFile(const std::string& node) const;
  // The key of `node` in the trusted-keys folder, read once and then remembered.
  std::optional<std::string> provisionedKeyLocked(const std::string& node);
  std::string setJsonLocked() const;
  Status saveLocked() const;
  Status load();

  TrustSettings settings_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> files_;    // read from the folder
  uint64_t version_ = 0;
  std::map<std::string, std::string> allowed_;  // the set: node -> key
  std::set<std::string> revoked_;               // keys
  Acl acl_;
  struct Pending {
    std::string key;
    int64_t lastSeenUnixMs = 0;
  };
  std::map<std::string, Pending> pending_;      // at central
  std::string setSignature_;                    // on a node: central's signature of the set
  // At central: the last changes, one per version, oldest first, as JSON objects
  // {"version":N, "allow":{node:key}} | {"version":N, "revoke":key, "node":…} | {"version":N, "acl":{…}};
  // an allow that replaces a node's key revokes the old one in the same change ("revoke").
  std::vector<std::pair<uint64_t, std::string>> changes_;
  void recordLocked(std::string change);
  // On a node: the parts of a set received so far (one version at a time).
  struct Parts {
    uint64_t version = 0;
    size_t count = 0;
    std::map<size_t, std::map<std::string, std::string>> keys;  // by part number
    std::set<std::string> revoked;
    Acl acl;
  };
  Parts parts_;
  // Takes a set's parts as the set held (mutex_ held); checks version.
  Status takeSetLocked(uint64_t version, std::map<std::string, std::string> keys,
                       std::set<std::string> revoked, Acl acl, std::string signature);
  // `json` checked against central's signature for `context` and parsed (`what` names it in
  // errors).
  Result<rapidjson::Document> openSigned(const char* context, const std::string& json,
                                         const std::string& signature, const std::string& what);
  // Whether `version` is newer than the one held (mutex_ held).
  Status newerLocked(uint64_t version) const;
};

}  // namespace steward::security
