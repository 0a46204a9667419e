#include "core/input/operator_input.hpp"

#include "core/util/json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <mutex>
#include <optional>

namespace steward::input {

namespace {

struct FollowRequest {
  std::string messages;  // the array, as JSON text
  bool follow = false;
  int64_t timeoutSeconds = 300;
};

// nullopt: the input is not the object form (it goes to submit as it is).
std::optional<Result<FollowRequest>> parseFollow(std::string_view input) {
  // Only the object form is taken here; a malformed or too deep input goes on to submit, which
  // names what is wrong with it.
  const size_t first = input.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || input[first] != '{') return std::nullopt;
  auto parsed = json::parse(input, "input");
  if (!parsed || !parsed->IsObject()) return std::nullopt;
  const rapidjson::Document& doc = parsed.value();
  FollowRequest request;
  for (const auto& member : doc.GetObject()) {
    const std::string_view key(member.name.GetString(), member.name.GetStringLength());
    const auto& v = member.value;
    if (key == "messages") {
      if (!v.IsArray()) return Error{"\"messages\" must be an array of messages"};
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
      v.Accept(w);
      request.messages.assign(buffer.GetString(), buffer.GetSize());
    } else if (key == "follow") {
      if (!v.IsBool()) return Error{"\"follow\" must be true or false"};
      request.follow = v.GetBool();
    } else if (key == "timeoutSeconds") {
      if (!v.IsInt64() || v.GetInt64() < 1 || v.GetInt64() > kMaxFollowSeconds) {
        return Error{"\"timeoutSeconds\" must be a whole number from 1 to " +
                     std::to_string(kMaxFollowSeconds)};
      }
      request.timeoutSeconds = v.GetInt64();
    } else {
      return Error{"unknown key \"" + std::string(key) +
                   "\": the object form takes messages, follow and timeoutSeconds"};
    }
  }
  if (request.messages.empty()) return Error{"the object form needs \"messages\": [ … ]"};
  return request;
}

// The lines of one followed input. The watcher may fire (from handler threads) before the ids
// line is written; those lines wait, so the ids line always comes first.
class Follow {
 public:
  explicit Follow(std::weak_ptr<AnswerStream> out) : out_(std::move(out)) {}

  void notice(const process::ReplyNotice& n) {
    std::lock_guard lock(mutex_);
    if (n.final) ++finals_;
    emit(replyLine(n));
  }

  void accepted(size_t count, std::string idsLine) {
    std::lock_guard lock(mutex_);
    expected_ = count;
    if (auto out = out_.lock()) {
      out->line(std::move(idsLine));
      for (auto& l : early_) out->line(std::move(l));
    }
    early_.clear();
    emit({});
  }

 private:
  void emit(std::string line) {
    if (!expected_) {
      if (!line.empty()) early_.push_back(std::move(line));
      return;
    }
    auto out = out_.lock();
    if (!out) return;
    if (!line.empty()) out->line(std::move(line));
    if (finals_ >= *expected_ && !done_) {
      done_ = true;
      out->line(R"({"done":true})");
      out->end();
    }
  }

  std::mutex mutex_;
  std::weak_ptr<AnswerStream> out_;
  std::optional<size_t> expected_;
  size_t finals_ = 0;
  std::vector<std::string> early_;
  bool done_ = false;
};

}  // namespace

std::string replyLine(const process::ReplyNotice& n) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("requestId");
  w.Uint64(n.requestId);
  str("node", n.node);
  str("method", n.method);
  w.Key("data");
  w.StartArray();
  for (const auto& d : n.data) w.String(d.c_str(), static_cast<rapidjson::SizeType>(d.size()));
  w.EndArray();
  str("error", n.error);
  if (!n.result.empty()) {
    w.Key("result");
    json::writeStrings(w, n.result);
  }
  if (n.run != 0) {
    w.Key("run");
    w.Uint64(n.run);
  }
  w.Key("final");
  w.Bool(n.final);
  if (const auto code = codeName(n.code); !code.empty()) {
    w.Key("code");
    w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  }
  if (!n.state.empty()) {
    str("state", n.state);
    str("note", n.note);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

ServeFn operatorInput(WatchedSubmitFn submit) {
  return [submit = std::move(submit)](std::string_view input, std::shared_ptr<AnswerStream> out) {
    auto parsed = parseFollow(input);
    if (!parsed || !parsed->ok() || !parsed->value().follow) {
      Result<std::vector<uint64_t>> result =
          !parsed              ? submit(input, nullptr)
          : !parsed->ok()      ? Result<std::vector<uint64_t>>(parsed->error())
                               : submit(parsed->value().messages, nullptr);
      out->line(answerLine(result));
      out->end();
      return;
    }
    const FollowRequest& request = parsed->value();
    auto follow = std::make_shared<Follow>(out);
    auto watcher = std::make_shared<process::ReplyWatcher>(
        [follow](const process::ReplyNotice& n) { follow->notice(n); });
    // The connection owns the watch: when it closes (done, timed out, client gone) the node
    // forgets the ids.
    out->keepOpen(watcher, std::chrono::seconds(request.timeoutSeconds));
    auto result = submit(request.messages, watcher);
    if (!result) {
      out->line(answerLine(result));
      out->end();
      return;
    }
    follow->accepted(result->size(), answerLine(result));
  };
}

}  // namespace steward::input
