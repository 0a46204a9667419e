#include "core/input/fleet_view.hpp"

#include "core/util/files.hpp"

#include "core/util/json.hpp"
#include "core/util/log.hpp"
#include "core/util/targets.hpp"

#include <sodium.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace steward::input {

// The page, its script and its style (fleet_view_page.cpp).
extern const char* const kFleetViewPage;
extern const char* const kFleetViewScript;
extern const char* const kFleetViewStyle;

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr size_t kMaxRunBody = 16 * 1024;
constexpr size_t kMaxCommand = 4096;
constexpr size_t kErrorLines = 50;
constexpr size_t kErrorTailBytes = 64 * 1024;

net::HttpResponse json(unsigned status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.contentType = "application/json";
  r.body = std::move(body);
  r.headers = {{"Cache-Control", "no-store"}};
  return r;
}

net::HttpResponse jsonError(unsigned status, const std::string& error) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("error");
  w.String(error.c_str(), static_cast<rapidjson::SizeType>(error.size()));
  w.EndObject();
  return json(status, std::string(buffer.GetString(), buffer.GetSize()));
}

net::HttpResponse asset(const char* type, const char* body) {
  net::HttpResponse r;
  r.contentType = type;
  r.body = body;
  r.headers = {{"Content-Security-Policy",
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-store"}};
  return r;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The last lines of a file, read from at most its last kErrorTailBytes.
std::vector<std::string> lastLines(const fs::path& file, size_t count) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(kErrorTailBytes));
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (from > 0) text.erase(0, text.find('\n') + 1);  // a line cut in half
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty()) lines.push_back(std::move(line));
  }
  if (lines.size() > count) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(count));
  return lines;
}

// The string member `key` of `v`; "" when it has none.
std::string textMember(const rapidjson::Value& v, const char* key) {
  if (!v.HasMember(key) || !v[key].IsString()) return {};
  return std::string(v[key].GetString(), v[key].GetStringLength());
}

}  // namespace

Status checkLoopback(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return Error{"fleetViewListener: \"" + address + "\" is not host:port"};
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return {};
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(host, ec);
  if (ec || !ip.is_loopback()) {
    return Error{"fleetViewListener: the fleet view serves on a loopback address only (127.0.0.1, "
                 "[::1]), not \"" + host + "\"; reach it from elsewhere through an SSH tunnel or a "
                 "TLS proxy"};
  }
  return {};
}

