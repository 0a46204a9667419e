// Threads that run plugin handlers. A handler may block (a command runs, a file is written), so it
// never runs on the io_context threads. Threads are started on demand up to a cap and reused; a
// message never gets a thread of its own.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace steward::process {

class HandlerPool {
 public:
  explicit HandlerPool(size_t maxThreads);
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues a task; it runs as soon as a thread is free. False once stop() began: the task is
  // dropped.
  bool submit(std::function<void()> task);
  // Finishes the queued tasks and joins every thread. Later submits are dropped.
  void stop();

 private:
  void work();

  const size_t maxThreads_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace steward::process
