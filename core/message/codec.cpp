#include "core/message/codec.hpp"

#include "core/message/methods.hpp"
#include "core/message/paths.hpp"
#include "core/message/workflow.hpp"
#include "core/util/json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <functional>

namespace steward::message {
namespace {

using rapidjson::Value;

enum class Source { input, wire };

Status fieldError(std::string_view field, const std::string& what, Code code = Code::badField) {
  return Error{"field \"" + std::string(field) + "\": " + what, code};
}

Status readString(std::string_view field, const Value& v, std::string& out, size_t maxLength) {
  if (!v.IsString()) return fieldError(field, "must be a string");
  if (v.GetStringLength() > maxLength) {
    return fieldError(field, "is longer than " + std::to_string(maxLength) + " characters");
  }
  out.assign(v.GetString(), v.GetStringLength());
  if (out.find('\0') != std::string::npos) return fieldError(field, "must not contain NUL");
  return {};
}

Status readStrings(std::string_view field, const Value& v, std::vector<std::string>& out,
                   size_t maxItems, size_t maxItemLength) {
  if (!v.IsArray()) return fieldError(field, "must be an array of strings");
  if (v.Size() > maxItems) {
    return fieldError(field, "has more than " + std::to_string(maxItems) + " elements");
  }
  out.clear();
  out.reserve(v.Size());
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    if (!v[i].IsString()) {
      return fieldError(field, "element " + std::to_string(i) + " must be a string");
    }
    if (v[i].GetStringLength() > maxItemLength) {
      return fieldError(field, "element " + std::to_string(i) + " is too long");
    }
    out.emplace_back(v[i].GetString(), v[i].GetStringLength());
  }
  return {};
}

Status readSeconds(std::string_view field, const Value& v, std::optional<int64_t>& out,
                   int64_t max) {
  if (v.IsNull()) {
    out.reset();
    return {};
  }
  if (!v.IsInt64()) return fieldError(field, "must be a non-negative integer");
  const int64_t n = v.GetInt64();
  if (n < 0) return fieldError(field, "must not be negative, got " + std::to_string(n));
  if (n > max) return fieldError(field, "must be at most " + std::to_string(max));
  out = n;
  return {};
}

Status readUint(std::string_view field, const Value& v, uint64_t& out) {
  if (!v.IsUint64()) return fieldError(field, "must be a non-negative integer");
  out = v.GetUint64();
  return {};
}

struct Field {
  const char* name;
  bool internal;  // set by nodes; refused in operator input
  std::function<Status(Message&, const Value&, const Limits&)> read;
};

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      {"toNode", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readString("toNode", v, m.toNode, l.maxNodeNameLength);
       }},
      {"toNodes", false,
       [](Message& m, const Value& v, const Limits& l) {
         if (v.IsNull()) return Status{};
         return readStrings("toNodes", v, m.toNodes, l.maxToNodes, l.maxNodeNameLength);
       }},
      {"data", false,
       [](Message& m, const Value& v, const Limits& l) {
         if (v.IsNull()) return Status{};
         return readStrings("data", v, m.data, l.maxDataItems, l.maxMessageBytes);
       }},
      {"method", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readString("method", v, m.method, l.maxNameLength);
       }},
      {"replyMethod", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readString("replyMethod", v, m.replyMethod, l.maxNameLength);
       }},
      {"ACKTimeout", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readSeconds("ACKTimeout", v, m.ackTimeout, l.maxTimeoutSeconds);
       }},
      {"retries", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readSeconds("retries", v, m.retries, l.maxRetries);
       }},
      {"replyACKTimeout", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readSeconds("replyACKTimeout", v, m.replyAckTimeout, l.maxTimeoutSeconds);
       }},
      {"replyRetries", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readSeconds("replyRetries", v, m.replyRetries, l.maxRetries);
       }},
      {"methodTimeout", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readSeconds("methodTimeout", v, m.methodTimeout, l.maxTimeoutSeconds);
       }},
      {"lifetime", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readSeconds("lifetime", v, m.lifetime, l.maxLifetimeSeconds);
       }},
      {"repeat", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readSeconds("repeat", v, m.repeat, l.maxRepeat);
       }},
      {"repeatInterval", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readSeconds("repeatInterval", v, m.repeatInterval, l.maxTimeoutSeconds);
       }},
      {"schedule", false,
       [](Message& m, const Value& v, const Limits& l) -> Status {
         // The successor's form: [interval, total seconds]; total 0: until cancelled.
         if (v.IsNull()) return {};
         if (!v.IsArray() || v.Size() != 2 || !v[0].IsInt64() || !v[1].IsInt64()) {
           return fieldError("schedule", "must be [interval seconds, total seconds]");
         }
         const int64_t interval = v[0].GetInt64();
         const int64_t total = v[1].GetInt64();
         if (interval < 1 || interval > l.maxTimeoutSeconds) {
           return fieldError("schedule", "interval must be 1 to " + std::to_string(l.maxTimeoutSeconds) + " seconds");
         }
         if (total < 0 || total > l.maxLifetimeSeconds) {
           return fieldError("schedule", "total must be 0 to " + std::to_string(l.maxLifetimeSeconds) + " seconds");
         }
         m.repeatInterval = interval;
         m.repeat = total == 0 ? 0 : std::max<int64_t>(1, total / interval);
         return {};
       }},
      {"directory", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readString("directory", v, m.directory, l.maxDirectoryLength);
       }},
      {"fileName", false,
       [](Message& m, const Value& v, const Limits& l) {
         return readString("fileName", v, m.fileName, l.maxNameLength);
       }},
      {"operation", false,
       [](Message& m, const Value& v, const Limits&) {
         if (v.IsNull()) return Status{};
         if (!v.IsObject()) return fieldError("operation", "must be an object");
         m.operation = json::compact(v);
         return Status{};
       }},
      {"workflow", false,
       [](Message& m, const Value& v, const Limits&) {
         if (v.IsNull()) return Status{};
         if (!v.IsObject()) return fieldError("workflow", "must be an object with its steps");
         m.workflow = json::compact(v);
         return Status{};
       }},
      {"replyOpts", false,
       [](Message& m, const Value& v, const Limits&) -> Status {
         if (v.IsNull()) return {};
         if (!v.IsObject()) return fieldError("replyOpts", "must be an object of options for the reply method");
         if (v.MemberCount() > kMaxReplyOptions) {
           return fieldError("replyOpts", "has more than " + std::to_string(kMaxReplyOptions) + " options");
         }
         for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
           const std::string name(it->name.GetString(), it->name.GetStringLength());
           if (!validResultName(name)) return fieldError("replyOpts", "an option's name is 1 to 32 letters, digits or '_'");
           const Value& value = it->value;
           const bool plain = value.IsBool() || value.IsInt64() || (value.IsString() && value.GetStringLength() <= 256);
           if (!plain) {
             return fieldError("replyOpts." + name, "must be a string of at most 256 bytes, an integer or a boolean");
           }
         }
         m.replyOpts = json::compact(v);
         return {};
       }},
      {"id", true, [](Message& m, const Value& v, const Limits&) { return readUint("id", v, m.id); }},
      {"fromNode", true,
       [](Message& m, const Value& v, const Limits& l) {
         return readString("fromNode", v, m.fromNode, l.maxNodeNameLength);
       }},
      {"createdUnixMs", true,
       [](Message& m, const Value& v, const Limits&) {
         if (!v.IsInt64()) return fieldError("createdUnixMs", "must be an integer");
         m.createdUnixMs = v.GetInt64();
         return Status{};
       }},
      {"isReply", true,
       [](Message& m, const Value& v, const Limits&) {
         if (!v.IsBool()) return fieldError("isReply", "must be a boolean");
         m.isReply = v.GetBool();
         return Status{};
       }},
      {"requestId", true,
       [](Message& m, const Value& v, const Limits&) {
         return readUint("requestId", v, m.requestId);
       }},
      {"requestMethod", true,
       [](Message& m, const Value& v, const Limits& l) {
         return readString("requestMethod", v, m.requestMethod, l.maxNameLength);
       }},
      {"requestError", true,
       [](Message& m, const Value& v, const Limits& l) {
         return readString("requestError", v, m.requestError, l.maxMessageBytes);
       }},
      {"result", true,
       [](Message& m, const Value& v, const Limits& l) {
         if (!v.IsObject()) return fieldError("result", "must be an object of strings");
         if (v.MemberCount() > kMaxResultFields) {
           return fieldError("result", "has more than " + std::to_string(kMaxResultFields) + " names");
         }
         m.result.clear();
         for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
           const std::string_view name(it->name.GetString(), it->name.GetStringLength());
           if (!validResultName(name)) return fieldError("result", "a name is 1 to 32 letters, digits or '_'");
           std::string value;
           if (auto s = readString("result." + std::string(name), it->value, value, l.maxMessageBytes); !s) return s;
           m.result[std::string(name)] = std::move(value);
         }
         return Status{};
       }},
      {"partial", true,
       [](Message& m, const Value& v, const Limits&) {
         if (!v.IsBool()) return fieldError("partial", "must be a boolean");
         m.partial = v.GetBool();
         return Status{};
       }},
      {"run", true, [](Message& m, const Value& v, const Limits&) { return readUint("run", v, m.run); }},
      {"runs", true, [](Message& m, const Value& v, const Limits&) { return readUint("runs", v, m.runs); }},
      {"seq", true, [](Message& m, const Value& v, const Limits&) { return readUint("seq", v, m.seq); }},
      {"epoch", true,
       [](Message& m, const Value& v, const Limits&) { return readUint("epoch", v, m.epoch); }},
      {"floor", true,
       [](Message& m, const Value& v, const Limits&) { return readUint("floor", v, m.floor); }},
      {"settledBelow", true,
       [](Message& m, const Value& v, const Limits&) {
         return readUint("settledBelow", v, m.settledBelow);
       }},
  };
  return table;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const Field* findField(std::string_view key) {
  for (const auto& f : fields()) {
    if (key == f.name) return &f;
  }
  for (const auto& f : fields()) {
    if (equalsIgnoreCase(key, f.name)) return &f;
  }
  return nullptr;
}

