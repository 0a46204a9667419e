// The sending side of a file copy (REQCopySrc, served by the node that has the file): the file is
// hashed, recorded as a job in the store, and sent in chunks (REQCopyDst) through the outbox, a
// few at a time: each batch of chunks and the job's count of them are one write, so a restart of
// this node goes on where it stopped, and broken links only delay the chunks. The receiver's
// answer to the last chunk (REQCopyResult, a reply method) ends the job; the copy's progress and its
// end go to whoever asked, as replies to their REQCopySrc.
#pragma once

#include "core/message/message.hpp"
#include "core/observe/error_kernel.hpp"
#include "core/process/handler_pool.hpp"
#include "core/process/message_sender.hpp"
#include "core/store/store.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace steward::process {

class Outbox;

struct CopierSettings {
  std::string nodeName;
  uint64_t maxBytes = 1024ULL * 1024 * 1024;
  // Chunks of one copy in the outbox at once.
  uint64_t ahead = 16;
  // How long a chunk is resent for when its receiver is unreachable (a ship at sea for days).
  int64_t chunkLifetimeSeconds = 7 * 24 * 3600;
  // Progress replies at most this often.
  int64_t progressEveryMs = 5000;
};

class Copier {
 public:
  Copier(CopierSettings settings, store::Store& store, Outbox& outbox, const message::MethodCatalog& methods,
         const observe::ErrorKernel& errors);
  ~Copier();

  // REQCopySrc `request`, data [source path, destination node, destination path, chunk size?]:
  // checks and hashes the file, records the job and starts sending it. What the request's first
  // (not final) reply says.
  Result<std::string> start(const message::Message& request);
  // The outbox settled a chunk this node sent: delivered, or not (the copy then fails).
  void settled(const message::Message& chunk, bool delivered, const std::string& detail);
  // An answer to a chunk came back (REQCopyResult).
  Result<std::string> answered(const message::Message& reply);
  // Jobs of an earlier run go on.
  void resume();
  // No more chunks are queued (what is queued stays in the outbox).
  void stop();

 private:
  struct Job {
    store::CopyJob record;
    uint64_t inFlight = 0;  // chunks in the outbox, not settled
    bool pumping = false;
    int64_t lastProgressMs = 0;
  };
  // Queues the job's next chunks (on the pool).
  void pump(uint64_t copy);
  // Ends a job: the final reply to its request, the record gone. mutex_ held.
  void finish(Job& job, const std::string& output, const std::string& error);
  // A reply to the job's request (progress when not `final`). mutex_ held.
  void reply(const Job& job, const std::string& output, const std::string& error, bool final);

  const CopierSettings settings_;
  store::Store& store_;
  Outbox& outbox_;
  const message::MethodCatalog& methods_;
  const observe::ErrorKernel& errors_;
  HandlerPool pool_;  // reads files and queues chunks, off the threads that tell of settlements
  std::mutex mutex_;
  std::map<uint64_t, Job> jobs_;
  bool stopped_ = false;
};

}  // namespace steward::process
