// Tells the service manager how the daemon stands (systemd's Type=notify protocol: "READY=1",
// "STOPPING=1", "STATUS=…" datagrams to the unix socket named by $NOTIFY_SOCKET).
//
// The protocol is one datagram on a documented, stable interface (sd_notify(3), "Interface
// Portability and Stability"); speaking it here instead of through libsystemd keeps libsystemd and
// the six libraries it pulls in (gcrypt, gpg-error, lzma, zstd, lz4, cap) out of every node: about
// 1 MiB of a node's resident memory at rest, and seven fewer libraries loaded into a root daemon.
#pragma once

#include <string_view>

namespace steward {

// Sends `state` to $NOTIFY_SOCKET; returns false when there is none (not started by a service
// manager), it is not a usable address, or the send fails. Never throws, never blocks for long
// (a datagram socket); the daemon goes on either way, as it would with sd_notify.
bool notifyServiceManager(std::string_view state);

}  // namespace steward
