#include "core/input/socket_input.hpp"

#include "core/observe/log.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/stat.h>

#include <array>

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

namespace {

// One client connection: read, answer once, close. The same on a unix socket and on TCP.
template <class Socket>
class Session : public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, SubmitFn submit, StreamLimits limits)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        submit_(std::move(submit)),
        limits_(limits) {}

  void start() {
    timer_.expires_after(limits_.idleTimeout);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->finish("input timed out: no complete JSON within " +
                            std::to_string(self->limits_.idleTimeout.count()) + " s");
    });
    read();
  }

 private:
  void read() {
    socket_.async_read_some(
        asio::buffer(chunk_), [self = this->shared_from_this()](boost::system::error_code ec, size_t n) {
          if (self->done_) return;
          self->input_.append(self->chunk_.data(), n);
          if (self->input_.size() > self->limits_.maxBytes) {
            self->finish("input is larger than " + std::to_string(self->limits_.maxBytes) +
                         " bytes");
          } else if (ec || completeJson(self->input_)) {
            self->finish({});
          } else {
            self->read();
          }
        });
  }

  void finish(const std::string& error) {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    auto answer = std::make_shared<std::string>(
        error.empty() ? submit_(input_) : answerLine(Result<std::vector<uint64_t>>(Error{error})));
    answer->push_back('\n');
    asio::async_write(socket_, asio::buffer(*answer),
                      [self = this->shared_from_this(), answer](boost::system::error_code, size_t) {
                        boost::system::error_code ignored;
                        self->socket_.shutdown(Socket::shutdown_both, ignored);
                        self->socket_.close(ignored);
                      });
  }

  Socket socket_;
  asio::steady_timer timer_;
  SubmitFn submit_;
  StreamLimits limits_;
  std::array<char, 64 * 1024> chunk_{};
  std::string input_;
  bool done_ = false;
};

}  // namespace

SocketInput::SocketInput(asio::io_context& io, std::filesystem::path socketPath, SubmitFn submit,
                         Limits limits)
    : io_(io),
      path_(std::move(socketPath)),
      submit_(std::move(submit)),
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
  acceptor_.async_accept([this](boost::system::error_code ec, stream::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<Session<stream::socket>>(std::move(socket), submit_, limits_)->start();
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

TcpInput::TcpInput(asio::io_context& io, std::string address, SubmitFn submit, StreamLimits limits)
    : address_(std::move(address)), submit_(std::move(submit)), limits_(limits), acceptor_(io) {}

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
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      std::make_shared<Session<asio::ip::tcp::socket>>(std::move(socket), submit_, limits_)->start();
    }
    accept();
  });
}

}  // namespace steward::input
