// The answer a receiver sends on a message's reply inbox: "this node owns it now", or a refusal
// that tells the sender to stop retrying (not allowed, undecodable).
#pragma once

#include "core/util/result.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward::process {

struct Ack {
  bool accepted = false;
  std::string error;  // why it was refused
  Code code = Code::unspecified;  // the kind of refusal ("code" on the wire, when there is one)
  // Accepted answers only: the ids of other messages of the same sender and method that the
  // receiver took in the same write ("also" on the wire). One sealed answer then stands for
  // them all; their own inboxes get none.
  std::vector<uint64_t> also;

  static Ack accept(std::vector<uint64_t> also = {}) {
    Ack a;
    a.accepted = true;
    a.also = std::move(also);
    return a;
  }
  static Ack refuse(std::string error, Code code = Code::unspecified) {
    Ack a;
    a.error = std::move(error);
    a.code = code;
    return a;
  }
};

// The most ids one answer may carry; a longer list is not an answer.
inline constexpr size_t kMaxAckAlso = 64;

std::string encodeAck(const Ack& ack);
// nullopt for anything that is not a well-formed answer.
std::optional<Ack> decodeAck(std::string_view payload);

}  // namespace steward::process
