// Operator input on a unix socket (<socketFolder>/steward.sock). A client writes a JSON array of
// messages and gets one line back: the ids accepted, or the error. The input ends when the client
// closes its side or when a complete JSON value has arrived, so `nc -U steward.sock < msg.json`
// works whether or not nc half-closes.
#pragma once

#include "core/util/result.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace steward::input {

// Handles one complete input and returns the answer line (without the newline).
using SubmitFn = std::function<std::string(std::string_view input)>;

// The answer line for an input: {"ok":true,"ids":[…]} or {"ok":false,"error":"…"}.
std::string answerLine(const Result<std::vector<uint64_t>>& result);

// True when `buffer` holds one complete JSON value (trailing bytes allowed).
bool completeJson(std::string_view buffer);

struct StreamLimits {
  size_t maxBytes = 16 * 1024 * 1024;
  std::chrono::seconds idleTimeout{30};
};

// "host:port" -> host and port; an error names what is wrong.
Result<std::pair<std::string, uint16_t>> parseHostPort(const std::string& address);

class SocketInput {
 public:
  using Limits = StreamLimits;

  SocketInput(boost::asio::io_context& io, std::filesystem::path socketPath, SubmitFn submit,
              Limits limits);
  SocketInput(boost::asio::io_context& io, std::filesystem::path socketPath, SubmitFn submit)
      : SocketInput(io, std::move(socketPath), std::move(submit), Limits{}) {}
  ~SocketInput();

  // Creates the socket (replacing a stale one), readable and writable by owner and group only.
  Status start();
  void stop();

 private:
  void accept();

  boost::asio::io_context& io_;
  std::filesystem::path path_;
  SubmitFn submit_;
  Limits limits_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
};

// The same protocol on TCP (the spec's tcpListener). Unauthenticated: bind it to 127.0.0.1 or a
// trusted interface only.
class TcpInput {
 public:
  TcpInput(boost::asio::io_context& io, std::string address, SubmitFn submit,
           StreamLimits limits = {});
  ~TcpInput();
  // Listens on the address ("host:port"; port 0 picks a free one).
  Status start();
  void stop();
  uint16_t port() const;

 private:
  void accept();

  std::string address_;
  SubmitFn submit_;
  StreamLimits limits_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace steward::input
