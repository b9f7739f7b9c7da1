// Package callguardtest helps test code that uses callguard: how it behaves
// when a dependency fails, is slow or sheds load, without sleeping and
// without mock transports.
//
//   - [Clock] is a fake [callguard.Clock]. Every policy that waits or
//     measures time takes one through its WithClock option (retry,
//     bulkhead, loadshed, timeout), so a test steps through backoff waits
//     and timeouts with [Clock.Advance].
//   - [NewHTTPServer] starts a real HTTP server on the loopback interface
//     whose answers follow a [Script]: fail the first two calls, shed every
//     second one, hang until the caller gives up. Package grpctest does the
//     same for gRPC.
//
// For faults injected into a pipeline itself, in tests or behind a switch
// in production, see package chaos.
package callguardtest
