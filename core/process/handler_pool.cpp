#include "core/process/handler_pool.hpp"

#include "core/util/thread_name.hpp"

namespace steward::process {

HandlerPool::HandlerPool(size_t maxThreads, std::string name, std::chrono::milliseconds idleFor)
    : maxThreads_(maxThreads == 0 ? 1 : maxThreads), name_(std::move(name)), idleFor_(idleFor) {}

HandlerPool::~HandlerPool() { stop(); }

bool HandlerPool::submit(std::function<void()> task) {
  std::unique_lock lock(mutex_);
  if (stopping_) return false;
  joinRetired(lock);
  tasks_.push_back(std::move(task));
  if (idle_ == 0 && threads_.size() < maxThreads_) {
    std::thread t([this] { work(); });
    const auto id = t.get_id();
    threads_.emplace(id, std::move(t));
  } else {
    cv_.notify_one();
  }
  return true;
}

void HandlerPool::stop() {
  std::vector<std::thread> threads;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    for (auto& [id, t] : threads_) threads.push_back(std::move(t));
    threads_.clear();
    threads.insert(threads.end(), std::make_move_iterator(retired_.begin()),
                   std::make_move_iterator(retired_.end()));
    retired_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

size_t HandlerPool::threads() {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

// A retired thread has left work() or is about to (it needs no lock to finish), so the join is
// short; done outside the lock all the same.
void HandlerPool::joinRetired(std::unique_lock<std::mutex>& lock) {
  if (retired_.empty()) return;
  std::vector<std::thread> done;
  done.swap(retired_);
  lock.unlock();
  for (auto& t : done) t.join();
  lock.lock();
}

void HandlerPool::work() {
  nameThisThread(name_);
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    const bool woken = cv_.wait_for(lock, idleFor_, [&] { return stopping_ || !tasks_.empty(); });
    --idle_;
    if (!woken) {
      // Nothing to do for a while: this thread ends; stop() or the next submit joins it.
      auto self = threads_.find(std::this_thread::get_id());
      if (self != threads_.end()) {
        retired_.push_back(std::move(self->second));
        threads_.erase(self);
        return;
      }
      continue;  // stop() has taken this thread already and will join it
    }
    if (tasks_.empty()) return;  // stopping and nothing left
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace steward::process