Result<std::string> fleetViewToken(const fs::path& file) {
  std::error_code ec;
  if (fs::exists(file, ec)) {
    std::ifstream in(file);
    std::string token;
    std::getline(in, token);
    token = trimmed(token);
    if (token.size() < 16) return Error{"fleet view token in " + file.string() + " is shorter than 16 characters"};
    return token;
  }
  if (sodium_init() < 0) return Error{"libsodium cannot start"};
  unsigned char bytes[24];
  randombytes_buf(bytes, sizeof bytes);
  char hex[sizeof bytes * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  fs::create_directories(file.parent_path(), ec);
  if (auto s = files::writeNew(file, std::string(hex) + "\n", 0600); !s) return s.error();
  return std::string(hex);
}

FleetView::FleetView(boost::asio::io_context& io, FleetViewSettings settings, FleetViewSource source)
    : settings_(std::move(settings)),
      source_(std::move(source)),
      server_(io, "fleetViewListener", {.maxConnections = 64, .maxInputBytes = kMaxRunBody}) {}

FleetView::~FleetView() { stop(); }

Status FleetView::start() {
  if (auto s = checkLoopback(settings_.address); !s) return s;
  if (settings_.token.size() < 16) return Error{"fleet view: a token of at least 16 characters is needed"};
  return server_.start(settings_.address, [this](const net::HttpRequest& r) { return handle(r); });
}

void FleetView::stop() { server_.stop(); }

bool FleetView::authorized(const net::HttpRequest& request) const {
  const std::string expected = "Bearer " + settings_.token;
  return request.authorization.size() == expected.size() &&
         sodium_memcmp(request.authorization.data(), expected.data(), expected.size()) == 0;
}

net::HttpResponse FleetView::handle(const net::HttpRequest& request) {
  // Only the loopback names of this very listener: a page of another site whose name was made to
  // point here (DNS rebinding) sends its own name as Host.
  const std::string port = std::to_string(server_.port());
  if (request.host != "127.0.0.1:" + port && request.host != "localhost:" + port &&
      request.host != "[::1]:" + port) {
    return net::HttpResponse::text(403, "403 the fleet view answers to 127.0.0.1:" + port + " only\n");
  }
  if (request.path == "/" || request.path == "/index.html") {
    if (request.method != "GET") return net::HttpResponse::text(405, "405 GET only\n");
    return asset("text/html; charset=utf-8", kFleetViewPage);
  }
  if (request.path == "/app.js") return asset("text/javascript; charset=utf-8", kFleetViewScript);
  if (request.path == "/app.css") return asset("text/css; charset=utf-8", kFleetViewStyle);
  if (request.path.rfind("/api/", 0) != 0) return net::HttpResponse::text(404, "404 not found\n");
  if (!authorized(request)) return jsonError(401, "the fleet view needs its token (Authorization: Bearer …)");
  if (request.path == "/api/fleet" && request.method == "GET") return fleet();
  if (request.path == "/api/run" && request.method == "POST") return startRun(request.body);
  if (request.path.rfind("/api/run/", 0) == 0 && request.method == "GET") {
    const std::string id = request.path.substr(9);
    uint64_t run = 0;
    const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), run);
    if (ec != std::errc() || end != id.data() + id.size()) return jsonError(404, "no run " + id);
    return runStatus(run);
  }
  return jsonError(404, "no " + request.method + " " + request.path);
}

net::HttpResponse FleetView::fleet() {
  auto nodes = source_.operate(R"({"opCmd":"nodes"})");
  if (!nodes) return jsonError(500, nodes.error().message);
  auto queue = source_.operate(R"({"opCmd":"listQueue","opArg":{"queue":"outbox"}})");
  if (!queue) return jsonError(500, queue.error().message);
  // The operations answer as people read them; the page gets them compact.
  auto nodesDoc = json::parse(nodes.value(), "the node list");
  if (!nodesDoc) return jsonError(500, nodesDoc.error().message);
  auto queueDoc = json::parse(queue.value(), "the queue");
  if (!queueDoc) return jsonError(500, queueDoc.error().message);
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("nodes");
  nodesDoc->Accept(w);
  w.Key("queue");
  queueDoc->Accept(w);
  w.Key("errors");
  w.StartArray();
  for (const auto& line : lastLines(source_.errorLog, kErrorLines)) {
    w.String(line.c_str(), static_cast<rapidjson::SizeType>(line.size()));
  }
  w.EndArray();
  w.EndObject();
  return json(200, std::string(buffer.GetString(), buffer.GetSize()));
}

