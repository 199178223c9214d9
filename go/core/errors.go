package core

import (
	"errors"
	"fmt"
)

// Codes of Error; they mirror enum ray_status_code in include/ray/c_api.h.
const (
	CodeGeneric         = 1
	CodeNotInitialized  = 2
	CodeTimeout         = 3
	CodeInvalidArgument = 4
	CodeShutdown        = 5
	CodeUnknownObject   = 6
	CodeNotFound        = 7
	CodeStoreFull       = 8
)

// Error is a failure with the status code the C ABI reports for it.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrShutdown) (and any other *Error used as a sentinel) match every
// error of the same code, wherever it was made.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf makes an Error.
func Errorf(code int, format string, args ...interface{}) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ErrShutdown is returned by calls that were waiting when the runtime shut down.
var ErrShutdown = &Error{Code: CodeShutdown, Msg: "Ray has been shut down (ray::Shutdown was called or the node went away) while waiting"}

// CodeOf returns the status code for err (CodeGeneric for errors that carry none).
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeGeneric
}
