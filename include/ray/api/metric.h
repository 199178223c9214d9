// goray: Ray's C++ API on a Go runtime.
//
// Users' metrics, as Ray's ray/api/metric.h has them: ray::Gauge, ray::Counter, ray::Histogram and
// ray::Sum, recorded with tags from drivers, tasks and actors. Each node serves its processes'
// metrics in Prometheus' text format at http://<node ip>:<metrics export port>/metrics, named
// "ray_<name>" (the port: head_args / `ray start` --metrics-export-port, else any free one, written
// to <session>/metrics_export_port; a cluster's endpoint asks for its token).
#pragma once

#include <ray/api/common.h>
#include <ray/api/ray_exception.h>
#include <ray/c_api.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ray {

/// A metric: a name, a description, a unit and its tag keys. Values are recorded with tags (some
/// of its tag keys; the others are empty).
class Metric {
 public:
  virtual ~Metric() = 0;

  /// The metric's name.
  std::string GetName() const { return name_; }

  /// Records a value with tags (what it means depends on the kind). Throws RayException before
  /// ray::Init, for a tag key the metric lacks, or for a counter going down.
  void Record(double value, const std::unordered_map<std::string, std::string> &tags = {}) {
    uint64_t handle = Define();
    std::vector<const char *> keys, values;
    keys.reserve(tags.size());
    values.reserve(tags.size());
    for (const auto &tag : tags) {
      keys.push_back(tag.first.c_str());
      values.push_back(tag.second.c_str());
    }
    char *err = nullptr;
    int code = ray_metric_record(handle, value, keys.empty() ? nullptr : keys.data(),
                                 values.empty() ? nullptr : values.data(), keys.size(), &err);
    internal::CheckStatus(code, err);
  }

 protected:
  Metric(int kind, std::string name, std::string description, std::string unit,
         std::vector<std::string> tag_keys, std::vector<double> boundaries = {})
      : kind_(kind),
        name_(std::move(name)),
        description_(std::move(description)),
        unit_(std::move(unit)),
        tag_keys_(std::move(tag_keys)),
        boundaries_(std::move(boundaries)) {
    if (ray_is_initialized() == 1) Define();  // a bad definition throws here (else at Record)
  }

 private:
  /// Defines the metric in the runtime (again for each session: the same handle when it is).
  uint64_t Define() const {
    std::vector<const char *> keys;
    keys.reserve(tag_keys_.size());
    for (const auto &k : tag_keys_) keys.push_back(k.c_str());
    uint64_t handle = 0;
    char *err = nullptr;
    int code = ray_metric_define(kind_, name_.data(), name_.size(), description_.data(),
                                 description_.size(), unit_.data(), unit_.size(),
                                 keys.empty() ? nullptr : keys.data(), keys.size(),
                                 boundaries_.empty() ? nullptr : boundaries_.data(),
                                 boundaries_.size(), &handle, &err);
    internal::CheckStatus(code, err);
    return handle;
  }

  int kind_;
  std::string name_;
  std::string description_;
  std::string unit_;
  std::vector<std::string> tag_keys_;
  std::vector<double> boundaries_;
};

inline Metric::~Metric() = default;

/// Keeps the last value recorded (Prometheus' gauge).
class Gauge : public Metric {
 public:
  Gauge(const std::string &name, const std::string &description, const std::string &unit,
        const std::vector<std::string> &tag_keys = {})
      : Metric(RAY_METRIC_GAUGE, name, description, unit, tag_keys) {}

  /// Sets the gauge to value.
  void Set(double value, const std::unordered_map<std::string, std::string> &tags = {}) {
    Record(value, tags);
  }
};

/// Counts observations in buckets at boundaries (Prometheus' histogram).
class Histogram : public Metric {
 public:
  Histogram(const std::string &name, const std::string &description, const std::string &unit,
            const std::vector<double> boundaries, const std::vector<std::string> &tag_keys = {})
      : Metric(RAY_METRIC_HISTOGRAM, name, description, unit, tag_keys, boundaries) {}

  /// Adds an observation of value to its bucket.
  void Observe(double value, const std::unordered_map<std::string, std::string> &tags = {}) {
    Record(value, tags);
  }
};

/// Grows, never down (Prometheus' counter).
class Counter : public Metric {
 public:
  Counter(const std::string &name, const std::string &description, const std::string &unit,
          const std::vector<std::string> &tag_keys = {})
      : Metric(RAY_METRIC_COUNTER, name, description, unit, tag_keys) {}

  /// Increments the counter by value (at least 0).
  void Inc(double value = 1.0, const std::unordered_map<std::string, std::string> &tags = {}) {
    Record(value, tags);
  }
};

/// The sum of the values recorded, up or down.
class Sum : public Metric {
 public:
  Sum(const std::string &name, const std::string &description, const std::string &unit,
      const std::vector<std::string> &tag_keys = {})
      : Metric(RAY_METRIC_SUM, name, description, unit, tag_keys) {}
};

}  // namespace ray
