// The operations REQOpCommand runs on a node, as in the spec:
//   ps            processes (subscribers, publishers) and the plugins behind them
//   startProc     starts a method's subscriber (a plugin dropped into the folder is picked up)
//   stopProc      stops one, draining it first
//   listQueue     messages waiting in the outbox (not yet ACKed) and inbox (not yet run), all or
//                 those to/from one node or of one method
//   nodes         central: the fleet, every node it heard from or that announced a key
//   removeQueued  drops waiting messages chosen by ids, age, node and method
//   keys…         the trust register and the ACL (process/trust_keeper.hpp)
#pragma once

#include "core/observe/error_kernel.hpp"
#include "core/process/catalog.hpp"
#include "core/process/fleet.hpp"
#include "core/process/inbox.hpp"
#include "core/process/outbox.hpp"
#include "core/process/trust_keeper.hpp"
#include "core/store/store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace steward::process {

struct QueueFilter;

class NodeOperations {
 public:
  NodeOperations(std::string nodeName, Catalog& catalog, store::Store& store, Outbox& outbox,
                 Inbox& inbox, TrustKeeper& keys, const Fleet& fleet,
                 const observe::ErrorKernel& errors);

  // Runs the operation object {"opCmd": …, "opArg": {…}}; its result is the reply's text (JSON
  // for ps and the queues). Unknown operations and unknown opArg keys are refused by name.
  // Thread-safe; blocks while queues are changed and processes stopped.
  Result<std::string> run(std::string_view operationJson);

 private:
  std::string ps();
  std::string listQueue(const std::string& queue, const QueueFilter& filter);
  std::string nodes();
  std::string removeQueued(const std::string& queue, const QueueFilter& filter);
  Result<std::string> startProc(const std::string& method, const std::string& allowed);
  Result<std::string> stopProc(const std::string& method, std::optional<uint64_t> id);

  const std::string nodeName_;
  Catalog& catalog_;
  store::Store& store_;
  Outbox& outbox_;
  Inbox& inbox_;
  TrustKeeper& keys_;
  const Fleet& fleet_;
  const observe::ErrorKernel& errors_;
};

}  // namespace steward::process
