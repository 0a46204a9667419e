// The node's database (LevelDB under databaseFolder): the outbox of messages this node sends, the
// inbox of messages it has taken, the memory of which messages it has seen, and the id counters.
//
// Keys (all ordered so that a scan is chronological):
//   meta/<name>                  counters (8 bytes, big endian)
//   out/<id, 16 hex>             outbox entry: a JSON line of delivery settings, "\n", the wire message
//   in/<arrival, 16 hex>         inbox entry: a JSON line (method), "\n", the wire message
//   run/<arrival, 16 hex>        present once that message's run has started
//   seen/<fromNode>/<id, 16 hex> arrival number of a message taken from fromNode (and the seal
//                                time of the latest copy taken)
//   settled/<fromNode>           the sender's word: its messages to this node with lower ids are
//                                settled there; their seen/ entries are forgotten
//   meta/epoch                   this database's epoch: sequenced streams sent from it carry it
//   seq/<subject>                the last sequence number given to a message for that subject
//   lost/<subject>               the highest number of that subject settled without delivery whose
//                                receiver is not told yet to pass over it (process::Outbox)
//   stream/<method>/<fromNode>/<epoch, 16 hex>   a sequenced stream taken in: the number next
//   floor/<same>                 and the number below which a missing one never comes
//   gone/<same>/<seq, 16 hex>    a number of that stream removed by an operator
//   sched/<schedule, 16 hex>     a repeating message between two runs: the run that comes next
//                                and when (the schedule is named by its first arrival number)
//   copy/<copy, 16 hex>          a file this node is sending (REQCopySrc): what, where to, and
//                                how many of its chunks are in the outbox already
//   carry/<number, 16 hex>       a message a relay holds for another node (process::Relay): the
//                                origin's sealed payload, where it goes, since when
#pragma once

#include "core/util/result.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace leveldb {
class DB;
class Status;
class WriteBatch;
}

namespace steward::store {

struct StoreOptions {
  // true: every write that accepts a message is synced to disk before it is acknowledged.
  // false: left to the operating system (fast; a power cut may lose the last writes).
  bool sync = true;
  // The inbox remembers each sender's messages until the sender says they are settled (so a
  // resend is recognised however long the sender was away, whatever other senders sent
  // meanwhile); at most this many per sender, the oldest forgotten first.
  uint64_t seenPerSender = 100000;
};

struct OutboxEntry {
  uint64_t id = 0;
  std::string subject;
  bool ack = true;
  int64_t ackTimeoutMs = 10000;
  int64_t retries = 3;
  int64_t expiresUnixMs = 0;
  // What the origin said it had settled when it sent it (message::Message's settledBelow, and a
  // sequenced one's number, stream epoch and floor): the order the relay keeps.
  uint64_t settledBelow = 0;
  uint64_t seq = 0;
  uint64_t epoch = 0;
  uint64_t floor = 0;  // 0: no lifetime, retries decide
  std::string wire;
};

struct InboxEntry {
  uint64_t arrival = 0;
  std::string method;
  bool running = false;  // a run had started when this was written
  std::string wire;
  // A repeating message's later runs come back into the inbox as entries of their own: which run
  // this is, and the schedule's number (its first arrival). 1 and 0 for everything else.
  uint64_t run = 1;
  uint64_t schedule = 0;
  // The schedule this run belongs to: a first run's is its own arrival.
  uint64_t scheduleNumber() const { return schedule != 0 ? schedule : arrival; }
};

// A repeating message (message::Message::repeat) between two runs. Exactly one of these, or one
// inbox entry of it, exists at any time: a run ends in the write that puts this, and this goes in
// the write that puts the next run's inbox entry.
struct ScheduledRun {
  uint64_t schedule = 0;  // the first arrival's number, naming the schedule
  std::string method;
  uint64_t run = 2;       // the run that comes next
  int64_t atUnixMs = 0;   // when
  bool cancelled = false; // an operator cancelled it while a run was going: no run follows it
  std::string wire;       // the message, without its stream number
};

// One stream of sequenced messages (message::Message::seq) from one sender, as the receiver keeps
// it: which number runs next, below which a number that has not come never will, and the numbers
// an operator removed before their turn. Each part has its own keys and one writer.
struct StreamState {
  uint64_t next = 1;
  uint64_t floor = 0;
  std::set<uint64_t> gone;
};
// What starting a sequenced run changes in its stream: the number that runs next now, and the
// removed numbers it passed.
struct StreamAdvance {
  std::string key;  // streamKey()
  uint64_t next = 1;
  std::vector<uint64_t> passed;
};
std::string streamKey(const std::string& method, const std::string& fromNode, uint64_t epoch);

// A file this node sends to another (process::Copier), chunk by chunk through the outbox.
struct CopyJob {
  uint64_t copy = 0;        // its number on this node
  std::string source;       // the file here
  std::string toNode;
  std::string toPath;       // as the request gave it; the receiver places it in its copyFolder
  uint64_t size = 0;
  uint32_t mode = 0600;
  std::string sha256;       // of the whole file, hex, when the copy started
  uint64_t chunkSize = 0;
  uint64_t chunks = 0;
  uint64_t queued = 0;      // chunks put into the outbox so far (0 … chunks)
  std::string request;      // the REQCopySrc message's wire: who asked, and where its answer goes
};

// A message a relay took for another node and holds until that node (or the next relay) ACKs it.
struct CarriedEntry {
  uint64_t number = 0;      // its arrival at the relay
  std::string subject;      // <toNode>.<method>.<kind>, as the origin sent it
  bool toFar = true;        // forwarded on the relay's far broker (else on its own)
  std::string fromNode;     // the origin and its id for the message: what an ACK's "also" names
  uint64_t id = 0;
  int64_t takenUnixMs = 0;  // when the relay took it: it gives up after its hold time
  int64_t ackTimeoutMs = 10000;
  // The message's own delivery policy, applied on the relay's hop: sends after the first, and the
  // end of its lifetime (0: none; then retries do not count).
  int64_t retries = 3;
  int64_t expiresUnixMs = 0;
  // What the origin said it had settled when it sent it (message::Message's settledBelow, and a
  // sequenced one's number, stream epoch and floor): the order the relay keeps.
  uint64_t settledBelow = 0;
  uint64_t seq = 0;
  uint64_t epoch = 0;
  uint64_t floor = 0;
  std::string payload;      // the origin's sealed bytes, forwarded as they came
};

// What a load found: the entries that could be read, and one error per damaged entry (which is
// removed from the store so it is reported only once).
class IdSource;

template <class Entry>
struct Loaded {
  std::vector<Entry> entries;
  std::vector<Error> damaged;
};

class Store {
 public:
  // Opens (creating if needed) the database in `folder`. A database LevelDB cannot open is an
  // error that says so; the daemon does not start on it.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& folder,
                                             StoreOptions options = {});
  ~Store();

