// The answer a receiver sends on a message's reply inbox: "this node owns it now", or a refusal
// that tells the sender to stop retrying (not allowed, undecodable).
#pragma once

#include "core/util/result.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace steward::process {

struct Ack {
  bool accepted = false;
  std::string error;  // why it was refused
  Code code = Code::unspecified;  // the kind of refusal ("code" on the wire, when there is one)
};

std::string encodeAck(const Ack& ack);
// nullopt for anything that is not a well-formed answer.
std::optional<Ack> decodeAck(std::string_view payload);

}  // namespace steward::process
