// The two methods a node serves itself, because they act on the node and no plugin may:
//   REQOpCommand   the operations of process/operations.hpp, from the message's `operation`
//   REQKeysUpdate  central's signed trusted set, data = [set JSON, signature]
// Both are commands with an ACK, sequenced, and allowed from the central node by default
// (message/methods.hpp).
#pragma once

#include "core/process/catalog.hpp"
#include "core/process/operations.hpp"
#include "core/process/trust_keeper.hpp"

namespace steward::process {

// Makes both known to `catalog`; `operations` and `keys` must outlive its subscribers.
void addOwnMethods(Catalog& catalog, NodeOperations& operations, TrustKeeper& keys);

}  // namespace steward::process
