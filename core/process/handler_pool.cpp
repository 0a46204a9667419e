#include "core/process/handler_pool.hpp"

namespace steward::process {

HandlerPool::HandlerPool(size_t maxThreads) : maxThreads_(maxThreads == 0 ? 1 : maxThreads) {}

HandlerPool::~HandlerPool() { stop(); }

bool HandlerPool::submit(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  tasks_.push_back(std::move(task));
  if (idle_ == 0 && threads_.size() < maxThreads_) {
    threads_.emplace_back([this] { work(); });
  } else {
    cv_.notify_one();
  }
  return true;
}

void HandlerPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

void HandlerPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) return;  // stopping and nothing left
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace steward::process
