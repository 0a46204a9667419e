#include "core/observe/audit.hpp"

#include "core/util/log.hpp"

#include <boost/log/attributes/constant.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_file_backend.hpp>
#include <boost/log/sources/logger.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/make_shared.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <ctime>

namespace steward::observe {
namespace {

namespace logging = boost::log;
namespace sinks = boost::log::sinks;
namespace keywords = boost::log::keywords;

using AuditSink = sinks::synchronous_sink<sinks::text_file_backend>;

boost::shared_ptr<AuditSink>& sinkSlot() {
  static boost::shared_ptr<AuditSink> sink;
  return sink;
}

logging::sources::logger& auditLogger() {
  static logging::sources::logger logger = [] {
    logging::sources::logger l;
    l.add_attribute("Channel", logging::attributes::constant<std::string>("audit"));
    return l;
  }();
  return logger;
}

std::string utcNowMillis() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms.count()));
  return buf;
}

}  // namespace

Audit::Audit(const AuditSettings& settings) {
  auto sink = boost::make_shared<AuditSink>(
      steward::logging::rotatingFile(settings.folder / "audit.log", settings.rotationBytes, settings.keepFiles));
  sink->set_filter(logging::expressions::attr<std::string>("Channel") == "audit");
  sink->set_formatter(logging::expressions::stream << logging::expressions::smessage);
  logging::core::get()->add_sink(sink);
  sinkSlot() = sink;
}

Audit::~Audit() {
  if (auto& sink = sinkSlot()) {
    logging::core::get()->remove_sink(sink);
    sink->flush();
    sink.reset();
  }
}

void Audit::record(std::string_view event, const message::Message& m, int attempt,
                   std::string_view detail) const {
  if (listener_) listener_(event, m);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, std::string_view value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  str("time", utcNowMillis());
  str("event", event);
  w.Key("id");
  w.Uint64(m.id);
  str("fromNode", m.fromNode);
  str("toNode", m.toNode);
  str("method", m.method);
  if (m.isReply) {
    w.Key("requestId");
    w.Uint64(m.requestId);
  }
  if (attempt > 0) {
    w.Key("attempt");
    w.Int(attempt);
  }
  if (!detail.empty()) str("detail", detail);
  w.EndObject();
  BOOST_LOG(auditLogger()) << std::string_view(buffer.GetString(), buffer.GetSize());
}

}  // namespace steward::observe
