// libFuzzer target: what arrives from the broker (decodeWire). A message it accepts must encode
// and decode again to the same message: anything else is a bug that could change what runs.
#include "core/message/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = steward::message::decodeWire(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!m) return 0;
  const std::string again = steward::message::encodeWire(*m);
  auto back = steward::message::decodeWire(again);
  if (!back || steward::message::encodeWire(*back) != again) std::abort();
  return 0;
}
