// Addresses for the listeners: "host:port" parsed, and a TCP acceptor opened on one.
#pragma once

#include "core/util/result.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace steward::net {

// "host:port" -> host and port; an error names what is wrong.
inline Result<std::pair<std::string, uint16_t>> parseHostPort(const std::string& address) {
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

// Opens `acceptor` listening on `address` ("ip:port"; port 0 picks a free one); an error names
// what is wrong.
inline Status listenTcp(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address) {
  namespace asio = boost::asio;
  auto hostPort = parseHostPort(address);
  if (!hostPort) return hostPort.error();
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(hostPort->first, ec);
  if (ec) return Error{"\"" + hostPort->first + "\" is not an IP address"};
  const asio::ip::tcp::endpoint endpoint(ip, hostPort->second);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{"cannot listen on " + address + ": " + ec.message()};
  return {};
}

}  // namespace steward::net
