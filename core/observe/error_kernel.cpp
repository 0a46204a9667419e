#include "core/observe/error_kernel.hpp"

#include "core/observe/log.hpp"

namespace steward::observe {

void ErrorKernel::report(const std::string& what) const {
  logOnly(what);
  message::Message m;
  m.toNode = central_;
  m.method = kErrorLogMethod;
  m.data = {what};
  m.ackTimeout = ackTimeout_;
  m.retries = retries_;
  m.directory = "errorLog";
  m.fileName = "errors.log";
  send_(std::move(m));
}

void ErrorKernel::logOnly(const std::string& what) { STEWARD_LOG(error) << what; }

}  // namespace steward::observe
