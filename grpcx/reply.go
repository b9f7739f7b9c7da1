package grpcx

import (
	"reflect"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A replySlot decides which attempt of one unary call gives the caller its
// reply. Each attempt decodes into a reply of its own ([replyType]), since a
// policy may abandon an attempt that goes on running (timeout.WithAbandon)
// and return to the caller, who then reads the reply. The first attempt that
// succeeds while the call lasts moves its reply into the caller's; any
// other's is dropped. gen changes whenever the slot goes back to the pool,
// and an attempt wins only while gen is still the one of its call.
type replySlot struct {
	mu  sync.Mutex
	gen uint64 // written under mu by the owner only
	won bool   // an attempt of this gen has moved its reply

	// For moveProto, under mu: the destination, and dst.Set made once.
	dst protoreflect.Message
	set func(protoreflect.FieldDescriptor, protoreflect.Value) bool
}

var replySlots = sync.Pool{New: func() any {
	s := new(replySlot)
	s.set = func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		s.dst.Set(fd, v)
		return true
	}
	return s
}}

// win moves own, an attempt's reply, into reply, the caller's, if the
// attempt is the first of call gen to succeed and the call is not over.
func (s *replySlot) win(gen uint64, reply, own any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen || s.won {
		return
	}
	s.won = true
	if m, ok := reply.(proto.Message); ok {
		s.moveProto(m, own.(proto.Message))
	} else if own != reply {
		reflect.ValueOf(reply).Elem().Set(reflect.ValueOf(own).Elem())
	}
}

// moveProto makes dst what src is, sharing src's values: src belongs to an
// attempt that has finished with it.
func (s *replySlot) moveProto(dst, src proto.Message) {
	proto.Reset(dst)
	s.dst = dst.ProtoReflect()
	sr := src.ProtoReflect()
	sr.Range(s.set)
	if u := sr.GetUnknown(); len(u) > 0 {
		s.dst.SetUnknown(u)
	}
	s.dst = nil
}

// end ends the call: no attempt moves a reply after it. It readies s for
// another call.
func (s *replySlot) end() {
	s.mu.Lock()
	s.gen++
	s.won = false
	s.mu.Unlock()
}

// A replyType makes the replies of the attempts of one call: new, empty
// values of the type of the caller's reply. It is read from the caller's
// reply once, before the first attempt, since the winning attempt writes
// that reply while abandoned ones may still run.
type replyType struct {
	mt protoreflect.MessageType // for a proto.Message
	rt reflect.Type             // for another pointer
}

// typeOf returns the replyType of reply.
func typeOf(reply any) replyType {
	if m, ok := reply.(proto.Message); ok {
		return replyType{mt: m.ProtoReflect().Type()}
	}
	if v := reflect.ValueOf(reply); v.Kind() == reflect.Pointer && !v.IsNil() {
		return replyType{rt: v.Type().Elem()}
	}
	return replyType{}
}

// own returns a new, empty reply for one attempt to decode into: a message
// of the same type for a proto.Message, a new value for another pointer. A
// reply that is neither (nil, for example) is returned as it is: attempts
// share it.
func (t replyType) own(reply any) any {
	switch {
	case t.mt != nil:
		return t.mt.New().Interface()
	case t.rt != nil:
		return reflect.New(t.rt).Interface()
	}
	return reply
}
