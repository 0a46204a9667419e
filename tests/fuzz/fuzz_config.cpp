// libFuzzer target: the config file (toml++ and the settings table behind it).
#include "core/config/config.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)steward::config::parseConfigText(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  return 0;
}
