// The audit log: one JSON line per event in a message's life, in <databaseFolder>/audit.log,
// rotated by size into <databaseFolder>/audit/ (Boost.Log text file sink with a file collector).
//
//   {"time":"2026-11-24T21:30:05.123Z","event":"sent","id":7,"fromNode":"central",
//    "toNode":"ship1","method":"REQCliCommand","attempt":1}
//
// Events: accepted, sent, retried, acked, refused, given up, expired, received, duplicate,
// executed, replied, interrupted; on a relay (process/relay.hpp), carried (taken and held for
// another node), forwarded (ACKed by it), refused and given up.
#pragma once

#include "core/message/message.hpp"

#include <filesystem>
#include <functional>
#include <string_view>

namespace steward::observe {

struct AuditSettings {
  std::filesystem::path folder;
  uintmax_t rotationBytes = 16 * 1024 * 1024;
  unsigned keepFiles = 10;
};

class Audit {
 public:
  // Adds the audit sink to Boost.Log. Only one Audit may live at a time.
  explicit Audit(const AuditSettings& settings);
  ~Audit();
  Audit(const Audit&) = delete;
  Audit& operator=(const Audit&) = delete;

  // Also tells `listener` of every event (metrics count them). Set before events flow.
  void setListener(std::function<void(std::string_view event, const message::Message&)> listener) {
    listener_ = std::move(listener);
  }

  // Thread-safe. `attempt` and `detail` are written when set.
  void record(std::string_view event, const message::Message& m, int attempt = 0,
              std::string_view detail = {}) const;

 private:
  std::function<void(std::string_view event, const message::Message&)> listener_;
};

}  // namespace steward::observe
