// REQPing and REQPong, as in steward: a ping is recorded on the node that receives it, which
// answers with a pong; the pong is recorded on the node that sent the ping.
//   ping: appends "<time> ping received from <sender>" to <data>/<directory>/<sender>/<fileName>
//         and replies "pong from <node>" (REQPong unless the message names another replyMethod)
//   pong: appends "<time> pong received from <node>" to the same place on the pinging node
#include <steward/plugin.hpp>
#include <steward/util.hpp>

namespace {

class Ping {
 public:
  Ping(steward::sdk::Host, std::string_view method) : pong_(method == "REQPong") {}

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call& call) {
    const std::string line = steward::sdk::utcTimestamp() + (pong_ ? " pong" : " ping") +
                             " received from " + std::string(req.fromNode()) + "\n";
    if (auto s = steward::sdk::writeFileBeneath(std::string(req.dataFolder()), std::string(req.outputPath()), line,
                                                 steward::sdk::WriteMode::append); !s.isOk()) {
      return s;
    }
    if (!pong_) call.output("pong from " + std::string(req.nodeName()) + "\n");
    return steward::sdk::Status::ok();
  }

 private:
  bool pong_;
};

}  // namespace

STEWARD_PLUGIN(Ping, "ping", "1.0.0", steward::sdk::command("REQPing"),
               steward::sdk::replyMethod("REQPong"))
