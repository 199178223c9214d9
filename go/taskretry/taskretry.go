// Package taskretry holds Ray's rules for retrying a task: how many retries a task has (its
// max_retries, the process's default from RAY_TASK_MAX_RETRIES, or Ray's 3), using one, which
// failures are retried, and how the final error says how many attempts were made. The node
// manager, the worker leases of the core worker and local mode all apply them.
package taskretry

import (
	"fmt"
	"strconv"
)

const (
	// Unlimited is max_retries -1: retry for as long as it takes.
	Unlimited = -1
	// Default is max_retries of a task that did not set it (RAY_TASK_RETRIES_DEFAULT in c_api.h):
	// the submitting process's default.
	Default = -2
	// RayDefault is Ray's default number of retries of a task.
	RayDefault = 3
	// EnvMaxRetries sets a process's default (Ray's variable of the same name).
	EnvMaxRetries = "RAY_TASK_MAX_RETRIES"
)

// ParseDefault is the default number of retries that the value of EnvMaxRetries sets ("":
// RayDefault).
func ParseDefault(v string) (int, error) {
	if v == "" {
		return RayDefault, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < Unlimited {
		return 0, fmt.Errorf("%s=%q: want a whole number of retries, or -1 for no limit", EnvMaxRetries, v)
	}
	return n, nil
}

// Resolve is the number of retries of a task that asks for maxRetries, given the default.
func Resolve(maxRetries int32, def int) int {
	if maxRetries < Unlimited {
		return def
	}
	return int(maxRetries)
}

// Take uses one of *left retries (Unlimited: never runs out) and reports whether there was one.
func Take(left *int) bool {
	switch {
	case *left == Unlimited:
		return true
	case *left > 0:
		*left--
		return true
	}
	return false
}

// Fewer is the smaller of two counts of retries left (Unlimited is more than any).
func Fewer(a, b int) int {
	if a == Unlimited || (b != Unlimited && b < a) {
		return b
	}
	return a
}

// Has tells whether left retries remain.
func Has(left int) bool { return left == Unlimited || left > 0 }

// Describe says how many retries remain, for messages.
func Describe(left int) string {
	if left == Unlimited {
		return "no limit on retries"
	}
	return fmt.Sprintf("%d retries left", left)
}

// Attempts is what a final error adds after attempts attempts ("" for one).
func Attempts(attempts int) string {
	if attempts <= 1 {
		return ""
	}
	return fmt.Sprintf(" (the task was attempted %d times)", attempts)
}

// WithAttempts is an error's message (data) followed by what Attempts says of attempts (a copy).
func WithAttempts(data []byte, attempts int) []byte {
	return append(append([]byte(nil), data...), Attempts(attempts)...)
}
