package breakerbalancer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Name is the name under which the package registers its balancer, with
// the defaults.
const Name = "callguard_breaker_round_robin"

func init() { balancer.Register(NewBuilder(Name)) }

// Defaults of [NewBuilder]: how many backends' breakers a balancer keeps,
// and how long a backend's breaker is kept once the backend is gone.
const (
	DefaultMaxBackends = 1024
	DefaultIdle        = 10 * time.Minute
)

// An Option configures [NewBuilder].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	breakerOpts []breaker.Option
	maxBackends int
	idle        time.Duration
	isFailure   func(error) bool
}

// WithBreaker sets the options of each backend's breaker (see
// [breaker.New]); the breaker's name is the backend's address. The default
// is breaker.New's defaults.
func WithBreaker(opts ...breaker.Option) Option {
	return optionFunc(func(o *options) { o.breakerOpts = opts })
}

// WithMaxBackends bounds the breakers kept, and how long a breaker is kept
// once its backend is no longer picked (see [breaker.NewKeyed]). The
// defaults are 1024 and 10 minutes. n must be >= 1 and idle >= 0, or
// NewBuilder panics.
func WithMaxBackends(n int, idle time.Duration) Option {
	return optionFunc(func(o *options) { o.maxBackends, o.idle = n, idle })
}

// WithIsFailure sets the rule that says whether an RPC's error (a status
// error, never nil) is a failure of the backend. Errors it rejects count
// as successes; cancellations are never failures. The default is
// [IsFailure]; nil means the default.
func WithIsFailure(fn func(error) bool) Option {
	return optionFunc(func(o *options) {
		if fn == nil {
			fn = IsFailure
		}
		o.isFailure = fn
	})
}

// IsFailure is the default rule: Unavailable, Internal, Unknown, DataLoss
// and DeadlineExceeded are failures of the backend.
func IsFailure(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Unknown, codes.DataLoss, codes.DeadlineExceeded:
		return true
	}
	return false
}

// NewBuilder returns a balancer builder named name, to register with
// [balancer.Register]. Every ClientConn that uses it keeps its own
// breakers. It panics, with a "breakerbalancer: " prefix, on options out of
// range, and as [breaker.New] on breaker options out of range.
func NewBuilder(name string, opts ...Option) balancer.Builder {
	o := options{maxBackends: DefaultMaxBackends, idle: DefaultIdle, isFailure: IsFailure}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.maxBackends < 1 || o.idle < 0 {
		panic(fmt.Sprintf("breakerbalancer: max backends must be >= 1 and idle >= 0, got %d and %v", o.maxBackends, o.idle))
	}
	breaker.NewKeyed(o.maxBackends, o.idle, o.breakerOpts...) // validates
	return &builder{name: name, o: o}
}

// builder makes a base balancer per ClientConn, each with a picker builder
// of its own, so that ClientConns do not share breakers.
type builder struct {
	name string
	o    options
}

func (b *builder) Name() string { return b.name }

func (b *builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	pb := &pickerBuilder{
		breakers:  breaker.NewKeyed(b.o.maxBackends, b.o.idle, b.o.breakerOpts...),
		isFailure: b.o.isFailure,
	}
	return base.NewBalancerBuilder(b.name, pb, base.Config{}).Build(cc, opts)
}

type pickerBuilder struct {
	breakers  *breaker.Keyed
	isFailure func(error) bool
	next      atomic.Uint32 // shared by the pickers, so that a new picker does not restart at 0
}

func (pb *pickerBuilder) Build(info base.PickerBuildInfo) balancer.Picker {
	if len(info.ReadySCs) == 0 { // connecting: the RPCs wait for a picker with backends
		return base.NewErrPicker(balancer.ErrNoSubConnAvailable)
	}
	p := &picker{pb: pb}
	for sc, sci := range info.ReadySCs {
		p.scs = append(p.scs, sc)
		p.breakers = append(p.breakers, pb.breakers.Get(sci.Address.Addr))
	}
	return p
}

// errAllOpen is what an RPC gets when every ready backend's breaker is open.
var errAllOpen = status.Error(codes.Unavailable, "breakerbalancer: the breaker of every ready backend is open")

// A picker picks round robin among the ready backends whose breaker lets
// the call through.
type picker struct {
	pb       *pickerBuilder
	scs      []balancer.SubConn
	breakers []*breaker.Breaker
}

func (p *picker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	n := uint32(len(p.scs))
	start := p.pb.next.Add(1)
	for i := range n {
		j := (start + i) % n
		done, err := p.breakers[j].Allow()
		if err != nil {
			continue
		}
		isFailure := p.pb.isFailure
		return balancer.PickResult{SubConn: p.scs[j], Done: func(di balancer.DoneInfo) {
			done(verdict(di.Err, isFailure))
		}}, nil
	}
	return balancer.PickResult{}, errAllOpen
}

// errFailed stands for an RPC error that is a failure of the backend.
var errFailed = errors.New("breakerbalancer: backend failed")

// verdict maps an RPC's error to what the breaker records.
func verdict(err error, isFailure func(error) bool) error {
	switch {
	case err == nil:
		return nil
	case status.Code(err) == codes.Canceled || errors.Is(err, context.Canceled):
		return context.Canceled // excluded
	case status.Code(err) == codes.ResourceExhausted:
		return callguard.Overloaded(0, err) // shed: excluded
	case isFailure(err):
		return errFailed
	}
	return nil
}
