package sys

import (
	"context"
	"fmt"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Alarm names of the event-loop monitors, EMQX's sysmon equivalents.
const (
	// AlarmLongSchedule: an event loop took longer than sysmon.long_schedule to pick up a
	// task (it was busy that long with other work), EMQX's long_schedule of a process that
	// held its scheduler.
	AlarmLongSchedule = "long_schedule"
	// AlarmBusyPort: with sysmon.busy_port on, a connection's output backlog stayed above its
	// zone's high-water mark for a whole check interval, EMQX's busy_port of a port whose
	// send queue is full.
	AlarmBusyPort = "busy_port"
)

// busyListed is how many busy connections an alarm's details name.
const busyListed = 10

// checkLoops runs the event-loop monitors: the loop probe (long_schedule) and the busy
// connections (busy_port).
func (s *Service) checkLoops(now time.Time) {
	m := &s.mon
	if limit := s.opts.LongSchedule; limit > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), max(2*limit, 100*time.Millisecond))
		var worst engine.LoopLag
		for _, l := range s.n.LoopLags(ctx) {
			if l.Lag > worst.Lag {
				worst = l
			}
		}
		cancel()
		if worst.Lag > limit {
			m.lastLongSchedule = now
			s.publish(s.base+"sysmon/long_schedule",
				fmt.Appendf(nil, "long_schedule warning: event loop %d took %s to pick up a task, threshold = %s", worst.Loop, worst.Lag, limit), 0, false)
			s.Raise(AlarmLongSchedule, fmt.Sprintf("event loop %d took %s to pick up a task, above sysmon.long_schedule %s", worst.Loop, worst.Lag, limit),
				map[string]any{"loop": worst.Loop, "lag_ms": float64(worst.Lag) / 1e6, "long_schedule_ms": float64(limit) / 1e6})
		} else if now.Sub(m.lastLongSchedule) > s.opts.Quiet {
			s.Clear(AlarmLongSchedule)
		}
	}

	if !s.opts.BusyPort {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	busy, err := s.n.BusyConnections(ctx, s.opts.Check)
	cancel()
	if err != nil {
		s.log.Debug("cannot list busy connections", "error", err)
		return
	}
	seen := make(map[string]bool, len(busy))
	var names []string
	for _, b := range busy {
		seen[b.ClientID] = true
		if len(names) < busyListed {
			names = append(names, b.ClientID)
		}
		if !m.busy[b.ClientID] { // once per episode of a connection
			s.publish(s.base+"sysmon/busy_port", fmt.Appendf(nil, "busy_port warning: client = %s, peer = %s, pending = %d bytes since %s",
				b.ClientID, b.Peer, b.Pending, b.Since.UTC().Format(time.RFC3339)), 0, false)
		}
	}
	m.busy = seen
	if len(busy) == 0 {
		s.Clear(AlarmBusyPort)
		return
	}
	s.Raise(AlarmBusyPort, fmt.Sprintf("%d connections keep an output backlog above the high-water mark", len(busy)),
		map[string]any{"connections": len(busy), "clients": names})
}
