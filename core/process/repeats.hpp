// The timers of repeating messages between two runs (store::ScheduledRun, the spec's repeat and
// repeatInterval): each fires when its run is due and hands it on. What is armed here is also in
// the store (sched/), so a restart arms it again (Inbox::resume). Thread-safe.
#pragma once

#include "core/store/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

namespace steward::process {

class Repeats {
 public:
  // `due` is called on the executor with a run whose time came (never after stop()).
  using Due = std::function<void(store::ScheduledRun)>;
  Repeats(boost::asio::any_io_executor executor, Due due);
  ~Repeats();

  // Fires at run.atUnixMs (at once if that has passed). A run of the same schedule armed before is
  // replaced.
  void arm(store::ScheduledRun run);
  // Takes the schedule's armed run away before it fires: the run, or nullopt when none was armed
  // (it fired, or was never armed here).
  std::optional<store::ScheduledRun> disarm(uint64_t schedule);
  // What is armed now, by schedule.
  std::vector<store::ScheduledRun> armed() const;

  // An operator cancelled the schedule while a run of it was going or about to: that run is its
  // last. takeCancelled says so once, when the run ends.
  void cancel(uint64_t schedule);
  bool takeCancelled(uint64_t schedule);

  // Cancels every timer; nothing fires after it returns.
  void stop();

 private:
  struct Armed {
    store::ScheduledRun run;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  // What a timer's handler reaches, held weakly by it: a handler that runs after the Repeats is
  // gone (an aborted wait, on an io_context that outlives it) finds nothing.
  struct State {
    Due due;
    std::mutex mutex;
    std::map<uint64_t, Armed> armed;
    std::set<uint64_t> cancelled;
    bool stopped = false;
  };
  static void fired(const std::weak_ptr<State>& weak, uint64_t schedule,
                    const std::shared_ptr<boost::asio::steady_timer>& timer);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<State> state_;
};

}  // namespace steward::process
