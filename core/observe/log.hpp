// Local logging through Boost.Log: one line per event on stderr, journald-friendly.
#pragma once

#include <boost/log/trivial.hpp>

#include <string>

namespace steward::observe {

using Severity = boost::log::trivial::severity_level;

// Sets up the stderr sink: "<UTC time> <level> <text>", dropping lines below `minimum`.
void initLogging(Severity minimum = Severity::info);

}  // namespace steward::observe

#define STEWARD_LOG(level) BOOST_LOG_TRIVIAL(level)
