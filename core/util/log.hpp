// Local logging through Boost.Log: one line per event on stderr, and optionally to a rotating file.
#pragma once

#include <boost/log/sinks/text_file_backend.hpp>
#include <boost/log/trivial.hpp>
#include <boost/shared_ptr.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace steward::logging {

using Severity = boost::log::trivial::severity_level;

// The level a logLevel setting names (debug, info, warning, error); info for anything else.
Severity severityNamed(const std::string& level);

struct LogSettings {
  Severity minimum = Severity::info;
  // Also written here when set; rotated at rotationBytes into <file's folder>/<stem>/, keepFiles
  // of them kept.
  std::filesystem::path file;
  uintmax_t rotationBytes = 16 * 1024 * 1024;
  unsigned keepFiles = 10;
};

// Sets up the sinks. On stderr a line is "<UTC time> <level> <text>"; under systemd (stderr is
// the journal, JOURNAL_STREAM is set) it is "<priority>text" instead, so journald records the
// level and its own timestamp. A line below `minimum` is dropped everywhere.
void initLogging(const LogSettings& settings);

// In a process that hosts several nodes (steward-sim), what a node logs starts with "[<node>] ".
// Off in a daemon, whose log is its one node's. Set before any node starts.
void tagNodes(bool on);
// "[<node>] " while nodes are tagged, else "".
std::string nodeTag(const std::string& node);

// A record that cannot be written (a full disk, no file descriptor left to open the next file of
// a rotating log) is dropped and said on stderr, the first and every 1000th time, instead of
// ending the daemon with an exception thrown from wherever it logged. initLogging sets it.
void dropUnwritableRecords();

// A Boost.Log file backend appending to `file` and rotating it at `rotationBytes` into
// `<file's folder>/<file's stem>/`, keeping `keepFiles` rotated files. Shared with the audit log.
boost::shared_ptr<boost::log::sinks::text_file_backend> rotatingFile(
    const std::filesystem::path& file, uintmax_t rotationBytes, unsigned keepFiles);

}  // namespace steward::logging

#define STEWARD_LOG(level) BOOST_LOG_TRIVIAL(level)
