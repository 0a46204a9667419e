#include "core/process/trust_keeper.hpp"

#include "core/message/methods.hpp"
#include "core/security/acl.hpp"
#include "core/util/log.hpp"

#include <charconv>
#include <optional>

namespace steward::process {

TrustKeeper::TrustKeeper(std::string nodeName, std::string centralNodeName, security::Trust* trust,
                         const security::Identity* identity, MessageSender& sender,
                         const observe::ErrorKernel& errors)
    : nodeName_(std::move(nodeName)),
      centralNodeName_(std::move(centralNodeName)),
      trust_(trust),
      identity_(identity),
      sender_(sender),
      errors_(errors) {}

// The trust register and the ACL, kept at central: see security/trust.hpp.
Result<std::string> TrustKeeper::operate(const std::string& cmd, const rapidjson::Value* arg) {
  if (trust_ == nullptr) return Error{"this node does not sign or check messages"};
  security::Trust& trust = *trust_;
  auto text = [arg](const char* key) -> std::optional<std::string> {
    if (arg == nullptr || !arg->HasMember(key) || !(*arg)[key].IsString()) return std::nullopt;
    return std::string((*arg)[key].GetString());
  };
  if (!trust.isCentral()) {
    return Error{cmd + " is done at the central node (" + centralNodeName_ + "), not " +
                 nodeName_};
  }
  if (cmd == "keysList") return trust.listJson();
  if (cmd == "keysAclShow") return trust.aclJson();
  if (cmd == "keysAclSet") {
    if (arg == nullptr || !arg->HasMember("acl")) return Error{"keysAclSet needs opArg.acl"};
    auto acl = security::Acl::parse((*arg)["acl"]);
    if (!acl) return acl.error();
    if (auto s = trust.setAcl(std::move(acl).value()); !s) return s.error();
    STEWARD_LOG(info) << "ACL replaced; trusted set version " << trust.version();
    pushChanges(trust.knownNodes());
    return "ACL set; trusted set version " + std::to_string(trust.version()) + " sent to the nodes";
  }
  if (cmd == "keysAllow" || cmd == "keysRevoke") {
    const auto node = text("node");
    if (!node) return Error{cmd + " needs opArg.node"};
    if (auto s = cmd == "keysAllow" ? trust.allow(*node) : trust.revoke(*node); !s) return s.error();
    STEWARD_LOG(info) << (cmd == "keysAllow" ? "allowed the key of " : "revoked the key of ") << *node
                      << "; trusted set version " << trust.version();
    // An allowed node is among the known ones now: it gets the changes with the others.
    pushChanges(trust.knownNodes());
    return std::string(cmd == "keysAllow" ? "allowed " : "revoked ") + *node +
           "; trusted set version " + std::to_string(trust.version()) + " sent to the nodes";
  }
  return Error{"unknown opCmd \"" + cmd + "\"; keys operations are keysList, keysAllow, "
               "keysRevoke, keysAclShow, keysAclSet"};
}

Result<std::string> TrustKeeper::applyUpdate(const std::vector<std::string>& data) {
  if (trust_ == nullptr) return Error{"this node does not sign or check messages"};
  std::string what;
  if (data.size() == 2) {
    if (auto s = trust_->applySet(data[0], data[1]); !s) return s.error();
    what = "trusted set version " + std::to_string(trust_->version()) + " applied";
  } else if (data.size() == 3 && data[0] == "changes") {
    if (auto s = trust_->applyChanges(data[1], data[2]); !s) return s.error();
    what = "trusted set version " + std::to_string(trust_->version()) + " applied (changes)";
  } else if (data.size() == 3 && data[0] == "part") {
    auto taken = trust_->applyPart(data[1], data[2]);
    if (!taken) return taken.error();
    what = std::move(taken).value();
  } else {
    return Error{"REQKeysUpdate needs data [set, signature], [\"changes\", changes, signature] or "
                 "[\"part\", part, signature]",
                 Code::badField};
  }
  STEWARD_LOG(info) << logging::nodeTag(nodeName_) << what << " from " << centralNodeName_;
  return what + " on " + nodeName_;
}

void TrustKeeper::send(const std::string& node, std::vector<std::string> data, const std::string& what) {
  message::Message m;
  m.toNode = node;
  m.method = message::methods::kKeysUpdate;
  m.data = std::move(data);
  m.directory = "keys";
  m.fileName = "keys-update.log";
  if (auto r = sender_.send(std::move(m)); !r) {
    errors_.report("cannot send " + what + " to " + node + ": " + r.error().message);
  }
}

void TrustKeeper::pushChanges(const std::set<std::string>& nodes) {
  if (trust_ == nullptr || identity_ == nullptr) return;
  const uint64_t version = trust_->version();
  auto changes = trust_->signedChanges(*identity_, version > kCatchUp ? version - kCatchUp : 0);
  if (!changes && version > 0) changes = trust_->signedChanges(*identity_, version - 1);
  if (!changes) {
    sendWholeSet(nodes);
    return;
  }
  for (const auto& node : nodes) {
    if (node != nodeName_) send(node, {"changes", changes->first, changes->second}, "the trusted set's changes");
  }
}

void TrustKeeper::bringUpToDate(const std::string& node, uint64_t held) {
  if (trust_ == nullptr || identity_ == nullptr || node == nodeName_) return;
  if (auto changes = trust_->signedChanges(*identity_, held)) {
    send(node, {"changes", changes->first, changes->second}, "the trusted set's changes");
    return;
  }
  sendWholeSet({node});
}

void TrustKeeper::sendWholeSet(const std::set<std::string>& nodes) {
  if (trust_ == nullptr || identity_ == nullptr) return;
  auto [set, signature] = trust_->signedSet(*identity_);
  if (set.size() <= kWholeSetBytes) {
    for (const auto& node : nodes) {
      if (node != nodeName_) send(node, {set, signature}, "the trusted set");
    }
    return;
  }
  const auto parts = trust_->signedParts(*identity_, kWholeSetBytes / 2);
  for (const auto& node : nodes) {
    if (node == nodeName_) continue;
    for (const auto& [part, partSignature] : parts) send(node, {"part", part, partSignature}, "a part of the trusted set");
  }
}

std::map<std::string, std::string> TrustKeeper::keyStates() const {
  return trust_ == nullptr ? std::map<std::string, std::string>{} : trust_->keyStates();
}

void TrustKeeper::onHello(const message::Message& hello, int64_t nowUnixMs) {
  if (trust_ == nullptr || !trust_->isCentral() || hello.data.size() < 2 || hello.data[1].empty()) return;
  bool newlyPending = false;
  const bool known = trust_->announce(hello.fromNode, hello.data[1], nowUnixMs, &newlyPending);
  if (!known) {
    if (newlyPending) {
      STEWARD_LOG(info) << hello.fromNode << " announces a key that is not allowed yet: "
                        << hello.data[1] << " (steward-ctl keys allow " << hello.fromNode << ")";
    }
    return;
  }
  uint64_t held = 0;
  if (hello.data.size() >= 3) {
    const auto& v = hello.data[2];
    std::from_chars(v.data(), v.data() + v.size(), held);
  }
  if (held < trust_->version()) bringUpToDate(hello.fromNode, held);
}

}  // namespace steward::process
