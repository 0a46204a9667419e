// JSON from outside, bounded before it is parsed.
//
// Everything steward parses (operator input, messages from the broker, ACKs, trust sets, ACLs,
// files it keeps) goes through here: its size is checked, then a linear scan finds how deep it
// nests, and only then does RapidJSON parse it, with its iterative (non-recursive) parser. No input
// can make a node recurse without bound or allocate past the size limit, whatever it holds.
//
// JsonFramer tells when a stream holds one complete value, in time linear in what arrived (each
// byte is looked at once, however the value was split into reads).
//
// Header-only: steward-ctl uses it without linking the daemon's library.
#pragma once

#include "core/util/result.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace steward::json {

// The deepest nesting steward accepts anywhere. Its own documents nest at most 6 levels (an
// operator input holding a message holding an operation with an argument object).
inline constexpr unsigned kMaxDepth = 32;

struct Bounds {
  size_t maxBytes = 16 * 1024 * 1024;
  unsigned maxDepth = kMaxDepth;
};

// Reads JSON text one byte at a time, tracking strings, escapes and nesting; used by the framer
// and by the depth check, so both agree on what a string is.
class Scanner {
 public:
  enum class Step { more, complete, tooDeep };

  explicit Scanner(unsigned maxDepth = kMaxDepth) : maxDepth_(maxDepth) {}

  // Takes one byte. complete: the first top-level value has ended with this byte (or it is not
  // an object or array, which the parser then names). tooDeep: this byte opened level maxDepth+1.
  Step take(char c) {
    if (inString_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        inString_ = false;
      }
      return Step::more;
    }
    switch (c) {
      case '"':
        inString_ = true;
        return Step::more;
      case '[':
      case '{':
        if (++depth_ > maxDepth_) return Step::tooDeep;
        started_ = true;
        return Step::more;
      case ']':
      case '}':
        // A closing bracket with nothing open is malformed: complete, for the parser to name.
        if (depth_ == 0) return Step::complete;
        return --depth_ == 0 ? Step::complete : Step::more;
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        return Step::more;
      default:
        // Anything else at the top level is a scalar or garbage: not the array or object steward
        // takes, and complete as it stands.
        return depth_ == 0 && !started_ ? Step::complete : Step::more;
    }
  }

  unsigned depth() const { return depth_; }

 private:
  unsigned maxDepth_;
  unsigned depth_ = 0;
  bool started_ = false;
  bool inString_ = false;
  bool escaped_ = false;
};

// Whether `text` stays within `bounds`: an error naming the limit and where it was passed.
inline Status checkBounds(std::string_view text, const Bounds& bounds = {}) {
  if (text.size() > bounds.maxBytes) {
    return Error{"is larger than " + std::to_string(bounds.maxBytes) + " bytes (" +
                     std::to_string(text.size()) + ")",
                 Code::tooLarge};
  }
  // Every value is scanned, not just the first: a document is one value, and anything after it
  // is refused by the parser, but it must not nest deeper on the way there either.
  Scanner scanner(bounds.maxDepth);
  for (size_t i = 0; i < text.size(); ++i) {
    if (scanner.take(text[i]) == Scanner::Step::tooDeep) {
      return Error{"nests deeper than " + std::to_string(bounds.maxDepth) +
                       " levels of arrays and objects (at byte " + std::to_string(i) + ")",
                   Code::tooDeep};
    }
  }
  return {};
}

// Parses `text` once it passes checkBounds, without recursion. Errors: "<what> is larger than
// …", "<what> nests deeper than …", "<what> is malformed JSON at byte N: …".
inline Result<rapidjson::Document> parse(std::string_view text, std::string_view what,
                                         const Bounds& bounds = {}) {
  if (auto s = checkBounds(text, bounds); !s) return within(std::string(what) + " ", s.error());
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Error{std::string(what) + " is malformed JSON at byte " +
                     std::to_string(doc.GetErrorOffset()) + ": " +
                     rapidjson::GetParseError_En(doc.GetParseError()),
                 Code::malformed};
  }
  return doc;
}

// `value` as compact JSON text.
inline std::string compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  value.Accept(w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Writes `strings` (name → text, e.g. a reply's result or a node's facts) as a JSON object.
template <class Writer, class Map>
void writeStrings(Writer& w, const Map& strings) {
  w.StartObject();
  for (const auto& [name, text] : strings) {
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  }
  w.EndObject();
}

// Finds the end of the first JSON value in a stream that arrives in pieces. Each byte is scanned
// once, so framing costs time linear in the input however it is split.
class Framer {
 public:
  enum class State { incomplete, complete, tooDeep };

  explicit Framer(unsigned maxDepth = kMaxDepth) : scanner_(maxDepth) {}

  // Scans what was appended to `buffer` since the last call (`buffer` holds everything so far).
  State feed(std::string_view buffer) {
    if (state_ != State::incomplete) return state_;
    for (; scanned_ < buffer.size(); ++scanned_) {
      const auto step = scanner_.take(buffer[scanned_]);
      if (step == Scanner::Step::more) continue;
      state_ = step == Scanner::Step::complete ? State::complete : State::tooDeep;
      ++scanned_;
      break;
    }
    return state_;
  }

  // Bytes scanned: up to and including the byte that completed the value (or went too deep).
  size_t scanned() const { return scanned_; }

 private:
  Scanner scanner_;
  State state_ = State::incomplete;
  size_t scanned_ = 0;
};

}  // namespace steward::json
