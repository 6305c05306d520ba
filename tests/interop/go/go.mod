module zipkin-rs/tests/interop/go

go 1.22

require github.com/openzipkin/zipkin-go v0.4.3

require (
	golang.org/x/sys v0.19.0 // indirect
	google.golang.org/grpc v1.63.2 // indirect
)
