# Builds the install tree dist/: include/ (our headers + msgpack-c's), lib/libray_api.so (the Go
# runtime) and bin/default_worker. `make example` also builds example.cc against it.
GO ?= go
CXX ?= g++
DIST := dist
MSGPACK_INCLUDE ?= /usr/include

GO_SRCS := $(shell find go -name '*.go' -o -name '*.c' -o -name 'go.mod' -o -name 'go.sum' -o -name '*.map') include/ray/c_api.h
HEADERS := $(shell find include -type f)

.PHONY: all clean example
all: $(DIST)/lib/libray_api.so $(DIST)/include/.stamp $(DIST)/bin/default_worker

$(DIST)/lib/libray_api.so: $(GO_SRCS)
	@mkdir -p $(DIST)/lib
	cd go && $(GO) build -buildmode=c-shared \
		-ldflags "-extldflags -Wl,--version-script=$(CURDIR)/go/capi/exports.map" \
		-o $(CURDIR)/$(DIST)/lib/libray_api.so ./capi
	@rm -f $(DIST)/lib/libray_api.h

$(DIST)/include/.stamp: $(HEADERS)
	@test -f $(MSGPACK_INCLUDE)/msgpack.hpp || { echo "msgpack-c headers missing: apt-get install libmsgpack-cxx-dev" >&2; exit 1; }
	@rm -rf $(DIST)/include && mkdir -p $(DIST)/include
	cp -r include/ray $(DIST)/include/
	cp -r $(MSGPACK_INCLUDE)/msgpack.hpp $(MSGPACK_INCLUDE)/msgpack $(DIST)/include/
	@touch $@

$(DIST)/bin/default_worker: cpp/worker/default_worker.cc include/ray/c_api.h $(DIST)/lib/libray_api.so
	@mkdir -p $(DIST)/bin
	$(CXX) -std=c++17 -O2 -Wall -Iinclude $< -o $@ -L$(DIST)/lib -lray_api -ldl -Wl,-rpath,'$$ORIGIN/../lib'

example: all
	@mkdir -p build
	$(CXX) -std=c++17 -O2 -I$(DIST)/include example.cc -o build/example -L$(DIST)/lib -lray_api -Wl,-rpath,$(CURDIR)/$(DIST)/lib

clean:
	rm -rf $(DIST) build
