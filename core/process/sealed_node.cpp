#include "core/process/sealed_node.hpp"

#include "core/util/clock.hpp"

namespace steward::process {

namespace {

// The configuration was checked when it was read: a carriers setting that does not parse never
// gets here.
message::Carriers carriersOf(const config::Config& config) {
  auto parsed = message::Carriers::parse(config.carriers);
  return parsed ? std::move(parsed).value() : message::Carriers{};
}

}  // namespace

Result<std::unique_ptr<SealedNode>> SealedNode::create(const config::Config& config,
                                                       boost::asio::io_context& io,
                                                       transport::Transport& broker,
                                                       plugin::PluginHost& plugins,
                                                       store::Store& store,
                                                       const observe::Audit& audit,
                                                       NodeThreads threads) {
  auto identity = security::Identity::loadOrCreate(config.databaseFolder / "keys");
  if (!identity) return identity.error();
  auto trust = security::Trust::open({.ownNode = config.nodeName,
                                      .ownKey = identity->publicKey(),
                                      .centralNode = config.centralNodeName,
                                      .folder = config.trustedKeysFolder,
                                      .stateDir = config.databaseFolder / "keys"});
  if (!trust) return trust.error();
  std::unique_ptr<SealedNode> sealed(
      new SealedNode(std::move(identity).value(), std::move(trust).value(), broker, config));
  sealed->node_ = std::make_unique<Node>(
      config, io, sealed->sealing_, plugins, store, audit,
      NodeSecurity{.verifier = &sealed->verifier_,
                   .trust = sealed->trust_.get(),
                   .identity = &sealed->identity_},
      threads);
  return sealed;
}

SealedNode::SealedNode(security::Identity identity, std::unique_ptr<security::Trust> trust,
                       transport::Transport& broker, const config::Config& config)
    : identity_(std::move(identity)),
      trust_(std::move(trust)),
      sealing_(broker, identity_, config.nodeName, nowUnixMs),
      verifier_(*trust_, std::chrono::seconds(config.signatureWindowSeconds), nowUnixMs,
                carriersOf(config)) {}

}  // namespace steward::process
