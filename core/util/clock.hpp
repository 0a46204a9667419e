// Small time helpers shared across the daemon.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

namespace steward {

// Milliseconds since the Unix epoch, the unit of createdUnixMs and lifetimes.
inline int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Polls `done` every `step` until it holds or `limit` passes; returns its last value. For waits
// on other threads' progress where no event is at hand (draining handler calls).
template <class Done>
bool pollUntil(Done done, std::chrono::milliseconds limit,
               std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(step);
  return done();
}

}  // namespace steward
