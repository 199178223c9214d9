# Builds the install tree dist/: include/ (our headers, and msgpack-c's and nlohmann/json's copied
# from Debian's libmsgpack-cxx-dev and nlohmann-json3-dev), lib/libray_api.so (the Go runtime) and
# bin/default_worker. `make example` also builds example.cc against it.
GO ?= go
CXX ?= g++
DIST := dist
MSGPACK_INCLUDE ?= /usr/include
NLOHMANN_INCLUDE ?= /usr/include

GO_SRCS := $(shell find go -name '*.go' -o -name '*.c' -o -name 'go.mod' -o -name 'go.sum' -o -name '*.lds' -o -path 'go/dashboard/web/*' -type f) include/ray/c_api.h
HEADERS := $(shell find include -type f)

.PHONY: all clean example
all: $(DIST)/lib/libray_api.so $(DIST)/include/.stamp $(DIST)/bin/default_worker $(DIST)/bin/ray \
	$(DIST)/share/goray/template/.stamp $(DIST)/lib/pkgconfig/ray.pc $(DIST)/lib/cmake/ray/rayConfig.cmake

$(DIST)/lib/libray_api.so: $(GO_SRCS)
	@mkdir -p $(DIST)/lib
	cd go && $(GO) build -buildmode=c-shared \
		-ldflags "-extldflags -Wl,--version-script=$(CURDIR)/go/capi/exports.lds" \
		-o $(CURDIR)/$(DIST)/lib/libray_api.so ./capi
	@rm -f $(DIST)/lib/libray_api.h

$(DIST)/include/.stamp: $(HEADERS)
	@test -f $(MSGPACK_INCLUDE)/msgpack.hpp || { echo "msgpack-c headers missing: apt-get install libmsgpack-cxx-dev" >&2; exit 1; }
	@test -f $(NLOHMANN_INCLUDE)/nlohmann/json.hpp || { echo "nlohmann/json headers missing: apt-get install nlohmann-json3-dev" >&2; exit 1; }
	@rm -rf $(DIST)/include && mkdir -p $(DIST)/include
	cp -r include/ray $(DIST)/include/
	cp -r $(MSGPACK_INCLUDE)/msgpack.hpp $(MSGPACK_INCLUDE)/msgpack $(DIST)/include/
	cp -r $(NLOHMANN_INCLUDE)/nlohmann $(DIST)/include/
	@touch $@

$(DIST)/bin/default_worker: cpp/worker/default_worker.cc include/ray/c_api.h $(DIST)/lib/libray_api.so
	@mkdir -p $(DIST)/bin
	$(CXX) -std=c++17 -O2 -Wall -Iinclude $< -o $@ -L$(DIST)/lib -lray_api -ldl -Wl,-rpath,'$$ORIGIN/../lib:$$ORIGIN'

$(DIST)/bin/ray: $(GO_SRCS)
	@mkdir -p $(DIST)/bin
	cd go && $(GO) build -o $(CURDIR)/$(DIST)/bin/ray ./cmd/ray

# The project template `ray cpp --generate-bazel-project-template-to` writes: template/, example.cc
# and the offline stand-ins for Bazel's implicit repositories (thirdparty/bazel/, shared with this
# project's own Bazel build).
STANDINS := thirdparty/bazel/rules_cc thirdparty/bazel/rules_java thirdparty/bazel/remote_coverage_tools thirdparty/bazel/README.md
$(DIST)/share/goray/template/.stamp: $(shell find template $(STANDINS) -type f 2>/dev/null) example.cc
	@rm -rf $(DIST)/share/goray/template && mkdir -p $(DIST)/share/goray/template/thirdparty/bazel
	cp -a template/. $(DIST)/share/goray/template/
	cp -a $(STANDINS) $(DIST)/share/goray/template/thirdparty/bazel/
	cp example.cc $(DIST)/share/goray/template/
	@touch $@

$(DIST)/lib/pkgconfig/ray.pc: packaging/ray.pc
	@mkdir -p $(dir $@)
	cp $< $@

$(DIST)/lib/cmake/ray/rayConfig.cmake: packaging/rayConfig.cmake packaging/rayConfigVersion.cmake
	@mkdir -p $(dir $@)
	cp packaging/rayConfig.cmake packaging/rayConfigVersion.cmake $(dir $@)

example: all
	@mkdir -p build
	$(CXX) -std=c++17 -O2 -I$(DIST)/include example.cc -o build/example -L$(DIST)/lib -lray_api -Wl,-rpath,$(CURDIR)/$(DIST)/lib

clean:
	rm -rf $(DIST) build
