package main

/*
#define RAY_C_API_NO_FUNCTIONS
#include "ray/c_api.h"
*/
import "C"

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/golang/glog"
)

func setFlag(name, value string) error { return flag.Set(name, value) }

//export ray_log
func ray_log(severity C.int, file *C.char, line C.int, msg *C.char, msgLen C.size_t) {
	where := "?"
	if file != nil {
		where = filepath.Base(C.GoString(file))
	}
	body := ""
	if msg != nil {
		body = C.GoStringN(msg, C.int(msgLen))
	}
	text := fmt.Sprintf("%s:%d] %s", where, int(line), body)
	switch severity {
	case C.RAY_LOG_DEBUG:
		glog.V(1).Info(text)
	case C.RAY_LOG_INFO:
		glog.Info(text)
	case C.RAY_LOG_WARNING:
		glog.Warning(text)
	case C.RAY_LOG_ERROR:
		glog.Error(text)
	case C.RAY_LOG_FATAL:
		glog.Fatal(text)
	default:
		glog.Errorf("(unknown severity %d) %s", int(severity), text)
	}
}

//export ray_log_enabled
func ray_log_enabled(severity C.int) C.int {
	if severity == C.RAY_LOG_DEBUG && !glog.V(1) {
		return 0
	}
	return 1
}
