#include "core/process/copy_writer.hpp"

#include <steward/util.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <cstring>

namespace fs = std::filesystem;

namespace steward::process {
namespace {

bool writeAllAt(int fd, std::string_view bytes, uint64_t offset) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

CopyWriter::Answer CopyWriter::write(const std::string& fromNode, const std::vector<std::string>& data) {
  Answer answer;
  uint64_t copyNumber = 0;
  uint64_t index = 0;
  if (data.size() > 2) {
    // Named in the answer even when the chunk is refused; what does not parse is named 0.
    (void)copy::parseNumber(data[0], copyNumber);
    (void)copy::parseNumber(data[2], index);
  }
  bool done = false;
  std::string where;
  auto respond = [&](const std::string& error, const copy::Chunk* c) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("copy");
    w.Uint64(copyNumber);
    w.Key("chunk");
    w.Uint64(index);
    if (c != nullptr) {
      w.Key("chunks");
      w.Uint64(c->chunks);
    }
    w.Key("done");
    w.Bool(done);
    if (done) {
      w.Key("path");
      w.String(where.c_str(), static_cast<rapidjson::SizeType>(where.size()));
      w.Key("bytes");
      w.Uint64(c->size);
      w.Key("sha256");
      w.String(c->fileSha256.c_str());
    }
    w.EndObject();
    answer.json = std::string(buffer.GetString(), buffer.GetSize()) + "\n";
    answer.error = error;
    return answer;
  };

  auto decoded = copy::Chunk::decode(data, maxBytes_);
  if (!decoded) return respond(decoded.error().message, nullptr);
  const copy::Chunk& c = decoded.value();
  std::error_code ec;
  fs::create_directories(folder_, ec);
  const fs::path target = fs::path(c.toPath).is_absolute() ? fs::path(c.toPath) : folder_ / c.toPath;
  where = target.lexically_normal().string();
  std::string name, error;
  sdk::UniqueFd dir = sdk::openParentBeneath(folder_, target, true, name, error);
  if (!dir.valid()) return respond("copy " + std::to_string(c.copy) + " to " + c.toPath + ": " + error + " (copyFolder " + folder_.string() + ")", &c);
  if (name.size() > 200) return respond("the file name is too long", &c);
  const std::string part = "." + name + ".steward-" + fromNode + "-" + std::to_string(c.copy) + ".part";
  const bool last = c.index + 1 == c.chunks;

  int flags = O_RDWR | O_CREAT;
  sdk::UniqueFd fd = sdk::openInFolder(dir.get(), part, flags, 0600, where + " (its part file)", error);
  if (!fd.valid()) return respond(error, &c);
  if (!writeAllAt(fd.get(), c.bytes, c.offset())) return respond("cannot write " + where + ": " + std::strerror(errno), &c);
  if (sync_ && ::fdatasync(fd.get()) != 0) return respond("cannot sync " + where + ": " + std::strerror(errno), &c);
  if (!last) return respond("", &c);

  // The whole file: as long as it should be, with the sha256 the sender read, then in place.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return respond("cannot check " + where + ": " + std::strerror(errno), &c);
  if (static_cast<uint64_t>(st.st_size) > c.size && ::ftruncate(fd.get(), static_cast<off_t>(c.size)) != 0) {
    return respond("cannot trim " + where + ": " + std::strerror(errno), &c);
  }
  const std::string arrived = copy::digestOf(fd.get()).sha256;
  if (arrived != c.fileSha256) {
    ::unlinkat(dir.get(), part.c_str(), 0);
    // Written already by an earlier run of this chunk (a restart after the rename): done then.
    sdk::UniqueFd existing = sdk::openInFolder(dir.get(), name, O_RDONLY, 0, where, error);
    if (existing.valid() && copy::digestOf(existing.get()).sha256 == c.fileSha256) {
      done = true;
      return respond("", &c);
    }
    return respond("copy " + std::to_string(c.copy) + " arrived with sha256 " + arrived + ", not " + c.fileSha256 +
                       " as the sender read it (did the file change while it was copied?); " + where + " is left as it was",
                   &c);
  }
  if (::fchmod(fd.get(), c.mode & 0777) != 0) return respond("cannot set the mode of " + where + ": " + std::strerror(errno), &c);
  if (::fsync(fd.get()) != 0) return respond("cannot sync " + where + ": " + std::strerror(errno), &c);
  if (::renameat(dir.get(), part.c_str(), dir.get(), name.c_str()) != 0) {
    return respond("cannot put " + where + " in place: " + std::strerror(errno), &c);
  }
  (void)::fsync(dir.get());
  done = true;
  return respond("", &c);
}

}  // namespace steward::process
