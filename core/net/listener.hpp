// What every input listener (unix socket, TCP, HTTP, the data folder server) shares: how many
// connections it holds, how much unfinished input they may buffer together, and an accept loop
// that survives running out of file descriptors.
//
// Clients are not trusted to be quick or few. Each connection has a total deadline for its input
// (not one reset by every byte), and a listener holds at most `maxConnections`. When it is full, a
// new connection evicts the one that has been sending its input the longest: a real request takes
// milliseconds, so the connection evicted is one trickling bytes in. Only when every slot holds a
// connection already being answered (a followed command, a download) is the newcomer refused.
#pragma once

#include "core/util/log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>

namespace steward::net {

struct ConnectionLimits {
  size_t maxConnections = 256;
  size_t maxInputBytes = 16 * 1024 * 1024;      // one input
  size_t maxBufferedBytes = 64 * 1024 * 1024;   // unfinished input of all connections together
  std::chrono::seconds inputTimeout{30};        // from accept to a complete input, in all
};

// A connection as the table sees it.
class Connection {
 public:
  virtual ~Connection() = default;
  // Ends the connection with `why` as its answer where the protocol has one. Thread-safe.
  virtual void evict(const std::string& why) = 0;
  // Whether it is still sending its input (evictable), as opposed to being answered.
  bool reading() const { return reading_.load(); }

 protected:
  void answered() { reading_ = false; }

 private:
  std::atomic<bool> reading_{true};
};

// The open connections of one listener, oldest first. Thread-safe.
class ConnectionTable {
 public:
  explicit ConnectionTable(ConnectionLimits limits) : limits_(limits) {}

  // Takes `c` in. At the cap, evicts the connection reading longest; false (refuse `c`) when
  // none is reading.
  bool admit(const std::shared_ptr<Connection>& c) {
    std::shared_ptr<Connection> evicted;
    {
      std::lock_guard lock(mutex_);
      if (open_.size() >= limits_.maxConnections) {
        open_.remove_if([](const std::weak_ptr<Connection>& w) { return w.expired(); });
      }
      if (open_.size() >= limits_.maxConnections) {
        for (auto it = open_.begin(); it != open_.end(); ++it) {
          auto old = it->lock();
          if (old && old->reading()) {
            evicted = std::move(old);
            open_.erase(it);
            break;
          }
        }
        if (!evicted) return false;
      }
      open_.push_back(c);
    }
    if (!evicted) return true;
    evicted->evict("too many connections (" + std::to_string(limits_.maxConnections) +
                   "): this one was the slowest to send its input");
    if (!warnedFull_.exchange(true)) {
      STEWARD_LOG(warning) << "an input is full (" << limits_.maxConnections
                           << " connections): the slowest are closed to make room";
    }
    return true;
  }

  void leave(const Connection* c) {
    std::lock_guard lock(mutex_);
    open_.remove_if([c](const std::weak_ptr<Connection>& w) {
      auto p = w.lock();
      return !p || p.get() == c;
    });
    if (open_.empty()) warnedFull_ = false;
  }

  // Counts `n` more bytes of unfinished input; false when that passes the budget.
  bool reserve(size_t n) {
    size_t now = buffered_.load();
    do {
      if (now + n > limits_.maxBufferedBytes) return false;
    } while (!buffered_.compare_exchange_weak(now, now + n));
    return true;
  }
  void release(size_t n) { buffered_ -= n; }

  size_t open() const {
    std::lock_guard lock(mutex_);
    return open_.size();
  }
  size_t buffered() const { return buffered_.load(); }
  const ConnectionLimits& limits() const { return limits_; }

 private:
  const ConnectionLimits limits_;
  mutable std::mutex mutex_;
  std::list<std::weak_ptr<Connection>> open_;
  std::atomic<size_t> buffered_{0};
  std::atomic<bool> warnedFull_{false};
};

// Accepts on `acceptor` until it is closed, each connection on a strand of its own. When accept
// fails (EMFILE, ENFILE, ENOBUFS…) it waits before trying again, 50 ms doubling to 2 s, instead of
// spinning, and says so once per streak of failures.
template <class Acceptor>
class AcceptLoop : public std::enable_shared_from_this<AcceptLoop<Acceptor>> {
 public:
  using Socket = typename Acceptor::protocol_type::socket;
  using OnSocket = std::function<void(Socket)>;

  AcceptLoop(boost::asio::io_context& io, Acceptor& acceptor, std::string name, OnSocket onSocket)
      : io_(io), acceptor_(acceptor), timer_(io), name_(std::move(name)), onSocket_(std::move(onSocket)) {}

  void start() { next(); }
  // Stops retrying; the owner closes the acceptor.
  void stop() {
    stopped_ = true;
    boost::asio::post(timer_.get_executor(), [self = this->shared_from_this()] { self->timer_.cancel(); });
  }

 private:
  void next() {
    if (stopped_ || !acceptor_.is_open()) return;
    acceptor_.async_accept(boost::asio::make_strand(io_), [self = this->shared_from_this()](
                                                              boost::system::error_code ec, Socket socket) {
      self->accepted(ec, std::move(socket));
    });
  }

  void accepted(boost::system::error_code ec, Socket socket) {
    if (ec == boost::asio::error::operation_aborted || stopped_ || !acceptor_.is_open()) return;
    if (ec) {
      if (failures_++ == 0) {
        STEWARD_LOG(error) << name_ << ": cannot accept connections: " << ec.message()
                           << "; trying again, waiting up to 2 s between tries";
      } else {
        STEWARD_LOG(debug) << name_ << ": accept failed again (try " << failures_ << ")";
      }
      const auto wait = std::chrono::milliseconds(50 << std::min(failures_ - 1, 5));
      timer_.expires_after(wait);
      timer_.async_wait([self = this->shared_from_this()](boost::system::error_code e) {
        if (!e) self->next();
      });
      return;
    }
    if (failures_ > 0) {
      STEWARD_LOG(info) << name_ << ": accepting connections again after " << failures_
                        << " failed tries";
      failures_ = 0;
    }
    onSocket_(std::move(socket));
    next();
  }

  boost::asio::io_context& io_;
  Acceptor& acceptor_;
  boost::asio::steady_timer timer_;
  std::string name_;
  OnSocket onSocket_;
  std::atomic<bool> stopped_{false};
  int failures_ = 0;  // only touched by accept completions, which never overlap
};

}  // namespace steward::net
