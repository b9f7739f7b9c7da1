module github.com/callguard/callguard/loadtest

go 1.26.0

require github.com/callguard/callguard v0.0.0

require (
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/callguard/callguard => ../
