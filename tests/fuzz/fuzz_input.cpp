// libFuzzer target: operator input (the socket, TCP and HTTP inputs all go through the framer,
// decodeInput and validate). Whatever the bytes, it must return a value or an error, never crash,
// hang or leak; and the framer must find the same end however the bytes were split into reads.
#include "core/message/codec.hpp"
#include "core/util/json.hpp"

#include <cstddef>
#include <cstdint>

namespace {

class Catalog : public steward::message::MethodCatalog {
 public:
  std::optional<steward::message::MethodInfo> find(std::string_view method) const override {
    using steward::message::Kind;
    if (method == "REQCliCommand") return steward::message::MethodInfo{"REQCliCommand", Kind::CommandACK, true, false, "cli"};
    if (method == "REQnCliCommand") return steward::message::MethodInfo{"REQnCliCommand", Kind::CommandACK, false, false, "cli"};
    if (method == "REQToFileAppend") return steward::message::MethodInfo{"REQToFileAppend", Kind::CommandACK, true, true, "file"};
    if (method == "REQHello") return steward::message::MethodInfo{"REQHello", Kind::EventNACK, true, false, "hello"};
    if (method == "REQWorkflow") return steward::message::MethodInfo{"REQWorkflow", Kind::CommandACK, true, false, "steward"};
    return std::nullopt;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Catalog catalog;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  steward::json::Framer whole;
  const auto once = whole.feed(text);
  steward::json::Framer split;
  const size_t cut = size == 0 ? 0 : data[0] % size;
  (void)split.feed(text.substr(0, cut));
  if (split.feed(text) != once || split.scanned() != whole.scanned()) std::abort();
  auto batch = steward::message::decodeInput(text);
  if (batch) {
    for (const auto& m : *batch) (void)steward::message::validate(m, catalog);
  }
  return 0;
}
