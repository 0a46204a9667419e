// Threads that run plugin handlers. A handler may block (a command runs, a file is written), so it
// never runs on the io_context threads. Threads are started on demand up to a cap and reused; a
// message never gets a thread of its own. A thread that found no work for `idleFor` ends, so a
// node at rest after a burst is back to the threads it started with.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace steward::process {

class HandlerPool {
 public:
  // `name` names its threads (15 characters at most are kept).
  explicit HandlerPool(size_t maxThreads, std::string name = "stw-handler",
                       std::chrono::milliseconds idleFor = std::chrono::seconds(30));
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues a task; it runs as soon as a thread is free. False once stop() began: the task is
  // dropped.
  bool submit(std::function<void()> task);
  // Finishes the queued tasks and joins every thread. Later submits are dropped.
  void stop();
  // Threads alive now (running or waiting for work).
  size_t threads();

 private:
  void work();
  void joinRetired(std::unique_lock<std::mutex>& lock);

  const size_t maxThreads_;
  const std::string name_;
  const std::chrono::milliseconds idleFor_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::map<std::thread::id, std::thread> threads_;
  std::vector<std::thread> retired_;  // ended for want of work, joined by the next submit or stop
  size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace steward::process