size_t dataBytes(const Message& m) {
  size_t n = 0;
  for (const auto& d : m.data) n += d.size();
  for (const auto& [name, value] : m.result) n += name.size() + value.size();
  return n;
}

Result<Message> decodeObject(const Value& object, Source source, const Limits& limits) {
  if (!object.IsObject()) return Error{"must be a JSON object"};
  Message m;
  int repeatForms = 0;  // "schedule" says what "repeat" and "repeatInterval" say: one form only
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    const std::string_view key(it->name.GetString(), it->name.GetStringLength());
    const Field* field = findField(key);
    if (field == nullptr) return Error{"unknown field \"" + std::string(key) + "\"", Code::unknownField};
    if (std::string_view(field->name) == "schedule") repeatForms |= 1;
    if (std::string_view(field->name).rfind("repeat", 0) == 0) repeatForms |= 2;
    if (repeatForms == 3) {
      return Error{"field \"schedule\": is given together with repeat or repeatInterval; give one form", Code::badField};
    }
    if (field->internal && source == Source::input) {
      return Error{"field \"" + std::string(key) + "\" is set by the sending node, not by input", Code::badField};
    }
    if (auto s = field->read(m, it->value, limits); !s) return s.error();
  }
  if (dataBytes(m) > limits.maxMessageBytes) {
    return Error{std::string(m.result.empty() ? "field \"data\": holds" : "fields \"data\" and \"result\" hold") +
                 " more than " + std::to_string(limits.maxMessageBytes) + " bytes"};
  }
  return m;
}

}  // namespace

