// What a part of a node needs to send a message of its own (errors, hellos, trusted sets): the
// node stamps it, writes it to the outbox and queues it. A small interface, so the parts that
// send do not hold the whole node.
#pragma once

#include "core/message/message.hpp"
#include "core/util/result.hpp"

namespace steward::process {

class MessageSender {
 public:
  virtual ~MessageSender() = default;
  // Queues `message` from this node; its id, or why it could not be queued. Thread-safe.
  virtual Result<uint64_t> send(message::Message message) = 0;
};

}  // namespace steward::process
