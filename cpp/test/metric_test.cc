// goray: users' metrics (ray/api/metric.h) recorded from the driver, a task and an actor, and
// read back from the endpoint that serves them in Prometheus' text format, in local mode and on
// an embedded node.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <ray/api/metric.h>

#include "remote_functions.h"
#include "test_util.h"

using goray_test::Contains;

namespace {

// A free TCP port on 127.0.0.1 (bound and released: the runtime binds it next).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// The body of GET http://127.0.0.1:port/path ("" when it cannot be had).
std::string HttpGet(int port, const std::string &path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  close(fd);
  auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

// Scrapes until every line of want is there (values from other processes reach the node
// shortly), or 20 s pass; returns the last scrape.
std::string ScrapeUntil(int port, const std::vector<std::string> &want) {
  std::string body;
  for (int i = 0; i < 200; i++) {
    body = HttpGet(port, "/metrics");
    bool all = true;
    for (const auto &w : want) all = all && Contains(body, w);
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return body;
}

class MetricTest : public goray_test::RayHeadArgsTest {
 protected:
  std::vector<std::string> HeadArgs() override {
    port_ = FreePort();
    return {"--num-cpus", "2", "--metrics-export-port", std::to_string(port_)};
  }
  int port_ = 0;
};

TEST_F(MetricTest, DriverTaskAndActorRecord) {
  ray::Gauge gauge("pending_jobs", "jobs waiting", "jobs", {"queue"});
  ray::Counter counter("handled", "requests handled", "requests", {"who"});
  ray::Histogram histogram("latency_ms", "request latency", "ms", {1, 10, 100}, {});
  ray::Sum sum("balance", "money in and out", "coins");
  gauge.Set(7, {{"queue", "a"}});
  gauge.Set(3, {{"queue", "a"}});
  counter.Inc(2, {{"who", "driver"}});
  counter.Inc(1, {{"who", "driver"}});
  histogram.Observe(5);
  histogram.Observe(50);
  sum.Record(10);
  sum.Record(-4);
  EXPECT_EQ(gauge.GetName(), "pending_jobs");
  // A task and an actor record into the same metric (their own processes in node mode).
  EXPECT_EQ(*ray::Get(ray::Task(CountHandled).Remote(std::string("task"), 5)), 5);
  auto actor = ray::Actor(Counter::FactoryCreate).Remote(0);
  EXPECT_EQ(*ray::Get(actor.Task(&Counter::CountHandled).Remote(4)), 4);
  std::string body = ScrapeUntil(port_, {
                                            "ray_pending_jobs{queue=\"a\"} 3",
                                            "ray_handled{who=\"driver\"} 3",
                                            "ray_handled{who=\"task\"} 5",
                                            "ray_handled{who=\"actor\"} 4",
                                            "ray_latency_ms_bucket{le=\"10\"} 1",
                                            "ray_latency_ms_count 2",
                                            "ray_balance 6",
                                            "# HELP ray_pending_jobs jobs waiting (jobs)",
                                        });
  for (const char *want : {"ray_pending_jobs{queue=\"a\"} 3", "ray_handled{who=\"driver\"} 3",
                           "ray_handled{who=\"task\"} 5", "ray_handled{who=\"actor\"} 4",
                           "ray_latency_ms_bucket{le=\"10\"} 1", "ray_latency_ms_count 2",
                           "ray_balance 6"}) {
    EXPECT_TRUE(Contains(body, want)) << want << " is not in:\n" << body;
  }
}

TEST_F(MetricTest, BadUseThrows) {
  ray::Counter counter("only_up", "a counter", "");
  EXPECT_THROW(counter.Inc(-1), ray::internal::RayException);
  EXPECT_THROW(counter.Inc(1, {{"nokey", "x"}}), ray::internal::RayException);
  EXPECT_THROW(ray::Gauge("bad name", "", ""), ray::internal::RayException);
  EXPECT_THROW(ray::Histogram("h", "", "", {10, 1}), ray::internal::RayException);
  EXPECT_THROW(ray::Gauge("only_up", "another kind, same name", ""), ray::internal::RayException);
  ray::Gauge tagged("tagged", "", "", {"k"});
  EXPECT_THROW(tagged.Set(1, {{"k", std::string("\xff\xfe")}}), ray::internal::RayException);
  // The same definition again is the same metric.
  ray::Counter again("only_up", "a counter", "");
  again.Inc(2);
  counter.Inc(1);
  std::string body = ScrapeUntil(port_, {"ray_only_up 3"});
  EXPECT_TRUE(Contains(body, "ray_only_up 3")) << body;
}

TEST(MetricBeforeInitTest, RecordBeforeInitThrows) {
  ray::Gauge gauge("early", "made before Init", "");  // (defined when first recorded)
  EXPECT_THROW(gauge.Set(1), ray::internal::RayException);
}

}  // namespace
