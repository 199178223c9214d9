// Package ratemeter measures how fast a consumer finishes work (tasks per second, smoothed over
// short windows) and turns that rate into how much work may wait for it: the bound on tasks a node
// forwards to another node, and on tasks a caller pipelines to a leased worker.
package ratemeter

import "time"

// Window is the span over which one measurement of the rate is taken.
const Window = 10 * time.Millisecond

// Meter is the smoothed rate at which something finishes work. The zero Meter has measured
// nothing (rate 0). It is not safe for concurrent use: its owner's lock guards it.
type Meter struct {
	rate      float64   // per second, smoothed over windows of Window
	doneInWin int       // finished since winStart
	winStart  time.Time // the start of the current window (zero: none yet)
}

// Note counts one piece of work finished at now.
func (m *Meter) Note(now time.Time) {
	if m.winStart.IsZero() {
		m.winStart = now
	}
	m.doneInWin++
	span := now.Sub(m.winStart)
	if span < Window {
		return
	}
	measured := float64(m.doneInWin) / span.Seconds()
	if m.rate == 0 {
		m.rate = measured
	} else {
		m.rate = (m.rate + measured) / 2
	}
	m.doneInWin, m.winStart = 0, now
}

// Rate is the smoothed rate, per second (0 until a window has passed).
func (m *Meter) Rate() float64 { return m.rate }

// Bound is how much work may wait for a consumer that finishes it at rate per second: what it
// finishes in backlog, at least floor and at most ceiling.
func Bound(rate float64, backlog time.Duration, floor, ceiling float64) float64 {
	bound := floor
	if byRate := rate * backlog.Seconds(); byRate > bound {
		bound = byRate
	}
	if bound > ceiling {
		bound = ceiling
	}
	return bound
}
