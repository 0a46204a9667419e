#include "core/process/copier.hpp"

#include "core/message/codec.hpp"
#include "core/message/methods.hpp"
#include "core/process/copy_chunk.hpp"
#include "core/process/outbox.hpp"
#include "core/process/reply.hpp"
#include "core/util/clock.hpp"
#include "core/util/json.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace steward::process {
namespace {

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

std::optional<uint64_t> copyOf(const message::Message& chunk) {
  uint64_t copy = 0;
  if (chunk.data.empty() || !copy::parseNumber(chunk.data[0], copy)) return std::nullopt;
  return copy;
}

// The chunks this node has queued in its outbox, with the copy each belongs to.
std::vector<std::pair<uint64_t, store::OutboxEntry>> queuedChunks(store::Store& store) {
  std::vector<std::pair<uint64_t, store::OutboxEntry>> out;
  for (auto& entry : store.loadOutbox().entries) {
    auto m = message::decodeWire(entry.wire);
    if (!m || m->method != message::methods::kCopyDst) continue;
    if (auto copy = copyOf(*m)) out.emplace_back(*copy, std::move(entry));
  }
  return out;
}

}  // namespace

Copier::Copier(CopierSettings settings, store::Store& store, Outbox& outbox, const message::MethodCatalog& methods,
               const observe::ErrorKernel& errors)
    : settings_(std::move(settings)), store_(store), outbox_(outbox), methods_(methods), errors_(errors),
      pool_(1, "stw-copy") {}

Copier::~Copier() { stop(); }

void Copier::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  pool_.stop();
}

Result<std::string> Copier::start(const message::Message& request) {
  const auto& d = request.data;
  if (d.size() != 3 && d.size() != 4) {
    return Error{"REQCopySrc takes data [\"<source path>\", \"<destination node>\", \"<destination path>\", "
                 "\"<chunk size>\"?]",
                 Code::badField};
  }
  if (auto s = message::checkNodeName(d[1]); !s) return Error{"destination node: " + s.error().message, Code::badField};
  if (d[2].empty() || d[2].size() > 4096) return Error{"destination path: 1 to 4096 bytes", Code::badField};
  uint64_t chunkSize = copy::kDefaultChunkSize;
  if (d.size() == 4) {
    if (!copy::parseNumber(d[3], chunkSize) || chunkSize < copy::kMinChunkSize || chunkSize > copy::kMaxChunkSize) {
      return Error{"chunk size: " + std::to_string(copy::kMinChunkSize) + " to " + std::to_string(copy::kMaxChunkSize) +
                       " bytes",
                   Code::badField};
    }
  }
  const std::string& source = d[0];
  const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Error{"cannot open " + source + ": " + std::strerror(errno)};
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = source + " is not a regular file";
  } else if (static_cast<uint64_t>(st.st_size) > settings_.maxBytes) {
    why = source + " is " + std::to_string(st.st_size) + " bytes, more than copyMaxBytes " + std::to_string(settings_.maxBytes);
  }
  const copy::FileDigest digest = why.empty() ? copy::digestOf(fd) : copy::FileDigest{};
  ::close(fd);
  if (!why.empty()) return Error{why};
  const uint64_t size = digest.bytes;

  auto number = store_.reserve("copies", 1);
  if (!number) return number.error();
  store::CopyJob job;
  job.copy = number.value();
  job.source = source;
  job.toNode = d[1];
  job.toPath = d[2];
  job.size = size;
  job.mode = st.st_mode & 0777;
  job.sha256 = digest.sha256;
  job.chunkSize = chunkSize;
  job.chunks = size == 0 ? 1 : (size + chunkSize - 1) / chunkSize;
  job.request = message::encodeWire(request);
  if (auto s = store_.putCopyJob(job); !s) return s.error();
  const std::string said = "copy " + std::to_string(job.copy) + ": " + source + " (" + std::to_string(size) +
                           " bytes, sha256 " + job.sha256 + ") to " + job.toNode + ":" + job.toPath + " in " +
                           std::to_string(job.chunks) + " chunk(s) of " + std::to_string(chunkSize) + " bytes\n";
  {
    std::lock_guard lock(mutex_);
    jobs_[job.copy].record = std::move(job);
  }
  pool_.submit([this, copy = number.value()] { pump(copy); });
  return said;
}

