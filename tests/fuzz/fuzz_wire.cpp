// libFuzzer target: what arrives from the broker (the seal's line — a relay's around the origin's,
// for a carried message — then decodeWire). A message it
// accepts must encode and decode again to the same message: anything else is a bug that could
// change what runs.
#include "core/message/codec.hpp"
#include "core/security/envelope.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  if (auto sealed = steward::security::open(payload)) {
    payload = sealed->wire;
    if (steward::security::wrapsSealed(*sealed)) {
      auto origin = steward::security::open(sealed->wire);
      if (!origin) return 0;
      payload = origin->wire;
    }
  }
  auto m = steward::message::decodeWire(payload);
  if (!m) return 0;
  const std::string again = steward::message::encodeWire(*m);
  auto back = steward::message::decodeWire(again);
  if (!back || steward::message::encodeWire(*back) != again) std::abort();
  return 0;
}
