#include "core/input/socket_input.hpp"

#include "core/net/address.hpp"
#include "core/util/log.hpp"
#include "core/util/json.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <malloc.h>
#include <sys/stat.h>

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
    if (const auto code = codeName(result.error().code); !code.empty()) {
      w.Key("code");
      w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
    }
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

ServeFn answerOnce(SubmitFn submit) {
  return [submit = std::move(submit)](std::string_view input, std::shared_ptr<AnswerStream> out) {
    out->line(submit(input));
    out->end();
  };
}

namespace {

// One client connection: read one input, answer it (one line or a stream), close. The same on a
// unix socket and on TCP. Everything runs on the connection's strand.
//
// While it waits for bytes a connection holds no buffer (it waits for the socket to be readable,
// then reads what is there), and the input it gathered is freed as soon as it has been served.
template <class Socket>
class Session : public net::Connection,
                public AnswerStream,
                public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, ServeFn serve, std::shared_ptr<net::ConnectionTable> table)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        serve_(std::move(serve)),
        table_(std::move(table)) {}

  ~Session() override { table_->release(reserved_); }

  void start() {
    if (!table_->admit(this->shared_from_this())) {
      refuse("too many connections (" + std::to_string(table_->limits().maxConnections) +
                 ") are being answered; try again later",
             Code::busy);
      return;
    }
    // Reads happen only once the socket is readable, and never block an io thread.
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
    arm(table_->limits().inputTimeout, [](Session& self) {
      self.refuse("input timed out: no complete JSON within " +
                      std::to_string(self.table_->limits().inputTimeout.count()) + " s",
                  Code::timedOut);
    });
    waitForInput();
  }

  void evict(const std::string& why) override {
    asio::post(socket_.get_executor(), [self = this->shared_from_this(), why] { self->refuse(why, Code::busy); });
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

  void waitForInput() {
    if (waiting_ || peerClosed_ || closed_) return;
    waiting_ = true;
    socket_.async_wait(Socket::wait_read, [self = this->shared_from_this()](boost::system::error_code ec) {
      self->waiting_ = false;
      self->onReadable(ec);
    });
  }

  // Reads what the socket holds (at least one byte, or the end of input).
  void onReadable(boost::system::error_code ec) {
    if (closed_) return;
    if (ec) return close();
    read();
    if (peerClosed_ && lingering_) close();
  }

  void read() {
    boost::system::error_code readError;
    if (!reading()) {
      // Once answered, reading goes on only to notice a client that went away (a streamed
      // answer) or, after the answer, to take what a refused client still sends until it closes
      // (closing on unread bytes would reset the connection and lose the answer). End of input
      // is not "gone" for a streamed answer: nc half-closes and still reads.
      char discard[4096];
      socket_.read_some(asio::buffer(discard), readError);
      if (readError == asio::error::would_block) return waitForInput();
      if (readError == asio::error::eof) {
        peerClosed_ = true;
        return;
      }
      if (readError) return close();
      return waitForInput();
    }
    const size_t limit = table_->limits().maxInputBytes;
    const size_t available = std::max<size_t>(1, socket_.available(readError));
    const size_t want = std::min(available, limit + 1 - input_.size());
    if (!table_->reserve(want)) {
      return refuse("input refused: " + std::to_string(table_->buffered() >> 20) +
                        " MiB of unfinished input already wait on this listener; try again later",
                    Code::busy);
    }
    reserved_ += want;
    const size_t before = input_.size();
    input_.resize(before + want);
    const size_t n = socket_.read_some(asio::buffer(input_.data() + before, want), readError);
    input_.resize(before + n);
    table_->release(want - n);
    reserved_ -= want - n;
    if (readError == asio::error::would_block) return waitForInput();
    if (readError && readError != asio::error::eof) return close();
    if (readError == asio::error::eof) peerClosed_ = true;
    if (input_.size() > limit) {
      return refuse("input is larger than " + std::to_string(limit) + " bytes", Code::tooLarge);
    }
    const auto framed = framer_.feed(input_);
    if (framed == json::Framer::State::tooDeep) {
      return refuse("input nests deeper than " + std::to_string(json::kMaxDepth) +
                        " levels of arrays and objects (at byte " +
                        std::to_string(framer_.scanned() - 1) + ")",
                    Code::tooDeep);
    }
    if (framed == json::Framer::State::incomplete && !readError) return waitForInput();
    serve();
  }

  void serve() {
    answered();
    timer_.cancel();
    waitForInput();
    serve_(input_, this->shared_from_this());
    // Served: the input is not needed any more, and a large one goes back to the system.
    const size_t size = input_.size();
    dropInput();
    if (size >= kTrimAfterBytes) ::malloc_trim(0);
  }

  void refuse(const std::string& error, Code code) {
    if (!reading() || closed_) return;
    answered();
    dropInput();
    waitForInput();
    line(answerLine(Result<std::vector<uint64_t>>(Error{error, code})));
    end();
  }

  // Frees the gathered input and gives its bytes back to the listener's budget.
  void dropInput() {
    std::string().swap(input_);
    table_->release(reserved_);
    reserved_ = 0;
  }

  void flush() {
    if (writing_ || closed_) return;
    if (pending_.empty()) {
      if (ending_) linger();
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

  // Everything is written: says so (FIN), then takes what the client still sends until it
  // closes too, for at most kLinger, so the answer is not lost to a reset.
  void linger() {
    if (lingering_ || closed_) return;
    lingering_ = true;
    if (peerClosed_) return close();
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    attachment_.reset();
    arm(kLinger, [](Session& self) { self.close(); });
    waitForInput();
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
    table_->leave(this);
  }

  // Inputs this large are followed by malloc_trim, so a burst of them does not stay resident.
  static constexpr size_t kTrimAfterBytes = 1024 * 1024;
  static constexpr std::chrono::seconds kLinger{2};

  Socket socket_;
  asio::steady_timer timer_;
  ServeFn serve_;
  std::shared_ptr<net::ConnectionTable> table_;
  json::Framer framer_;
  std::string input_;
  size_t reserved_ = 0;  // bytes of input_ counted in the table's budget
  std::deque<std::string> pending_;
  std::shared_ptr<void> attachment_;
  bool writing_ = false;
  bool ending_ = false;
  bool lingering_ = false;
  bool waiting_ = false;     // a wait for input is pending
  bool peerClosed_ = false;  // the client ended its side
  bool closed_ = false;
};

}  // namespace

SocketInput::SocketInput(asio::io_context& io, std::filesystem::path socketPath, ServeFn serve,
                         net::ConnectionLimits limits)
    : io_(io),
      path_(std::move(socketPath)),
      serve_(std::move(serve)),
      table_(std::make_shared<net::ConnectionTable>(limits)),
      acceptor_(io) {}

SocketInput::~SocketInput() { stop(); }

Status SocketInput::start() {
  std::error_code ec;
  std::filesystem::create_directories(path_.parent_path(), ec);
  // Made under another name and put in place once it listens with its final permissions: a
  // client that sees the socket can connect (no refusal between bind and listen), and nobody
  // can connect while its mode is still the umask's.
  const std::filesystem::path fresh = path_.string() + ".new";
  if (std::filesystem::is_socket(fresh, ec)) std::filesystem::remove(fresh, ec);
  try {
    stream::endpoint endpoint(fresh.string());
    boost::system::error_code bec;
    acceptor_.open(endpoint.protocol(), bec);
    if (!bec) acceptor_.bind(endpoint, bec);
    if (bec) return Error{"cannot create socket " + fresh.string() + ": " + bec.message()};
    // Writing to the socket means commanding the fleet: owner and group only.
    if (::chmod(fresh.c_str(), 0660) != 0) {
      std::filesystem::remove(fresh, ec);
      return Error{"cannot restrict permissions of socket " + fresh.string()};
    }
    acceptor_.listen();
  } catch (const std::exception& e) {
    std::filesystem::remove(fresh, ec);
    return Error{"cannot listen on socket " + path_.string() + ": " + e.what()};
  }
  if (std::filesystem::is_socket(path_, ec)) std::filesystem::remove(path_, ec);
  std::filesystem::rename(fresh, path_, ec);
  if (ec) {
    std::filesystem::remove(fresh, ec);
    return Error{"cannot put socket " + path_.string() + " in place: " + ec.message()};
  }
  accept();
  return {};
}

void SocketInput::stop() {
  if (loop_) loop_->stop();
  boost::system::error_code ignored;
  if (acceptor_.is_open()) {
    acceptor_.close(ignored);
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

void SocketInput::accept() {
  // Each connection gets a strand: its answer may be written from other threads.
  loop_ = std::make_shared<net::AcceptLoop<stream::acceptor>>(
      io_, acceptor_, "socket " + path_.string(), [serve = serve_, table = table_](stream::socket socket) {
        std::make_shared<Session<stream::socket>>(std::move(socket), serve, table)->start();
      });
  loop_->start();
}

TcpInput::TcpInput(asio::io_context& io, std::string address, ServeFn serve, net::ConnectionLimits limits)
    : io_(io),
      address_(std::move(address)),
      serve_(std::move(serve)),
      table_(std::make_shared<net::ConnectionTable>(limits)),
      acceptor_(io) {}

TcpInput::~TcpInput() { stop(); }

Status TcpInput::start() {
  if (auto s = net::listenTcp(acceptor_, address_); !s) return Error{"tcpListener: " + s.error().message};
  accept();
  return {};
}

void TcpInput::stop() {
  if (loop_) loop_->stop();
  boost::system::error_code ignored;
  if (acceptor_.is_open()) acceptor_.close(ignored);
}

uint16_t TcpInput::port() const {
  boost::system::error_code ec;
  return acceptor_.is_open() ? acceptor_.local_endpoint(ec).port() : 0;
}

void TcpInput::accept() {
  loop_ = std::make_shared<net::AcceptLoop<asio::ip::tcp::acceptor>>(
      io_, acceptor_, "tcpListener " + address_,
      [serve = serve_, table = table_](asio::ip::tcp::socket socket) {
        std::make_shared<Session<asio::ip::tcp::socket>>(std::move(socket), serve, table)->start();
      });
  loop_->start();
}

}  // namespace steward::input