  // Another store in this one's database, its keys under "node/<name>/": for several logical
  // nodes in one process (steward-sim), which then share one set of files and one sync for the
  // writes they make at the same time, instead of a database each (and its file descriptors).
  // Independent of this store in every other way; the database lives while any of them does.
  std::unique_ptr<Store> part(const std::string& name) const;

  // Reserves `count` numbers of counter `name` and returns the first (`firstOfNew` for a counter
  // never used). Synced before it returns, so numbers given out before a crash are never given
  // out again.
  Result<uint64_t> reserve(const std::string& name, uint64_t count, uint64_t firstOfNew = 1);

  // This database's epoch: a random number made (and synced) the first time it is asked for.
  Result<uint64_t> epoch();
  // The last sequence number given for `subject`; 0 when none was.
  Result<uint64_t> lastSeq(const std::string& subject);

  // Outbox. A batch is written whole or not at all, with the last sequence numbers it gave
  // (subject, number).
  // `job`, when given, is written in the same write (the chunks it queues and its count of them).
  Status putOutbox(const std::vector<OutboxEntry>& entries,
                   const std::vector<std::pair<std::string, uint64_t>>& lastSeqs = {},
                   const CopyJob* job = nullptr);
  Status putCopyJob(const CopyJob& job);
  Status removeCopyJob(uint64_t copy);
  Loaded<CopyJob> loadCopyJobs();
  Status removeOutbox(uint64_t id);
  // A relay's held messages: written whole (synced with `sync`) before it ACKs them.
  Status putCarried(const std::vector<CarriedEntry>& entries);
  Status removeCarried(uint64_t number);
  Loaded<CarriedEntry> loadCarried();
  // The highest number of a sent stream settled without delivery, not yet announced to its
  // receiver as one to pass over (0: none, the entry goes).
  Status putLost(const std::string& subject, uint64_t lostUpTo);
  std::map<std::string, uint64_t> loadLost();
  Loaded<OutboxEntry> loadOutbox();

