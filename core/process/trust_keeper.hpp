// The trust part of a node: the keys operations (REQOpCommand keys*), what central does with
// hellos (learn announced keys, bring a node's trusted set up to date), pushing central's signed
// set and taking it in (REQKeysUpdate). The register and the set themselves are security::Trust.
#pragma once

#include "core/message/message.hpp"
#include "core/observe/error_kernel.hpp"
#include "core/process/message_sender.hpp"
#include "core/security/identity.hpp"
#include "core/security/trust.hpp"

#include <rapidjson/document.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace steward::process {

class TrustKeeper {
 public:
  // `trust` and `identity` may be null (a node that neither signs nor checks: unit tests); every
  // keys operation then says so.
  TrustKeeper(std::string nodeName, std::string centralNodeName, security::Trust* trust,
              const security::Identity* identity, MessageSender& sender,
              const observe::ErrorKernel& errors);

  // keysList, keysAllow, keysRevoke, keysAclShow, keysAclSet (central); `arg` is the
  // operation's opArg, already checked for unknown keys.
  Result<std::string> operate(const std::string& cmd, const rapidjson::Value* arg);
  // Each node central holds a key of: "allowed" or "pending" (none without trust).
  std::map<std::string, std::string> keyStates() const;
  // REQKeysUpdate (every node), its data as central sends it: [set, signature] (the whole set),
  // ["changes", changes, signature] (what changed since a version) or ["part", part, signature]
  // (one part of a large set). Kept when central's signature holds and it brings a newer version.
  Result<std::string> applyUpdate(const std::vector<std::string>& data);
  // At central: a hello (trusted, or an announcement of a key not trusted yet). The key waits
  // for the operator; a known node whose hello shows an older trusted set gets the current one.
  void onHello(const message::Message& hello, int64_t nowUnixMs);

 private:
  // After a change: every node in `nodes` gets the last changes, signed (a node up to
  // kCatchUp versions behind takes them too); a few hundred bytes each, whatever the fleet's size.
  static constexpr uint64_t kCatchUp = 16;
  void pushChanges(const std::set<std::string>& nodes);
  // A node that holds version `held`: the changes since, or the whole set when central no longer
  // has them all (in parts when it is larger than kWholeSetBytes).
  void bringUpToDate(const std::string& node, uint64_t held);
  static constexpr size_t kWholeSetBytes = 256 * 1024;
  void sendWholeSet(const std::set<std::string>& nodes);
  void send(const std::string& node, std::vector<std::string> data, const std::string& what);

  const std::string nodeName_;
  const std::string centralNodeName_;
  security::Trust* trust_;
  const security::Identity* identity_;
  MessageSender& sender_;
  const observe::ErrorKernel& errors_;
};

}  // namespace steward::process
