#include "core/process/reply.hpp"

#include "core/message/codec.hpp"
#include "core/message/methods.hpp"

#include <algorithm>

namespace steward::process {

std::optional<message::Message> replyTo(const message::Message& request,
                                        const message::MethodCatalog& methods, CallOutput output,
                                        const std::string& error, bool partial) {
  const auto method = methods.find(request.method);
  if (request.isReply || !method || method->replyMethod ||
      method->kind == message::Kind::EventACK || method->kind == message::Kind::EventNACK) {
    return std::nullopt;
  }
  message::Message r;
  r.toNode = request.fromNode;
  r.method = !request.replyMethod.empty() ? request.replyMethod
                                          : std::string(message::methods::defaultReplyTo(request.method));
  r.data = {std::move(output.text)};
  if (!partial) r.result = std::move(output.result);
  r.ackTimeout = request.replyAckTimeout;
  r.retries = request.replyRetries;
  r.directory = request.directory;
  r.replyOpts = request.replyOpts;
  r.fileName = request.fileName.empty() ? request.method + ".log" : request.fileName;
  r.isReply = true;
  r.requestId = request.id;
  r.requestMethod = request.method;
  r.requestError = error;
  r.partial = partial;
  return r;
}

// Each round removes at least the overflow (escaping only makes the encoding larger than the raw
// bytes), so a few rounds always suffice.
std::string encodeFitting(message::Message& m, size_t maxPayload) {
  std::string wire = message::encodeWire(m);
  for (int round = 0; round < 16 && wire.size() > maxPayload && !m.data.empty(); ++round) {
    std::string& out = m.data.front();
    const size_t overflow = wire.size() - maxPayload + 128;
    const size_t keep = out.size() > overflow ? std::min(out.size() - overflow, out.size() / 8 * 7) : 0;
    out.resize(keep);
    out += "\n[steward: output cut to fit the broker's max payload of " + std::to_string(maxPayload) +
           " bytes]\n";
    wire = message::encodeWire(m);
  }
  // Still too large: the output is gone, so the parts beside it are cut too.
  for (auto& [name, value] : m.result) {
    if (wire.size() <= maxPayload) break;
    if (value.size() > 1024) {
      value.resize(1024);
      value += "\n[steward: cut to fit the broker's max payload]\n";
      wire = message::encodeWire(m);
    }
  }
  return wire;
}

}  // namespace steward::process
