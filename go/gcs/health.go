package gcs

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Ray's health-check settings, by their environment variables (Ray's defaults: a check every 3 s,
// dead after 5 missed).
const (
	EnvHealthCheckPeriodMs         = "RAY_health_check_period_ms"
	EnvHealthCheckFailureThreshold = "RAY_health_check_failure_threshold"
)

// Health says when a node that stopped reporting is dead: it reports every Period, and is dead
// once Threshold periods have passed since its last report.
type Health struct {
	Period    time.Duration
	Threshold int
}

// DefaultHealth is Ray's: every 3 s, dead after 5 missed.
var DefaultHealth = Health{Period: 3 * time.Second, Threshold: 5}

// HealthFromEnv reads the settings from Ray's environment variables; a value that is not a
// positive number keeps the default.
func HealthFromEnv() Health {
	h := DefaultHealth
	if v, err := strconv.Atoi(os.Getenv(EnvHealthCheckPeriodMs)); err == nil && v > 0 && v < 3_600_000 {
		h.Period = time.Duration(v) * time.Millisecond
	}
	if v, err := strconv.Atoi(os.Getenv(EnvHealthCheckFailureThreshold)); err == nil && v > 0 && v < 1_000_000 {
		h.Threshold = v
	}
	return h
}

// Dead tells why a node last heard of at last is dead at now ("" while it is alive): it missed
// Threshold checks in a row.
func (h Health) Dead(last, now time.Time) string {
	silent := now.Sub(last)
	missed := int(silent / h.Period)
	if missed < h.Threshold {
		return ""
	}
	return fmt.Sprintf("missed %d health checks in a row (no report for %v; a check every %v, dead after %d missed)",
		missed, silent.Round(time.Millisecond), h.Period, h.Threshold)
}
