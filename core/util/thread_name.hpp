// Names the calling thread, so `top -H`, `ps -L` and /proc/<pid>/task/*/comm tell the daemon's
// threads apart (the kernel keeps 15 characters).
#pragma once

#include <pthread.h>

#include <string>

namespace steward {

inline void nameThisThread(const std::string& name) {
  (void)::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace steward
