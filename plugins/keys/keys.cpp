// REQKeysUpdate: central's signed set of trusted keys, data = [set JSON, signature]. The node
// checks central's signature and the version and keeps it (the host's keysUpdate operation);
// the reply says which version it now holds.
#include <steward/plugin.hpp>

#include <string>

namespace {

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

class KeysUpdate {
 public:
  KeysUpdate(steward::sdk::Host, std::string_view) {}

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call& call) {
    const auto data = req.data();
    if (data.size() != 2) {
      return steward::sdk::Status::error("REQKeysUpdate needs data [set, signature]");
    }
    // Set and signature are JSON and base64 from central; quoted() keeps any other text inert.
    const std::string op = "{\"opCmd\":\"keysUpdate\",\"opArg\":{\"set\":" + quoted(data[0]) +
                           ",\"signature\":" + quoted(data[1]) + "}}";
    if (!call.nodeOperation(op)) return steward::sdk::Status::failed();
    return steward::sdk::Status::ok();
  }
};

}  // namespace

STEWARD_PLUGIN(KeysUpdate, "keys", "1.0.0", steward::sdk::command("REQKeysUpdate"))
