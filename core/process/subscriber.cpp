#include "core/process/subscriber.hpp"

#include "core/message/codec.hpp"
#include "core/message/paths.hpp"
#include "core/observe/log.hpp"
#include "core/plugin/request.hpp"
#include "core/process/ack.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace steward::process {

namespace asio = boost::asio;

Result<AllowedNodes> AllowedNodes::parse(std::string_view spec) {
  AllowedNodes out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view node = spec.substr(start, end - start);
    while (!node.empty() && node.front() == ' ') node.remove_prefix(1);
    while (!node.empty() && node.back() == ' ') node.remove_suffix(1);
    if (node == "*") {
      out.all_ = true;
    } else if (!node.empty()) {
      if (auto s = message::checkNodeName(node); !s) return s.error();
      out.nodes_.emplace(node);
    }
    start = end + 1;
  }
  if (!out.all_ && out.nodes_.empty()) return Error{"no node allowed: give \"*\" or node names"};
  return out;
}

AllowedNodes AllowedNodes::anyone() {
  AllowedNodes out;
  out.all_ = true;
  return out;
}

bool AllowedNodes::allows(std::string_view node) const {
  return all_ || nodes_.find(node) != nodes_.end();
}

std::string AllowedNodes::toString() const {
  if (all_) return "*";
  std::string out;
  for (const auto& n : nodes_) out += (out.empty() ? "" : ",") + n;
  return out;
}

std::shared_ptr<Subscriber> Subscriber::create(asio::any_io_executor executor,
                                               transport::Transport& transport, HandlerPool& pool,
                                               SeenMessages& seen,
                                               std::unique_ptr<plugin::MethodInstance> instance,
                                               SubscriberSettings settings, Events events) {
  return std::shared_ptr<Subscriber>(new Subscriber(std::move(executor), transport, pool, seen,
                                                    std::move(instance), std::move(settings),
                                                    std::move(events)));
}

Subscriber::Subscriber(asio::any_io_executor executor, transport::Transport& transport,
                       HandlerPool& pool, SeenMessages& seen,
                       std::unique_ptr<plugin::MethodInstance> instance,
                       SubscriberSettings settings, Events events)
    : strand_(asio::make_strand(executor)),
      transport_(transport),
      pool_(pool),
      seen_(seen),
      instance_(std::move(instance)),
      settings_(std::move(settings)),
      events_(std::move(events)),
      subject_(message::subject(settings_.nodeName, instance_->method().name,
                                instance_->method().kind)) {}

Status Subscriber::start() {
  std::weak_ptr<Subscriber> weak = weak_from_this();
  auto sub = transport_.subscribe(subject_, [weak](transport::Incoming in) {
    if (auto self = weak.lock()) self->onIncoming(std::move(in));
  });
  if (!sub) return sub.error();
  subscription_ = std::move(sub).value();
  return {};
}

void Subscriber::stop() {
  subscription_.reset();
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->queue_.clear();
    for (const auto& call : self->running_) self->instance_->cancel(*call);
  });
}

void Subscriber::refuse(const transport::Incoming& in, const std::string& why) {
  if (!in.replyTo.empty()) (void)transport_.publish(in.replyTo, encodeAck(Ack{false, why}));
  events_.problem(why);
}

// Runs on a transport thread: decode and check here, then hand over to the strand.
void Subscriber::onIncoming(transport::Incoming in) {
  auto decoded = message::decodeWire(in.payload);
  if (!decoded) {
    refuse(in, "node " + settings_.nodeName + " refused a message on " + subject_ + ": " +
                   decoded.error().message);
    return;
  }
  message::Message m = std::move(decoded).value();
  if (m.toNode != settings_.nodeName || m.method != method().name) {
    refuse(in, "node " + settings_.nodeName + " refused message " + std::to_string(m.id) +
                   " from " + m.fromNode + ": it is for " + m.toNode + "/" + m.method +
                   ", not " + settings_.nodeName + "/" + method().name);
    return;
  }
  if (!settings_.allowed.allows(m.fromNode)) {
    refuse(in, "node " + settings_.nodeName + " refused message " + std::to_string(m.id) +
                   " from " + m.fromNode + ": " + m.fromNode + " is not allowed to send " +
                   m.method + " (allowed: " + settings_.allowed.toString() + ")");
    return;
  }
  // A resend of a message already taken (its ACK was lost, or the sender's client flushed
  // copies buffered during an outage): answer again so the sender stops, but do not run it.
  const bool fresh = seen_.insert(m.fromNode, m.id);
  if (!in.replyTo.empty()) (void)transport_.publish(in.replyTo, encodeAck(Ack{true, {}}));
  if (!fresh) {
    STEWARD_LOG(debug) << "duplicate message " << m.id << " from " << m.fromNode << " on "
                       << subject_ << ": ACKed again, not run";
    return;
  }
  asio::post(strand_, [self = shared_from_this(), m = std::move(m)]() mutable {
    if (self->stopped_) return;
    self->queue_.push_back(std::move(m));
    self->pump();
  });
}

void Subscriber::pump() {
  while (!stopped_ && !queue_.empty() && (!method().ordered || running_.empty())) {
    message::Message m = std::move(queue_.front());
    queue_.pop_front();
    run(std::move(m));
  }
}

void Subscriber::run(message::Message m) {
  auto call = std::make_shared<steward_call>();
  running_.insert(call);
  const auto timeout = m.methodTimeout && *m.methodTimeout > 0
                           ? std::chrono::seconds(*m.methodTimeout)
                           : settings_.defaultMethodTimeout;
  auto timer = std::make_shared<asio::steady_timer>(strand_, timeout);
  timer->async_wait(asio::bind_executor(
      strand_, [self = shared_from_this(), call](boost::system::error_code ec) {
        if (!ec) self->instance_->cancel(*call);
      }));
  const int64_t deadlineMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 (std::chrono::system_clock::now() + timeout).time_since_epoch())
                                 .count();
  pool_.submit([self = shared_from_this(), m = std::move(m), call, timer, deadlineMs]() mutable {
    self->execute(m, *call, deadlineMs);
    asio::post(self->strand_, [self, m = std::move(m), call, timer] {
      timer->cancel();
      self->running_.erase(call);
      std::string error;
      {
        std::lock_guard lock(call->mutex);
        error = call->error;
      }
      if (error.empty() && call->cancelled) error = "cancelled: methodTimeout reached or stopped";
      self->events_.handled(m, std::move(call->output), std::move(error));
      self->pump();
    });
  });
}

// Runs on a handler thread.
void Subscriber::execute(const message::Message& m, steward_call& call, int64_t deadlineMs) {
  const std::string fileName = m.fileName.empty() ? m.method + ".log" : m.fileName;
  auto output = message::resolveOutputPath(settings_.dataFolder, m.directory, m.fromNode, fileName);
  if (!output) {
    std::lock_guard lock(call.mutex);
    call.error = "cannot place output: " + output.error().message;
    return;
  }
  const plugin::PreparedRequest request(
      m, plugin::CallContext{settings_.nodeName, settings_.dataFolder.string(), output->string(),
                             fileName, deadlineMs});
  if (!instance_->handle(request.get(), call)) {
    std::lock_guard lock(call.mutex);
    if (call.error.empty()) call.error = m.method + " failed without saying why";
  }
}

}  // namespace steward::process
