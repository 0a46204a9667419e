#include "core/process/ack.hpp"

#include "core/util/json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace steward::process {

std::string encodeAck(const Ack& ack) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("ok");
  w.Bool(ack.accepted);
  if (!ack.error.empty()) {
    w.Key("error");
    w.String(ack.error.c_str(), static_cast<rapidjson::SizeType>(ack.error.size()));
  }
  if (ack.accepted && !ack.also.empty()) {
    w.Key("also");
    w.StartArray();
    for (const uint64_t id : ack.also) w.Uint64(id);
    w.EndArray();
  }
  if (const auto code = codeName(ack.code); !code.empty()) {
    w.Key("code");
    w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<Ack> decodeAck(std::string_view payload) {
  // An answer is one small object; anything longer is not one.
  auto parsed = json::parse(payload, "the answer", {.maxBytes = 64 * 1024});
  if (!parsed) return std::nullopt;
  const rapidjson::Document& doc = parsed.value();
  if (!doc.IsObject() || !doc.HasMember("ok") || !doc["ok"].IsBool()) return std::nullopt;
  Ack ack;
  ack.accepted = doc["ok"].GetBool();
  if (doc.HasMember("error") && doc["error"].IsString()) ack.error = doc["error"].GetString();
  if (doc.HasMember("code") && doc["code"].IsString()) ack.code = codeNamed(doc["code"].GetString());
  if (doc.HasMember("also")) {
    const auto& also = doc["also"];
    if (!ack.accepted || !also.IsArray() || also.Size() > kMaxAckAlso) return std::nullopt;
    for (const auto& id : also.GetArray()) {
      if (!id.IsUint64()) return std::nullopt;
      ack.also.push_back(id.GetUint64());
    }
  }
  if (!ack.accepted && ack.error.empty()) ack.error = "refused by receiver";
  return ack;
}

}  // namespace steward::process
