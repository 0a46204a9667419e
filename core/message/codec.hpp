// JSON for messages: the operator's input (an array of message objects) and the wire format
// between nodes (one object with every field, including those a node sets).
#pragma once

#include "core/message/message.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace steward::message {

// Decodes an operator's input. Every error names the message's index and the field, e.g.
// `message 2: field "ACKTimeout": must be a non-negative integer`. Keys are matched exactly, or,
// as the Go steward's decoder did, regardless of case ("MethodTimeout" is methodTimeout); any
// other key is refused. Fields a node sets (id, fromNode, …) are refused.
Result<std::vector<Message>> decodeInput(std::string_view json, const Limits& limits = {});

// Checks a decoded operator message against the methods this node knows: method and replyMethod
// exist, replyMethod is a reply method, there is a receiver, names, paths and sizes are in bounds.
Status validate(const Message& message, const MethodCatalog& methods, const Limits& limits = {});

// The wire format: one JSON object holding every field.
std::string encodeWire(const Message& message);
// Decodes and checks a message received from another node.
Result<Message> decodeWire(std::string_view bytes, const Limits& limits = {});

}  // namespace steward::message
