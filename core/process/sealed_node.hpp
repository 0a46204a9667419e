// A node as it runs: its key pair and the keys it trusts (loaded from its database folder and
// trusted-keys folder), everything it sends sealed with its key and everything it takes checked
// against the keys it trusts. The daemon runs one; steward-sim runs many in one process.
#pragma once

#include "core/config/config.hpp"
#include "core/process/node.hpp"
#include "core/security/identity.hpp"
#include "core/security/sealing.hpp"
#include "core/security/trust.hpp"

#include <memory>

namespace steward::process {

class SealedNode {
 public:
  // Loads (or, the first time, makes) the node's key pair in <databaseFolder>/keys and opens
  // what it trusts; an unreadable key or trust file is an error that names it.
  static Result<std::unique_ptr<SealedNode>> create(const config::Config& config,
                                                    boost::asio::io_context& io,
                                                    transport::Transport& broker,
                                                    plugin::PluginHost& plugins,
                                                    store::Store& store, const observe::Audit& audit,
                                                    NodeThreads threads = {});

  Node& node() { return *node_; }
  const security::Identity& identity() const { return identity_; }
  // The broker as this node uses it (everything published sealed with its key), and the checks
  // on what arrives: what a relay beside the node needs.
  transport::Transport& broker() { return sealing_; }
  const security::Verifier& verifier() const { return verifier_; }

 private:
  SealedNode(security::Identity identity, std::unique_ptr<security::Trust> trust,
             transport::Transport& broker, const config::Config& config);

  security::Identity identity_;
  std::unique_ptr<security::Trust> trust_;
  security::SealingTransport sealing_;
  security::Verifier verifier_;
  std::unique_ptr<Node> node_;  // made last, stopped and destroyed first
};

}  // namespace steward::process
