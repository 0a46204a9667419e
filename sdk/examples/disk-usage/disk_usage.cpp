// REQDiskUsage: how full the file systems holding the given paths are (default "/").
//
//   [{"toNode":"ship1","method":"REQDiskUsage","data":["/","/var"]}]
//   -> "/: 41.2 GiB of 98.3 GiB used (42%), 57.1 GiB free"
//
// A third-party plugin: built out of tree against the installed SDK only.
#include <steward/plugin.hpp>

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  return buf;
}

class DiskUsage {
 public:
  DiskUsage(steward::sdk::Host, std::string_view) {}

  steward::sdk::Status handle(const steward::sdk::Request& req, steward::sdk::Call& call) {
    std::vector<std::string> paths(req.data().begin(), req.data().end());
    if (paths.empty()) paths.push_back("/");
    for (const auto& path : paths) {
      struct statvfs fs {};
      if (::statvfs(path.c_str(), &fs) != 0) {
        return steward::sdk::Status::error(path + ": " + std::strerror(errno));
      }
      const double total = static_cast<double>(fs.f_blocks) * fs.f_frsize;
      const double free = static_cast<double>(fs.f_bavail) * fs.f_frsize;
      const double used = total - static_cast<double>(fs.f_bfree) * fs.f_frsize;
      const int percent = total > 0 ? static_cast<int>(100.0 * used / total + 0.5) : 0;
      call.output(path + ": " + gib(used) + " of " + gib(total) + " used (" +
                  std::to_string(percent) + "%), " + gib(free) + " free\n");
    }
    return steward::sdk::Status::ok();
  }
};

}  // namespace

STEWARD_PLUGIN(DiskUsage, "disk-usage", "1.0.0", steward::sdk::command("REQDiskUsage"))
