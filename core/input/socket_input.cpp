#include "core/input/socket_input.hpp"

#include "core/observe/log.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/stat.h>

#include <array>
#include <deque>

namespace steward::input {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

std::string answerLine(const Result<std::vector<uint64_t>>& result) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("ok");
  w.Bool(result.ok());
  if (result.ok()) {
    w.Key("ids");
    w.StartArray();
    for (uint64_t id : result.value()) w.Uint64(id);
    w.EndArray();
  } else {
    w.Key("error");
    w.String(result.error().message.c_str(),
             static_cast<rapidjson::SizeType>(result.error().message.size()));
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

bool completeJson(std::string_view buffer) {
  // SAX parse without building anything: stops after the first complete value. An error before
  // the end of the buffer is a real error, which is complete too (the submit reports it).
  rapidjson::Reader reader;
  rapidjson::BaseReaderHandler<> ignore;
  rapidjson::MemoryStream ms(buffer.data(), buffer.size());
  reader.Parse<rapidjson::kParseStopWhenDoneFlag>(ms, ignore);
  if (!reader.HasParseError()) return true;
  return reader.GetErrorOffset() < buffer.size();
}

ServeFn answerOnce(SubmitFn submit) {
  return [submit = std::move(submit)](std::string_view input, std::shared_ptr<AnswerStream> out) {
    out->line(submit(input));
    out->end();
  };
}

namespace {

// One client connection: read one input, answer it (one line or a stream), close. The same on a
// unix socket and on TCP. Everything runs on the socket's strand.
template <class Socket>
class Session : public AnswerStream, public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, ServeFn serve, StreamLimits limits)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        serve_(std::move(serve)),
        limits_(limits) {}

  void start() {
    arm(limits_.idleTimeout, [](Session& self) {
      self.refuse("input timed out: no complete JSON within " +
                  std::to_string(self.limits_.idleTimeout.count()) + " s");
    });
    read();
  }

  void line(std::string text) override {
    text.push_back('\n');
    asio::post(socket_.get_executor(), [self = this->shared_from_this(), text = std::move(text)]() mutable {
      if (self->closed_) return;
      self->pending_.push_back(std::move(text));
      self->flush();
    });
  }

  void end() override {
    asio::post(socket_.get_executor(), [self = this->shared_from_this()] {
      self->ending_ = true;
      self->flush();
    });
  }

  void keepOpen(std::shared_ptr<void> attachment, std::chrono::seconds maxOpen) override {
    asio::post(socket_.get_executor(), [self = this->shared_from_this(),
                                        attachment = std::move(attachment), maxOpen]() mutable {
      if (self->closed_) return;
      self->attachment_ = std::move(attachment);
      self->arm(maxOpen, [](Session& s) { s.end(); });
    });
  }

 private:
  template <class F>
  void arm(std::chrono::seconds after, F onExpiry) {
    timer_.expires_after(after);
    timer_.async_wait([self = this->shared_from_this(), onExpiry](boost::system::error_code ec) {
      if (!ec) onExpiry(*self);
    });
  }

  void read() {
    socket_.async_read_some(
        asio::buffer(chunk_), [self = this->shared_from_this()](boost::system::error_code ec, size_t n) {
          self->onRead(ec, n);
        });
  }

  void onRead(boost::system::error_code ec, size_t n) {
    if (closed_) return;
    if (answered_) {
      // Only a streamed answer reads on, to notice a client that went away. End of input is
      // not that: nc half-closes and still reads.
      if (ec && ec != asio::error::eof) close();
      if (!ec) read();
      return;
    }
    input_.append(chunk_.data(), n);
    if (input_.size() > limits_.maxBytes) {
      refuse("input is larger than " + std::to_string(limits_.maxBytes) + " bytes");
    } else if (ec || completeJson(input_)) {
      answered_ = true;
      timer_.cancel();
      read();
      serve_(input_, this->shared_from_this());
    } else {
      read();
    }
  }

  void refuse(const std::string& error) {
    if (answered_) return;
    answered_ = true;
    line(answerLine(Result<std::vector<uint64_t>>(Error{error})));
    end();
  }

  void flush() {
    if (writing_ || closed_) return;
    if (pending_.empty()) {
      if (ending_) close();
      return;
    }
    writing_ = true;
    auto text = std::make_shared<std::string>(std::move(pending_.front()));
    pending_.pop_front();
    asio::async_write(socket_, asio::buffer(*text),
                      [self = this->shared_from_this(), text](boost::system::error_code ec, size_t) {
                        self->writing_ = false;
                        if (ec) {
                          self->close();
                        } else {
                          self->flush();
                        }
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    pending_.clear();
    attachment_.reset();
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Socket socket_;
  asio::steady_timer timer_;
  ServeFn serve_;
  StreamLimits limits_;
  std::array<char, 64 * 1024> chunk_{};
  std::string input_;
  std::deque<std::string> pending_;
  std::shared_ptr<void> attachment_;
  bool answered_ = false;
  bool writing_ = false;
  bool ending_ = false;
  bool closed_ = false;
};

}  // namespace

SocketInput::SocketInput(asio::io_context& io, std::filesystem::path socketPath, ServeFn serve,
                         Limits limits)
    : io_(io),
      path_(std::move(socketPath)),
      serve_(std::move(serve)),
      limits_(limits),
      acceptor_(io) {}

SocketInput::~SocketInput() { stop(); }

Status SocketInput::start() {
  std::error_code ec;
  std::filesystem::create_directories(path_.parent_path(), ec);
  if (std::filesystem::is_socket(path_, ec)) std::filesystem::remove(path_, ec);
  try {
    stream::endpoint endpoint(path_.string());
    boost::system::error_code bec;
    acceptor_.open(endpoint.protocol(), bec);
    if (!bec) acceptor_.bind(endpoint, bec);
    if (bec) return Error{"cannot create socket " + path_.string() + ": " + bec.message()};
    // Writing to the socket means commanding the fleet: owner and group only.
    if (::chmod(path_.c_str(), 0660) != 0) {
      return Error{"cannot restrict permissions of socket " + path_.string()};
    }
    acceptor_.listen();
  } catch (const std::exception& e) {
    return Error{"cannot listen on socket " + path_.string() + ": " + e.what()};
  }
  accept();
  return {};
}

void SocketInput::stop() {
  boost::system::error_code ignored;
  if (acceptor_.is_open()) {
    acceptor_.close(ignored);
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

void SocketInput::accept() {
  // Each connection gets a strand: its answer may be written from other threads.
  acceptor_.async_accept(asio::make_strand(io_), [this](boost::system::error_code ec,
                                                        stream::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<Session<stream::socket>>(std::move(socket), serve_, limits_)->start();
    accept();
  });
}

Result<std::pair<std::string, uint16_t>> parseHostPort(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Error{"\"" + address + "\" is not host:port"};
  }
  const std::string host = address.substr(0, colon);
  const std::string portText = address.substr(colon + 1);
  if (portText.empty() || portText.size() > 5 ||
      portText.find_first_not_of("0123456789") != std::string::npos || std::stoul(portText) > 65535) {
    return Error{"\"" + address + "\": the port must be a number from 0 to 65535"};
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoul(portText)));
}

TcpInput::TcpInput(asio::io_context& io, std::string address, ServeFn serve, StreamLimits limits)
    : io_(io),
      address_(std::move(address)),
      serve_(std::move(serve)),
      limits_(limits),
      acceptor_(io) {}

TcpInput::~TcpInput() { stop(); }

Status TcpInput::start() {
  auto hostPort = parseHostPort(address_);
  if (!hostPort) return Error{"tcpListener: " + hostPort.error().message};
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(hostPort->first, ec);
  if (ec) return Error{"tcpListener: \"" + hostPort->first + "\" is not an IP address"};
  const asio::ip::tcp::endpoint endpoint(ip, hostPort->second);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{"tcpListener: cannot listen on " + address_ + ": " + ec.message()};
  accept();
  return {};
}

void TcpInput::stop() {
  boost::system::error_code ignored;
  if (acceptor_.is_open()) acceptor_.close(ignored);
}

uint16_t TcpInput::port() const {
  boost::system::error_code ec;
  return acceptor_.is_open() ? acceptor_.local_endpoint(ec).port() : 0;
}

void TcpInput::accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](boost::system::error_code ec,
                                                        asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      std::make_shared<Session<asio::ip::tcp::socket>>(std::move(socket), serve_, limits_)->start();
    }
    accept();
  });
}

}  // namespace steward::input
