module goray

go 1.19

require (
	github.com/golang/glog v1.2.5
	github.com/spf13/cobra v1.8.1
	golang.org/x/sys v0.21.0
	google.golang.org/grpc v1.64.1
	google.golang.org/protobuf v1.34.1
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.5 // indirect
	golang.org/x/net v0.26.0 // indirect
	golang.org/x/text v0.16.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20240318140521-94a12d6c2237 // indirect
)