Result<std::vector<Message>> decodeInput(std::string_view json, const Limits& limits) {
  auto doc = json::parse(json, "input", {.maxBytes = limits.maxInputBytes});
  if (!doc) return doc.error();
  const Value& root = doc.value();
  if (!root.IsArray()) return Error{"input must be a JSON array of messages", Code::malformed};
  if (root.Size() > limits.maxBatchMessages) {
    return Error{"input holds more than " + std::to_string(limits.maxBatchMessages) + " messages", Code::tooLarge};
  }
  std::vector<Message> out;
  out.reserve(root.Size());
  for (rapidjson::SizeType i = 0; i < root.Size(); ++i) {
    auto m = decodeObject(root[i], Source::input, limits);
    if (!m) return within("message " + std::to_string(i) + ": ", m.error());
    out.push_back(std::move(m).value());
  }
  return out;
}

namespace {

// The replyOpts of one of steward's own reply methods: only the options it takes, each of its type.
Status checkReplyOpts(const Message& m) {
  if (m.replyOpts.empty()) return {};
  // A reply's method is the reply method; a request names it, or gets the default.
  const std::string_view reply = m.isReply                ? std::string_view(m.method)
                                 : m.replyMethod.empty() ? methods::defaultReplyTo(m.method)
                                                         : std::string_view(m.replyMethod);
  if (!methods::knowsReplyOptions(reply)) return {};
  auto options = json::parse(m.replyOpts, "replyOpts");
  if (!options || !options->IsObject()) return fieldError("replyOpts", "must be an object");
  for (auto it = options->MemberBegin(); it != options->MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    const methods::ReplyOption* known = nullptr;
    std::string takes;
    for (const auto& o : methods::kReplyOptions) {
      if (o.method != reply) continue;
      takes += (takes.empty() ? "" : ", ") + std::string(o.name);
      if (o.name == name) known = &o;
    }
    const std::string field = "replyOpts." + std::string(name);
    if (known == nullptr) {
      return fieldError(field, "is not an option of " + std::string(reply) +
                                   (takes.empty() ? ", which takes none" : ", which takes " + takes));
    }
    const Value& v = it->value;
    if (known->type == methods::ReplyOptionType::flag && !v.IsBool()) return fieldError(field, "must be true or false");
    if (known->type == methods::ReplyOptionType::fileMode) {
      const std::string_view text = v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : "";
      const bool octal = text.size() >= 3 && text.size() <= 4 &&
                         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
      const unsigned long mode = octal ? std::stoul(std::string(text), nullptr, 8) : 0;
      if (!octal || (mode & ~0666UL) != 0 || (mode & 0600UL) != 0600UL) {
        return fieldError(field, "must be a file mode in octal such as \"0640\": the owner reads and writes; no "
                                 "execute, set-id or sticky bits");
      }
    }
  }
  return {};
}

// repeat and repeatInterval come together, the interval at least a second.
Status checkRepeat(const Message& m) {
  if (m.repeat.has_value() != m.repeatInterval.has_value()) {
    return fieldError(m.repeat ? "repeatInterval" : "repeat",
                      "is missing: repeat (runs, 0 until cancelled) and repeatInterval (seconds) come together");
  }
  if (m.repeatInterval && *m.repeatInterval == 0) return fieldError("repeatInterval", "must be at least 1 second");
  return {};
}

}  // namespace

