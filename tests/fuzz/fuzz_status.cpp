// libFuzzer target: the status a hello carries (process/facts.hpp), which central keeps for every
// node. A status it accepts must encode and decode again to the same status.
#include "core/process/facts.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto status = steward::process::decodeStatus(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!status) return 0;
  const std::string again = steward::process::encodeStatus(*status);
  auto back = steward::process::decodeStatus(again);
  if (!back || steward::process::encodeStatus(*back) != again) std::abort();
  return 0;
}
