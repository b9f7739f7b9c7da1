//go:build !race

// Package race reports whether the race detector is on, so that allocation
// guards can skip themselves under -race.
package race

// Enabled is true when the binary is built with -race.
const Enabled = false