void Copier::pump(uint64_t copy) {
  for (;;) {
    store::CopyJob record;
    uint64_t count = 0;
    {
      std::lock_guard lock(mutex_);
      auto it = jobs_.find(copy);
      if (stopped_ || it == jobs_.end() || it->second.pumping) return;
      Job& job = it->second;
      const uint64_t room = settings_.ahead > job.inFlight ? settings_.ahead - job.inFlight : 0;
      count = std::min(room, job.record.chunks - job.record.queued);
      if (count == 0) return;
      job.pumping = true;
      record = job.record;
    }
    // Read the chunks and queue them with the job's new count, in one write.
    std::string error;
    std::vector<Outgoing> batch;
    const int fd = ::open(record.source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) error = "cannot open " + record.source + ": " + std::strerror(errno);
    for (uint64_t i = 0; error.empty() && i < count; ++i) {
      copy::Chunk c;
      c.copy = record.copy;
      c.toPath = record.toPath;
      c.index = record.queued + i;
      c.chunks = record.chunks;
      c.chunkSize = record.chunkSize;
      c.size = record.size;
      c.mode = record.mode;
      c.fileSha256 = record.sha256;
      c.bytes.resize(c.expectedLength());
      const ssize_t n = ::pread(fd, c.bytes.data(), c.bytes.size(), static_cast<off_t>(c.offset()));
      if (n != static_cast<ssize_t>(c.bytes.size())) {
        error = record.source + " changed while it was copied: chunk " + std::to_string(c.index) + " cannot be read whole";
        break;
      }
      c.chunkSha256 = copy::sha256Hex(c.bytes);
      message::Message m;
      m.toNode = record.toNode;
      m.method = message::methods::kCopyDst;
      m.replyMethod = message::methods::kCopyResult;
      m.data = c.encode();
      m.lifetime = settings_.chunkLifetimeSeconds;
      auto prepared = outbox_.prepare(std::move(m));
      if (!prepared) {
        error = prepared.error().message;
        break;
      }
      batch.push_back(std::move(prepared).value());
    }
    if (fd >= 0) ::close(fd);
    store::CopyJob updated = record;
    updated.queued += batch.size();
    Status written = error.empty() ? outbox_.commit(batch, [&](const Outbox::LastSeqs& last) {
      return store_.putOutbox([&] {
        std::vector<store::OutboxEntry> entries;
        for (const auto& o : batch) entries.push_back(o.entry);
        return entries;
      }(), last, &updated);
    })
                                   : Status(Error{error});
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(copy);
    if (!written) {
      outbox_.discard(batch);
      if (it != jobs_.end()) {
        it->second.pumping = false;
        finish(it->second, "", "copy " + std::to_string(copy) + " stopped: " + written.error().message);
      }
      return;
    }
    for (auto& o : batch) outbox_.dispatch(std::move(o));
    if (it == jobs_.end()) return;
    it->second.record.queued = updated.queued;
    it->second.inFlight += count;
    it->second.pumping = false;
  }
}

void Copier::settled(const message::Message& chunk, bool delivered, const std::string& detail) {
  if (chunk.method != message::methods::kCopyDst) return;
  const auto copy = copyOf(chunk);
  if (!copy) return;
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(*copy);
  if (it == jobs_.end()) return;
  Job& job = it->second;
  if (job.inFlight > 0) --job.inFlight;
  if (!delivered) {
    finish(job, "", "copy " + std::to_string(*copy) + ": a chunk did not reach " + job.record.toNode + ": " + detail);
    return;
  }
  const int64_t now = nowUnixMs();
  if (now - job.lastProgressMs >= settings_.progressEveryMs && job.record.queued < job.record.chunks) {
    job.lastProgressMs = now;
    const uint64_t sent = job.record.queued - job.inFlight;
    reply(job, "copy " + std::to_string(*copy) + ": " + std::to_string(sent) + " of " + std::to_string(job.record.chunks) +
                   " chunks delivered (" + mib(std::min(sent * job.record.chunkSize, job.record.size)) + " of " +
                   mib(job.record.size) + ")\n",
          "", false);
  }
  if (!stopped_) pool_.submit([this, copy = *copy] { pump(copy); });
}

