// A transport that records what is published and lets a test answer reply inboxes by hand.
#pragma once

#include "core/transport/transport.hpp"

#include <gmock/gmock.h>

#include <atomic>
#include <map>
#include <mutex>

namespace steward::testing {

class MockTransport : public transport::Transport {
 public:
  MOCK_METHOD(Status, publish,
              (const std::string& subject, std::string_view payload, const std::string& replyTo),
              (override));
  MOCK_METHOD(Result<std::unique_ptr<transport::Subscription>>, subscribe,
              (const std::string& subject, Handler handler), (override));
  size_t maxPayload() const override { return 1024 * 1024; }
  bool connected() const override { return connected_.load(); }
  void setConnected(bool c) { connected_ = c; }

  std::unique_ptr<transport::ReplyInbox> openInbox(ReplyHandler handler) override {
    std::lock_guard lock(mutex_);
    const std::string subject = "_INBOX.test." + std::to_string(next_++);
    inboxes_[subject] = std::move(handler);
    return std::make_unique<transport::ReplyInbox>(subject, [this, subject] {
      std::lock_guard lock(mutex_);
      inboxes_.erase(subject);
    });
  }

  // Delivers an answer to an open inbox, as the broker would; false if it is closed.
  bool answer(const std::string& inbox, const std::string& payload, bool noResponders = false) {
    ReplyHandler handler;
    {
      std::lock_guard lock(mutex_);
      auto it = inboxes_.find(inbox);
      if (it == inboxes_.end()) return false;
      handler = it->second;
    }
    handler(payload, noResponders);
    return true;
  }

  size_t openInboxes() {
    std::lock_guard lock(mutex_);
    return inboxes_.size();
  }

 private:
  std::mutex mutex_;
  std::map<std::string, ReplyHandler> inboxes_;
  int next_ = 1;
  std::atomic<bool> connected_{true};
};

}  // namespace steward::testing