  // Inbox. Takes a message unless (fromNode, id) was taken before: returns the arrival number
  // given to it, or 0 for a duplicate. Written (and synced) before the caller ACKs. With the
  // time the copy was sealed, a duplicate sealed no later than the copy taken is a replay (a
  // genuine resend is sealed anew, later).
  struct Taken {
    uint64_t arrival = 0;  // 0: taken before
    bool replayed = false;
  };
  Result<Taken> acceptInbound(const std::string& fromNode, uint64_t id, const std::string& method,
                              const std::string& wire, int64_t sealedUnixMs = 0,
                              uint64_t settledBelow = 0);
  // Takes several messages in one write (one sync): what acceptInbound says of each, in order,
  // or one error for all when the write failed (then none was taken).
  struct Arriving {
    std::string fromNode;
    uint64_t id = 0;
    std::string method;
    std::string wire;
    int64_t sealedUnixMs = 0;
    // The sender's word that its messages to this node with a lower id are settled (delivered,
    // or given up): one of those not taken by now never will be, and their memory can go.
    uint64_t settledBelow = 0;
  };
  // `durable` false: not synced even with syncWrites (a message whose sender waits for no ACK
  // is the sender's to lose: it survives a crash of this process, not a power cut).
  Result<std::vector<Taken>> acceptInbound(const std::vector<Arriving>& batch, bool durable = true);
  // Records that the message's run starts, so a restart does not run it again blindly; for a
  // sequenced message, with what that changes in its stream. Synced (with syncWrites): a power
  // cut during the run must not lose it, or the message would run again after the reboot.
  Status markRunning(uint64_t arrival, const StreamAdvance* advance = nullptr, bool durable = true);
  // Removes a handled message and queues its reply (if any) in one atomic write, with the last
  // sequence numbers the reply's stream gave, and, for a sequenced method, the run mark of the
  // message that runs next (what markRunning would write), so the two share a sync.
  struct RunMark {
    uint64_t arrival = 0;
    const StreamAdvance* advance = nullptr;
  };
  // A repeating message's run also says what comes of its schedule: the next run (`next`), or
  // none (the schedule's entry, a cancellation's mark included, goes).
  struct Repeat {
    uint64_t schedule = 0;
    const ScheduledRun* next = nullptr;
  };
  Status finishInbound(uint64_t arrival, const OutboxEntry* reply,
                       const std::vector<std::pair<std::string, uint64_t>>& lastSeqs = {},
                       const RunMark* next = nullptr, bool durable = true, const Repeat* repeat = nullptr);
  // A scheduled run whose time came goes into the inbox (one synced write: its entry comes, the
  // schedule's goes); the arrival number it got.
  Result<uint64_t> releaseScheduled(const ScheduledRun& due);
  // An operator's cancel: the schedule's entry goes (`mark` false), or, while one of its runs is
  // going, stays as a mark that no run follows it (`mark` true).
  Status cancelScheduled(const ScheduledRun& run, bool mark);
  Loaded<ScheduledRun> loadScheduled();
  // Removes a message that did not run (an operator's removeQueued); a sequenced one's number is
  // remembered as gone in its stream, so the stream passes it when its turn comes.
  Status removeInbound(uint64_t arrival, const std::string& streamKey = {}, uint64_t seq = 0);
  Loaded<InboxEntry> loadInbox();
  // The streams taken in for `method`, by key.
  std::map<std::string, StreamState> loadStreams(const std::string& method);
  Status putFloor(const std::string& streamKey, uint64_t floor);

  // What central keeps of each node that says hello (process::Fleet), by node name. Not synced:
  // a crash loses at most the last hellos, and they come again.
  Status putNodeRecord(const std::string& node, const std::string& record);
  std::map<std::string, std::string> loadNodeRecords();

  const StoreOptions& options() const { return options_; }
  // Synced writes made since the store was opened (LevelDB may have shared one sync among
  // several of them).
  uint64_t syncedWrites() const { return syncedWrites_.load(); }

  // For tests of damaged entries: writes a raw value.
  Status putRaw(const std::string& key, const std::string& value);

 private:
  Store(std::shared_ptr<leveldb::DB> db, StoreOptions options, std::string ns);
  // Writes `batch`, synced or not, and counts the synced ones.
  leveldb::Status commit(leveldb::WriteBatch& batch, bool sync);
  // Adds a run mark (markRunning's write) to `batch`.
  void markIn(leveldb::WriteBatch& batch, uint64_t arrival, const StreamAdvance* advance) const;
  std::shared_ptr<leveldb::DB> db_;
  StoreOptions options_;
  const std::string ns_;  // what every key starts with: "" for the database's own store
  std::atomic<uint64_t> syncedWrites_{0};
  std::mutex counterMutex_;
  // What the inbox remembers of one sender (loaded from the database at its first message).
  struct Sender {
    uint64_t settledBelow = 0;
    uint64_t seen = 0;  // seen/ entries
  };
  // inboxMutex_ held.
  Result<Sender*> sender(const std::string& fromNode);
  // Forgets `fromNode`'s seen/ entries below `below` (at most `most`), in `batch`; how many.
  uint64_t forgetSeen(leveldb::WriteBatch& batch, const std::string& fromNode, uint64_t below,
                      uint64_t most);
  std::mutex inboxMutex_;  // a seen-check and its write are one step
  std::map<std::string, Sender, std::less<>> senders_;
  std::unique_ptr<IdSource> arrivals_;
};

// Hands out numbers one by one from blocks reserved in the store.
class IdSource {
 public:
  IdSource(Store& store, std::string counter, uint64_t blockSize = 1000, uint64_t firstOfNew = 1)
      : store_(store), counter_(std::move(counter)), blockSize_(blockSize), firstOfNew_(firstOfNew) {}
  Result<uint64_t> next();

 private:
  Store& store_;
  const std::string counter_;
  const uint64_t blockSize_;
  const uint64_t firstOfNew_;
  std::mutex mutex_;
  uint64_t next_ = 0;
  uint64_t end_ = 0;  // first number not reserved yet
};

}  // namespace steward::store
