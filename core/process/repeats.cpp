#include "core/process/repeats.hpp"

#include "core/util/clock.hpp"

#include <chrono>

namespace steward::process {

Repeats::Repeats(boost::asio::any_io_executor executor, Due due)
    : executor_(std::move(executor)), state_(std::make_shared<State>()) {
  state_->due = std::move(due);
}

Repeats::~Repeats() { stop(); }

void Repeats::arm(store::ScheduledRun run) {
  auto timer = std::make_shared<boost::asio::steady_timer>(executor_);
  timer->expires_after(std::chrono::milliseconds(std::max<int64_t>(0, run.atUnixMs - nowUnixMs())));
  const uint64_t schedule = run.schedule;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopped) return;
    if (auto it = state_->armed.find(schedule); it != state_->armed.end()) it->second.timer->cancel();
    state_->armed[schedule] = Armed{std::move(run), timer};
  }
  timer->async_wait([weak = std::weak_ptr<State>(state_), schedule, timer](boost::system::error_code ec) {
    if (!ec) fired(weak, schedule, timer);
  });
}

void Repeats::fired(const std::weak_ptr<State>& weak, uint64_t schedule,
                    const std::shared_ptr<boost::asio::steady_timer>& timer) {
  auto state = weak.lock();
  if (!state) return;
  store::ScheduledRun run;
  {
    std::lock_guard lock(state->mutex);
    auto it = state->armed.find(schedule);
    // Disarmed, replaced or stopped meanwhile: another owns it now.
    if (state->stopped || it == state->armed.end() || it->second.timer != timer) return;
    run = std::move(it->second.run);
    state->armed.erase(it);
  }
  state->due(std::move(run));
}

std::optional<store::ScheduledRun> Repeats::disarm(uint64_t schedule) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->armed.find(schedule);
  if (it == state_->armed.end()) return std::nullopt;
  it->second.timer->cancel();
  store::ScheduledRun run = std::move(it->second.run);
  state_->armed.erase(it);
  return run;
}

std::vector<store::ScheduledRun> Repeats::armed() const {
  std::lock_guard lock(state_->mutex);
  std::vector<store::ScheduledRun> out;
  for (const auto& [schedule, a] : state_->armed) out.push_back(a.run);
  return out;
}

void Repeats::cancel(uint64_t schedule) {
  std::lock_guard lock(state_->mutex);
  state_->cancelled.insert(schedule);
}

bool Repeats::takeCancelled(uint64_t schedule) {
  std::lock_guard lock(state_->mutex);
  return state_->cancelled.erase(schedule) > 0;
}

void Repeats::stop() {
  std::lock_guard lock(state_->mutex);
  state_->stopped = true;
  for (auto& [schedule, a] : state_->armed) a.timer->cancel();
  state_->armed.clear();
}

}  // namespace steward::process
