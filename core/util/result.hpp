// Errors cross module boundaries as values: Result<T> holds a T or an Error with a message that
// says what went wrong and where.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace steward {

// What kind of failure an Error is, for callers, tools and tests to act on; the message says it
// to people. Grouped by the layer that finds it. `unspecified` where nothing acts on the kind.
enum class Code : uint16_t {
  unspecified = 0,
  // Bounds on anything from outside (util/json, the inputs).
  tooLarge,
  tooDeep,
  malformed,
  timedOut,
  busy,
  // Messages (message/codec).
  badField,
  unknownField,
  unknownMethod,
  // Seals and permissions (security, the subscriber).
  unsignedMessage,
  forged,
  unknownKey,
  revokedKey,
  stale,
  replayed,
  notAllowed,
  wrongReceiver,
  // Delivery and runs (the process layer): what became of a message sent, as steward-ctl's exit
  // status tells it.
  methodFailed,  // it ran on the receiving node and failed
  refused,       // the receiving node refused it without saying which kind of refusal
  undelivered,   // given up or expired without an ACK: it never reached the node
  removed,       // an operator removed it from the queue before it was delivered
  // Below the messages: the store, the broker, the plugin folder.
  storage,
  broker,
  pluginRefused,
};

// The last code, for loops over them all.
inline constexpr Code kLastCode = Code::pluginRefused;

// The code's name as it appears in answers ("tooDeep"); "" for unspecified.
constexpr std::string_view codeName(Code code) {
  switch (code) {
    case Code::unspecified: return "";
    case Code::tooLarge: return "tooLarge";
    case Code::tooDeep: return "tooDeep";
    case Code::malformed: return "malformed";
    case Code::timedOut: return "timedOut";
    case Code::busy: return "busy";
    case Code::badField: return "badField";
    case Code::unknownField: return "unknownField";
    case Code::unknownMethod: return "unknownMethod";
    case Code::unsignedMessage: return "unsigned";
    case Code::forged: return "forged";
    case Code::unknownKey: return "unknownKey";
    case Code::revokedKey: return "revokedKey";
    case Code::stale: return "stale";
    case Code::replayed: return "replayed";
    case Code::notAllowed: return "notAllowed";
    case Code::wrongReceiver: return "wrongReceiver";
    case Code::methodFailed: return "methodFailed";
    case Code::refused: return "refused";
    case Code::undelivered: return "undelivered";
    case Code::removed: return "removed";
    case Code::storage: return "storage";
    case Code::broker: return "broker";
    case Code::pluginRefused: return "pluginRefused";
  }
  return "";
}

// What a failed answer's code says became of the message: "failed" (it ran on the node and
// failed, or the code does not say), "undelivered" (it never reached the node: given up, expired,
// removed, or the broker would not take it) or "refused" (the node would not run it).
constexpr std::string_view failureState(Code code) {
  switch (code) {
    case Code::unspecified:
    case Code::methodFailed: return "failed";
    case Code::undelivered:
    case Code::removed:
    case Code::broker: return "undelivered";
    default: return "refused";
  }
}

// The code named `name`; unspecified for a name it does not know.
constexpr Code codeNamed(std::string_view name) {
  for (uint16_t i = 1; i <= static_cast<uint16_t>(kLastCode); ++i) {
    if (codeName(static_cast<Code>(i)) == name) return static_cast<Code>(i);
  }
  return Code::unspecified;
}

struct Error {
  std::string message;
  Code code = Code::unspecified;
};

// `error` with `prefix` before its message; the code stays.
inline Error within(const std::string& prefix, const Error& error) {
  return Error{prefix + error.message, error.code};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation that returns nothing but may fail.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : failed_(true), error_(std::move(error)) {}
  static Status success() { return Status{}; }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  bool failed_ = false;
  Error error_;
};

}  // namespace steward
