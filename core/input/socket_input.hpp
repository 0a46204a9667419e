// Operator input on a unix socket (<socketFolder>/steward.sock). A client writes a JSON array of
// messages and gets one line back: the ids accepted, or the error. The input ends when the client
// closes its side or when a complete JSON value has arrived, so `nc -U steward.sock < msg.json`
// works whether or not nc half-closes. Limits (listener.hpp): 256 connections, 16 MiB and 30 s
// per input, 64 MiB of unfinished input in all, 32 levels of nesting. An answer may also be a stream of lines (steward-ctl
// follows the replies to what it sent, see operator_input.hpp).
#pragma once

#include "core/net/listener.hpp"
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

// Where the answer to one input goes: lines, in order, then the end of the connection.
// Thread-safe; lines written after the client went away are dropped.
class AnswerStream {
 public:
  virtual ~AnswerStream() = default;
  virtual void line(std::string text) = 0;  // without the newline
  // Closes the connection once the lines so far are written.
  virtual void end() = 0;
  // Keeps `attachment` alive while the connection is open, and ends it after `maxOpen` at most.
  virtual void keepOpen(std::shared_ptr<void> attachment, std::chrono::seconds maxOpen) = 0;
};

// Handles one complete input, answering on `out` (now or later).
using ServeFn = std::function<void(std::string_view input, std::shared_ptr<AnswerStream> out)>;
// Handles one complete input and returns the answer line (without the newline).
using SubmitFn = std::function<std::string(std::string_view input)>;
// A ServeFn that answers one line and ends.
ServeFn answerOnce(SubmitFn submit);

// The answer line for an input: {"ok":true,"ids":[…]} or {"ok":false,"error":"…"}.
std::string answerLine(const Result<std::vector<uint64_t>>& result);

class SocketInput {
 public:
  SocketInput(boost::asio::io_context& io, std::filesystem::path socketPath, ServeFn serve,
              net::ConnectionLimits limits = {});
  ~SocketInput();

  // Creates the socket (replacing a stale one), readable and writable by owner and group only.
  Status start();
  void stop();
  // The connections open now, and the input bytes they hold. Thread-safe.
  const net::ConnectionTable& connections() const { return *table_; }

 private:
  void accept();

  boost::asio::io_context& io_;
  std::filesystem::path path_;
  ServeFn serve_;
  std::shared_ptr<net::ConnectionTable> table_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::shared_ptr<net::AcceptLoop<boost::asio::local::stream_protocol::acceptor>> loop_;
};

// The same protocol on TCP (the spec's tcpListener). Unauthenticated: bind it to 127.0.0.1 or a
// trusted interface only.
class TcpInput {
 public:
  TcpInput(boost::asio::io_context& io, std::string address, ServeFn serve,
           net::ConnectionLimits limits = {});
  ~TcpInput();
  // Listens on the address ("host:port"; port 0 picks a free one).
  Status start();
  void stop();
  uint16_t port() const;

 private:
  void accept();

  boost::asio::io_context& io_;
  std::string address_;
  ServeFn serve_;
  std::shared_ptr<net::ConnectionTable> table_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<net::AcceptLoop<boost::asio::ip::tcp::acceptor>> loop_;
};

}  // namespace steward::input
