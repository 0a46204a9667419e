#include "core/observe/log.hpp"

#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/support/date_time.hpp>
#include <boost/log/utility/setup/common_attributes.hpp>
#include <boost/log/utility/setup/console.hpp>

#include <iostream>

namespace steward::observe {

void initLogging(Severity minimum) {
  namespace expr = boost::log::expressions;
  boost::log::add_common_attributes();
  auto console = boost::log::add_console_log(
      std::clog, boost::log::keywords::auto_flush = true,
      boost::log::keywords::format =
          (expr::stream << expr::format_date_time<boost::posix_time::ptime>(
                               "TimeStamp", "%Y-%m-%dT%H:%M:%S.%f")
                        << " " << boost::log::trivial::severity << " " << expr::smessage));
  // Filters sit on the sinks, not the core: the audit channel has its own sink and no severity.
  console->set_filter(!expr::has_attr<std::string>("Channel") &&
                      boost::log::trivial::severity >= minimum);
}

}  // namespace steward::observe
