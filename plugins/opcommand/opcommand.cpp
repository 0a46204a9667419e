// REQOpCommand: operations on the receiving node itself, as in the spec:
//   {"opCmd":"ps"}                               the node's processes and plugins
//   {"opCmd":"listQueue","opArg":{"queue":"outbox"}}   messages waiting in the outbox/inbox
//   {"opCmd":"removeQueued","opArg":{"ids":[12]}}      drop waiting messages (see README)
// The node carries them out through the host's node_operation; the result is the reply.
#include <steward/plugin.hpp>

namespace {

class OpCommand {
 public:
  OpCommand(steward::sdk::Host, std::string_view) {}

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call& call) {
    if (req.operationJson().empty()) {
      return steward::sdk::Status::error("REQOpCommand needs an \"operation\" object with opCmd");
    }
    if (!call.nodeOperation(std::string(req.operationJson()))) return steward::sdk::Status::failed();
    return steward::sdk::Status::ok();
  }
};

}  // namespace

STEWARD_PLUGIN(OpCommand, "opcommand", "1.0.0", steward::sdk::command("REQOpCommand"))