Result<std::string> Copier::answered(const message::Message& reply) {
  if (!reply.isReply || reply.requestMethod != message::methods::kCopyDst || reply.data.empty()) {
    return Error{"REQCopyResult takes the answers to REQCopyDst", Code::badField};
  }
  auto answer = json::parse(reply.data[0], "a copy's answer");
  if (!answer || !answer->IsObject() || !answer->HasMember("copy") || !(*answer)["copy"].IsUint64()) {
    return Error{"an answer to REQCopyDst from " + reply.fromNode + " names no copy"};
  }
  const uint64_t copy = (*answer)["copy"].GetUint64();
  const bool done = answer->HasMember("done") && (*answer)["done"].IsBool() && (*answer)["done"].GetBool();
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(copy);
  // A job that ended already (an answer to a chunk sent again), or another node's word.
  if (it == jobs_.end() || it->second.record.toNode != reply.fromNode) return std::string();
  Job& job = it->second;
  if (!reply.requestError.empty()) {
    finish(job, "", "copy " + std::to_string(copy) + " failed at " + reply.fromNode + ": " + reply.requestError);
  } else if (done) {
    const std::string path = answer->HasMember("path") && (*answer)["path"].IsString() ? (*answer)["path"].GetString() : job.record.toPath;
    finish(job, "copy " + std::to_string(copy) + ": " + job.record.source + " arrived at " + reply.fromNode + ":" + path +
                    " (" + std::to_string(job.record.size) + " bytes, sha256 " + job.record.sha256 + ")\n",
           "");
  }
  return std::string();
}

void Copier::finish(Job& job, const std::string& output, const std::string& error) {
  if (!error.empty()) errors_.report(error);
  if (auto s = store_.removeCopyJob(job.record.copy); !s) errors_.report(s.error().message);
  // Chunks still queued are of no use now; they go off the lock (a removal waits for the
  // publisher, which may be telling of a settlement meanwhile).
  if (!error.empty()) {
    pool_.submit([this, copy = job.record.copy] {
      for (const auto& [of, entry] : queuedChunks(store_)) {
        if (of == copy) (void)outbox_.remove(entry);
      }
    });
  }
  reply(job, output, error, true);
  jobs_.erase(job.record.copy);
}

void Copier::reply(const Job& job, const std::string& output, const std::string& error, bool final) {
  auto request = message::decodeWire(job.record.request);
  if (!request) return;
  auto answer = replyTo(*request, methods_, CallOutput(output), error, !final);
  if (!answer) return;
  if (auto sent = outbox_.send(std::move(*answer)); !sent) errors_.report("copy " + std::to_string(job.record.copy) + ": cannot answer: " + sent.error().message);
}

void Copier::resume() {
  auto loaded = store_.loadCopyJobs();
  for (const auto& e : loaded.damaged) errors_.report(e.message);
  if (loaded.entries.empty()) return;
  // The chunks an earlier run queued are in the outbox still, unless settled.
  std::map<uint64_t, uint64_t> inFlight;
  for (const auto& [copy, entry] : queuedChunks(store_)) ++inFlight[copy];
  std::lock_guard lock(mutex_);
  for (auto& record : loaded.entries) {
    const uint64_t copy = record.copy;
    Job& job = jobs_[copy];
    job.record = std::move(record);
    job.inFlight = inFlight[copy];
    pool_.submit([this, copy] { pump(copy); });
  }
}

}  // namespace steward::process
