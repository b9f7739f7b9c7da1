package breaker

import "math"

// ForceOpen switches the breaker to [ForcedOpen], for an incident: every
// call is refused with [ErrOpen] until [Breaker.Resume], whatever the
// counts say. Calls already let through finish and are counted. It calls
// the [OnStateChange] hook with the state it leaves and ForcedOpen, unless
// the breaker is already forced open.
func (cb *Breaker) ForceOpen() { cb.setMode(modeForcedOpen) }

// Disable switches the breaker to [Disabled]: every call goes through and
// is not counted, until [Breaker.Resume]. It calls the [OnStateChange]
// hook with the state it leaves and Disabled, unless the breaker is
// already disabled.
func (cb *Breaker) Disable() { cb.setMode(modeDisabled) }

// Resume turns off [Breaker.ForceOpen] or [Breaker.Disable]: the breaker
// is back in the state its counts give (changes of state that happened
// meanwhile were not reported; the hook reports the state it resumes).
// Resume does nothing when no switch is on.
func (cb *Breaker) Resume() { cb.setMode(modeNormal) }

// setMode switches to mode m and reports the change.
func (cb *Breaker) setMode(m int32) {
	// gobreaker's state, read before ctl is taken (lock order); a change
	// that races with it is reported by stateChanged or seen by Resume.
	under := Closed
	if m == modeNormal {
		cb.ctl.Lock()
		held := cb.clock != nil && cb.nanos() < cb.gbUntil
		cb.ctl.Unlock()
		if !held { // else gobreaker must not be asked: see WithClock
			under = stateOf(cb.cb.State())
		}
	}
	cb.ctl.Lock()
	defer cb.ctl.Unlock()
	old := cb.mode.Load()
	if old == m {
		return
	}
	from, to := cb.modeState(old, under), cb.modeState(m, under)
	cb.mode.Store(m)
	switch m {
	case modeForcedOpen:
		cb.openUntil.Store(math.MaxInt64)
	case modeDisabled:
		cb.openUntil.Store(0)
	default:
		cb.openUntil.Store(cb.gbUntil)
	}
	if cb.onChange != nil {
		cb.onChange(cb.cb.Name(), from, to)
	}
}

// modeState is the state that mode m shows, with under the state of the
// circuit below the switches (for modeNormal). The caller holds ctl.
func (cb *Breaker) modeState(m int32, under State) State {
	switch m {
	case modeForcedOpen:
		return ForcedOpen
	case modeDisabled:
		return Disabled
	}
	if cb.nanos() < cb.gbUntil {
		return Open
	}
	return under
}