Status validate(const Message& m, const MethodCatalog& methods, const Limits& limits) {
  if (m.method.empty()) return fieldError("method", "is missing");
  const auto method = methods.find(m.method);
  if (!method) return fieldError("method", "unknown method \"" + m.method + "\"", Code::unknownMethod);
  if (!m.replyMethod.empty()) {
    const auto reply = methods.find(m.replyMethod);
    if (!reply) {
      return fieldError("replyMethod", "unknown method \"" + m.replyMethod + "\"", Code::unknownMethod);
    }
    if (!reply->replyMethod) {
      return fieldError("replyMethod", "\"" + m.replyMethod +
                                           "\" is not a reply method (e.g. REQToFileAppend)");
    }
  }
  if (m.toNode.empty() && m.toNodes.empty()) {
    return fieldError("toNode", "is missing, and so is toNodes: a message needs a receiver");
  }
  if (!m.toNode.empty()) {
    if (auto s = checkNodeName(m.toNode, limits); !s) return fieldError("toNode", s.error().message);
  }
  for (size_t i = 0; i < m.toNodes.size(); ++i) {
    if (auto s = checkNodeName(m.toNodes[i], limits); !s) {
      return fieldError("toNodes", "element " + std::to_string(i) + ": " + s.error().message);
    }
  }
  if (auto s = checkDirectory(m.directory); !s) return fieldError("directory", s.error().message);
  if (!m.fileName.empty()) {
    if (auto s = checkFileName(m.fileName); !s) return fieldError("fileName", s.error().message);
  }
  if (m.lifetime && *m.lifetime == 0) {
    return fieldError("lifetime", "must be at least 1 second (leave it out to rely on retries)");
  }
  if (m.ackTimeout && *m.ackTimeout == 0) {
    return fieldError("ACKTimeout", "must be at least 1 second (leave it out for the default)");
  }
  if (auto s = checkRepeat(m); !s) return s;
  if (auto s = checkReplyOpts(m); !s) return s;
  if (m.method == methods::kWorkflow) {
    if (m.workflow.empty()) return fieldError("workflow", "is missing: REQWorkflow runs the steps it lists");
    if (auto w = parseWorkflow(m.workflow, &methods, limits); !w) return fieldError("workflow", w.error().message, w.error().code);
  } else if (!m.workflow.empty()) {
    return fieldError("workflow", "is for REQWorkflow, not " + m.method);
  }
  if (m.repeat && method->replyMethod) {
    return fieldError("repeat", "\"" + m.method + "\" is a reply method; only requests repeat");
  }
  return {};
}

