// raycompat shim for Ray's internal "ray/util/network_util.h".
//
// cluster_mode_test.cc asks it for this machine's address (to start a head node with
// --external_cluster) and joins an address and a port. The kit keeps every node on loopback, so
// the address is always 127.0.0.1.
#pragma once
#include <string>

namespace ray {
inline std::string GetNodeIpAddressFromPerspective() { return "127.0.0.1"; }

inline std::string BuildAddress(const std::string &host, int port) {
  return host + ":" + std::to_string(port);
}
}  // namespace ray
