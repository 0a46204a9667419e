#include "core/util/log.hpp"

#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/support/date_time.hpp>
#include <boost/log/utility/setup/common_attributes.hpp>
#include <boost/log/utility/exception_handler.hpp>
#include <boost/log/utility/setup/console.hpp>
#include <boost/make_shared.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace steward::logging {

namespace expr = boost::log::expressions;
namespace keywords = boost::log::keywords;
namespace sinks = boost::log::sinks;

namespace {

// sd-daemon(3) priorities, read by journald from the start of each line.
int syslogPriority(Severity s) {
  switch (s) {
    case Severity::trace:
    case Severity::debug: return 7;
    case Severity::info: return 6;
    case Severity::warning: return 4;
    case Severity::error: return 3;
    default: return 2;
  }
}

void journalFormat(const boost::log::record_view& record, boost::log::formatting_ostream& out) {
  const auto level = boost::log::extract<Severity>("Severity", record);
  out << "<" << syslogPriority(level ? *level : Severity::info) << ">"
      << record[expr::smessage];
}

std::atomic<bool> taggingNodes{false};

}  // namespace

Severity severityNamed(const std::string& level) {
  if (level == "debug") return Severity::debug;
  if (level == "warning") return Severity::warning;
  if (level == "error") return Severity::error;
  return Severity::info;
}

void tagNodes(bool on) { taggingNodes = on; }

std::string nodeTag(const std::string& node) {
  return taggingNodes.load(std::memory_order_relaxed) ? "[" + node + "] " : std::string();
}

boost::shared_ptr<sinks::text_file_backend> rotatingFile(const std::filesystem::path& file,
                                                         uintmax_t rotationBytes,
                                                         unsigned keepFiles) {
  const std::filesystem::path folder = file.parent_path() / file.stem();
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  auto backend = boost::make_shared<sinks::text_file_backend>(
      keywords::file_name = file.string(),
      keywords::target_file_name = file.stem().string() + "-%Y%m%dT%H%M%S-%N" + file.extension().string(),
      keywords::rotation_size = rotationBytes,
      keywords::open_mode = std::ios_base::out | std::ios_base::app,
      keywords::enable_final_rotation = false);
  backend->set_file_collector(sinks::file::make_collector(keywords::target = folder.string(),
                                                          keywords::max_files = keepFiles));
  backend->scan_for_files();
  backend->auto_flush(true);
  return backend;
}

namespace {

struct DropRecord {
  void operator()(const std::exception& e) const {
    static std::atomic<uint64_t> dropped{0};
    const uint64_t n = ++dropped;
    if (n % 1000 == 1) {
      std::fprintf(stderr, "steward: a log record was dropped (%llu so far): %s\n",
                   static_cast<unsigned long long>(n), e.what());
    }
  }
};

}  // namespace

void dropUnwritableRecords() {
  boost::log::core::get()->set_exception_handler(
      boost::log::make_exception_handler<std::exception>(DropRecord{}));
}

void initLogging(const LogSettings& settings) {
  dropUnwritableRecords();
  boost::log::add_common_attributes();
  // The sinks filter what they write (the audit channel has its own sink and no severity); the
  // core drops the rest before a record is even made, so a debug line costs nothing at info.
  const auto filter = !expr::has_attr<std::string>("Channel") &&
                      boost::log::trivial::severity >= settings.minimum;
  boost::log::core::get()->set_filter(expr::has_attr<std::string>("Channel") ||
                                      boost::log::trivial::severity >= settings.minimum);
  const auto stamped = expr::stream
                       << expr::format_date_time<boost::posix_time::ptime>("TimeStamp",
                                                                           "%Y-%m-%dT%H:%M:%S.%f")
                       << " " << boost::log::trivial::severity << " " << expr::smessage;
  const char* journal = std::getenv("JOURNAL_STREAM");
  auto console = boost::log::add_console_log(std::clog, keywords::auto_flush = true);
  if (journal != nullptr && *journal != '\0') {
    console->set_formatter(&journalFormat);
  } else {
    console->set_formatter(stamped);
  }
  console->set_filter(filter);
  if (!settings.file.empty()) {
    auto sink = boost::make_shared<sinks::synchronous_sink<sinks::text_file_backend>>(
        rotatingFile(settings.file, settings.rotationBytes, settings.keepFiles));
    sink->set_formatter(stamped);
    sink->set_filter(filter);
    boost::log::core::get()->add_sink(sink);
  }
}

}  // namespace steward::logging