std::string encodeWire(const Message& m) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto optInt = [&](const char* key, const std::optional<int64_t>& value) {
    if (!value) return;
    w.Key(key);
    w.Int64(*value);
  };
  auto nonZero = [&](const char* key, uint64_t value) {
    if (value == 0) return;
    w.Key(key);
    w.Uint64(value);
  };
  w.StartObject();
  w.Key("id");
  w.Uint64(m.id);
  str("fromNode", m.fromNode);
  w.Key("createdUnixMs");
  w.Int64(m.createdUnixMs);
  str("toNode", m.toNode);
  w.Key("data");
  w.StartArray();
  for (const auto& d : m.data) w.String(d.data(), static_cast<rapidjson::SizeType>(d.size()));
  w.EndArray();
  str("method", m.method);
  if (!m.replyMethod.empty()) str("replyMethod", m.replyMethod);
  optInt("ACKTimeout", m.ackTimeout);
  optInt("retries", m.retries);
  optInt("replyACKTimeout", m.replyAckTimeout);
  optInt("replyRetries", m.replyRetries);
  optInt("methodTimeout", m.methodTimeout);
  optInt("lifetime", m.lifetime);
  optInt("repeat", m.repeat);
  optInt("repeatInterval", m.repeatInterval);
  str("directory", m.directory);
  str("fileName", m.fileName);
  if (!m.operation.empty()) {
    w.Key("operation");
    w.RawValue(m.operation.data(), m.operation.size(), rapidjson::kObjectType);
  }
  if (!m.workflow.empty()) {
    w.Key("workflow");
    w.RawValue(m.workflow.data(), m.workflow.size(), rapidjson::kObjectType);
  }
  if (!m.replyOpts.empty()) {
    w.Key("replyOpts");
    w.RawValue(m.replyOpts.data(), m.replyOpts.size(), rapidjson::kObjectType);
  }
  if (m.isReply) {
    w.Key("isReply");
    w.Bool(true);
    w.Key("requestId");
    w.Uint64(m.requestId);
    str("requestMethod", m.requestMethod);
    if (!m.requestError.empty()) str("requestError", m.requestError);
    if (m.partial) {
      w.Key("partial");
      w.Bool(true);
    }
    nonZero("run", m.run);
    nonZero("runs", m.runs);
    if (!m.result.empty()) {
      w.Key("result");
      json::writeStrings(w, m.result);
    }
  }
  nonZero("epoch", m.epoch);
  nonZero("seq", m.seq);
  nonZero("floor", m.floor);
  nonZero("settledBelow", m.settledBelow);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<Message> decodeWire(std::string_view bytes, const Limits& limits) {
  auto doc = json::parse(bytes, "the message", {.maxBytes = maxWireBytes(limits)});
  if (!doc) return doc.error();
  auto m = decodeObject(doc.value(), Source::wire, limits);
  if (!m) return m.error();
  if (m->id == 0) return Error{"field \"id\": is missing"};
  if (auto s = checkNodeName(m->fromNode, limits); !s) {
    return Error{"field \"fromNode\": " + s.error().message};
  }
  if (auto s = checkNodeName(m->toNode, limits); !s) {
    return Error{"field \"toNode\": " + s.error().message};
  }
  if (auto s = checkMethodName(m->method, limits); !s) {
    return Error{"field \"method\": " + s.error().message};
  }
  if (auto s = checkDirectory(m->directory); !s) {
    return Error{"field \"directory\": " + s.error().message};
  }
  if (auto s = checkRepeat(*m); !s) return s.error();
  if (auto s = checkReplyOpts(*m); !s) return s.error();
  if (!m->fileName.empty()) {
    if (auto s = checkFileName(m->fileName); !s) {
      return Error{"field \"fileName\": " + s.error().message};
    }
  }
  return m;
}

}  // namespace steward::message