net::HttpResponse FleetView::startRun(const std::string& body) {
  auto parsed = json::parse(body, "the run", {.maxBytes = kMaxRunBody, .maxDepth = 2});
  if (!parsed) return jsonError(400, parsed.error().message);
  const rapidjson::Value& d = parsed.value();
  if (!d.IsObject()) return jsonError(400, "a run is {\"target\":…,\"where\":…,\"command\":…}");
  const std::string targetText = textMember(d, "target");
  const std::string whereText = textMember(d, "where");
  const std::string command = textMember(d, "command");
  if (command.empty() || command.size() > kMaxCommand) {
    return jsonError(400, "the command is 1 to " + std::to_string(kMaxCommand) + " bytes");
  }
  targets::Target target;
  target.names = targets::splitNames(targetText);
  target.all = targetText == "*";
  if (target.all) target.names.clear();
  std::istringstream words(whereText);
  for (std::string word; words >> word;) {
    auto match = targets::parseFactMatch(word);
    if (!match) return jsonError(400, match.error().message);
    target.where.push_back(std::move(match).value());
  }
  if (target.names.empty() && !target.all && target.where.empty()) {
    return jsonError(400, "give a target: names, patterns (ship*), * for every node, or facts");
  }
  auto fleetList = source_.operate(R"({"opCmd":"nodes"})");
  if (!fleetList) return jsonError(500, fleetList.error().message);
  auto nodes = targets::resolve(target, fleetList.value());
  if (!nodes) return jsonError(400, nodes.error().message);

  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartArray();
  w.StartObject();
  w.Key("toNodes");
  w.StartArray();
  for (const auto& n : nodes.value()) w.String(n.c_str(), static_cast<rapidjson::SizeType>(n.size()));
  w.EndArray();
  w.Key("method");
  w.String("REQCliCommand");
  w.Key("data");
  w.StartArray();
  w.String("sh");
  w.String("-c");
  w.String(command.c_str(), static_cast<rapidjson::SizeType>(command.size()));
  w.EndArray();
  w.Key("methodTimeout");
  w.Int64(settings_.methodTimeoutSeconds);
  w.Key("directory");
  w.String("fleet-view");
  w.Key("fileName");
  w.String("run.log");
  w.EndObject();
  w.EndArray();

  uint64_t run = 0;
  std::shared_ptr<process::ReplyWatcher> watcher;
  {
    std::lock_guard lock(mutex_);
    run = nextRun_++;
    Run& r = runs_[run];
    for (const auto& n : nodes.value()) r.nodes[n];
    watcher = std::make_shared<process::ReplyWatcher>(
        [this, run](const process::ReplyNotice& n) { notice(run, n); });
    watchers_[run] = watcher;
    while (runs_.size() > settings_.keptRuns) {
      watchers_.erase(runs_.begin()->first);
      runs_.erase(runs_.begin());
    }
  }
  auto ids = source_.submit(std::string_view(buffer.GetString(), buffer.GetSize()), watcher);
  if (!ids) {
    std::lock_guard lock(mutex_);
    runs_.erase(run);
    watchers_.erase(run);
    return jsonError(400, ids.error().message);
  }
  STEWARD_LOG(info) << "fleet view: run " << run << " of \"" << command << "\" on " << nodes->size() << " node(s)";
  rapidjson::StringBuffer answer;
  Writer a(answer);
  a.StartObject();
  a.Key("run");
  a.Uint64(run);
  a.Key("nodes");
  a.StartArray();
  for (const auto& n : nodes.value()) a.String(n.c_str(), static_cast<rapidjson::SizeType>(n.size()));
  a.EndArray();
  a.EndObject();
  return json(202, std::string(answer.GetString(), answer.GetSize()));
}

void FleetView::notice(uint64_t run, const process::ReplyNotice& n) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  NodeResult& result = it->second.nodes[n.node];
  if (!n.state.empty() && !n.final) {
    if (result.state == "waiting") result.state = n.state;
    result.note = n.note;
    return;
  }
  for (const auto& d : n.data) {
    const size_t room = settings_.maxOutputBytes > result.output.size() ? settings_.maxOutputBytes - result.output.size() : 0;
    result.output.append(d, 0, room);
  }
  if (!n.final) return;
  if (auto e = n.result.find("stderr"); e != n.result.end()) result.stderrText = e->second.substr(0, settings_.maxOutputBytes);
  result.error = n.error;
  result.state = n.error.empty() ? "ok" : std::string(failureState(n.code));
}

net::HttpResponse FleetView::runStatus(uint64_t run) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run);
  if (it == runs_.end()) return jsonError(404, "no run " + std::to_string(run) + " (only the last runs are kept)");
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("run");
  w.Uint64(run);
  w.Key("nodes");
  w.StartObject();
  for (const auto& [node, r] : it->second.nodes) {
    w.Key(node.c_str(), static_cast<rapidjson::SizeType>(node.size()));
    w.StartObject();
    str("state", r.state);
    str("output", r.output);
    str("stderr", r.stderrText);
    str("error", r.error);
    str("note", r.note);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return json(200, std::string(buffer.GetString(), buffer.GetSize()));
}

}  // namespace steward::input
