// What a reply is: the message a handled request answers with, and how its output is cut to fit
// the broker. Pure functions, so the rules are read (and tested) in one place.
#pragma once

#include "core/message/message.hpp"

#include <map>
#include <optional>
#include <string>

namespace steward::process {

// What a run gives its reply: its output, and the named parts a method sets besides it
// (steward_host_api.set_result: stderr and exitStatus of a command).
struct CallOutput {
  std::string text;
  std::map<std::string, std::string> result;
  bool more = false;  // more replies follow, sent by the node later: this one is not final
  CallOutput() = default;
  CallOutput(std::string output) : text(std::move(output)) {}  // NOLINT(google-explicit-constructor)
  CallOutput(const char* output) : text(output) {}             // NOLINT(google-explicit-constructor)
};

// The reply to `request` carrying `output` and `error` (unstamped: the node gives it an id), or
// nullopt when the request gets none: a reply never causes a reply, and events do not answer.
// It goes to the request's replyMethod, else REQPong for a ping, else REQToFileAppend, with the
// request's replyACKTimeout, replyRetries, directory and fileName (default <method>.log).
std::optional<message::Message> replyTo(const message::Message& request,
                                        const message::MethodCatalog& methods, CallOutput output,
                                        const std::string& error, bool partial);

// Encodes a reply, first cutting its output until the encoding fits `maxPayload`, and saying so
// in it ("[steward: output cut to fit the broker's max payload of N bytes]").
std::string encodeFitting(message::Message& reply, size_t maxPayload);

}  // namespace steward::process
