// Package bench measures gorustls against crypto/tls on the same machine,
// in the same run, with the same certificates and sizes, over loopback TCP.
//
// The workloads (bulk throughput, echo latency, handshakes, idle memory,
// allocations per Read and Write) are written once against the Stack and
// Conn abstractions, so that the Go benchmarks in package rustls and the
// `gorustls bench` command run the same code. Run drives the whole
// comparison and returns a Report; handshakes are also measured across two
// processes when Options.Spawn can start a copy of the calling program.
//
// This package does not import gorustls itself (package rustls's own
// benchmarks import it): the gorustls Stack lives in the rustlsstack
// sub-package.
package bench
