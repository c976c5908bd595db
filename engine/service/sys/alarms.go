package sys

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"
)

// Alarm is one raised (or cleared) condition of the node.
type Alarm struct {
	Name        string         // e.g. "high_system_memory_usage", "durable_store_failed"
	Message     string         // what is wrong, in words
	Details     map[string]any // the measurement and the threshold; read-only
	ActivatedAt time.Time
	ClearedAt   time.Time // zero while the alarm is raised
}

// alarmRegistry holds the raised alarms by name and the history of cleared ones (newest
// last), bounded by alarm.size_limit and alarm.validity_period.
type alarmRegistry struct {
	s       *Service
	mu      sync.Mutex
	active  map[string]*Alarm
	history []Alarm
}

func (r *alarmRegistry) init(s *Service) {
	r.s = s
	r.active = map[string]*Alarm{}
}

// Raise raises the alarm name, unless it is already raised, and reports whether it was
// raised now. A new alarm is logged and published on .../alarms/alert as alarm.actions say.
// Safe from any goroutine but not from an event loop callback (it publishes).
func (s *Service) Raise(name, message string, details map[string]any) bool {
	r := &s.alarms
	r.mu.Lock()
	if _, ok := r.active[name]; ok {
		r.mu.Unlock()
		return false
	}
	a := &Alarm{Name: name, Message: message, Details: details, ActivatedAt: time.Now()}
	r.active[name] = a
	cp := *a
	r.mu.Unlock()
	if s.opts.AlarmLog {
		s.log.Warn("alarm raised: "+message, "alarm", name)
	}
	if s.opts.AlarmPublish {
		s.publish(s.base+"alarms/alert", alarmPayload(&cp), 0, false)
	}
	return true
}

// Clear clears the alarm name if it is raised, moving it to the history, and reports whether
// it was raised. The clearing is logged and published on .../alarms/clear as alarm.actions
// say. Safe from any goroutine but not from an event loop callback.
func (s *Service) Clear(name string) bool {
	r := &s.alarms
	r.mu.Lock()
	a, ok := r.active[name]
	if !ok {
		r.mu.Unlock()
		return false
	}
	delete(r.active, name)
	a.ClearedAt = time.Now()
	r.history = append(r.history, *a)
	r.trim(a.ClearedAt)
	cp := *a
	r.mu.Unlock()
	if s.opts.AlarmLog {
		s.log.Warn("alarm cleared: "+cp.Message, "alarm", name)
	}
	if s.opts.AlarmPublish {
		s.publish(s.base+"alarms/clear", alarmPayload(&cp), 0, false)
	}
	return true
}

// Alarms returns the raised alarms, oldest first, and the cleared ones still kept, oldest
// first. The results are copies.
func (s *Service) Alarms() (active, cleared []Alarm) {
	r := &s.alarms
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trim(time.Now())
	for _, a := range r.active {
		active = append(active, *a)
	}
	slices.SortFunc(active, func(a, b Alarm) int { return a.ActivatedAt.Compare(b.ActivatedAt) })
	return active, slices.Clone(r.history)
}

// ClearHistory forgets the cleared alarms kept (EMQX 4's DELETE /alarms/deactivated). Safe
// from any goroutine.
func (s *Service) ClearHistory() {
	r := &s.alarms
	r.mu.Lock()
	r.history = nil
	r.mu.Unlock()
}

// trim drops the cleared alarms beyond alarm.size_limit or older than
// alarm.validity_period. Hold mu.
func (r *alarmRegistry) trim(now time.Time) {
	drop := 0
	if v := r.s.opts.AlarmValidity; v > 0 {
		for drop < len(r.history) && now.Sub(r.history[drop].ClearedAt) > v {
			drop++
		}
	}
	if over := len(r.history) - drop - r.s.opts.AlarmSizeLimit; over > 0 {
		drop += over
	}
	if drop > 0 {
		r.history = slices.Delete(r.history, 0, drop)
	}
}

// AlarmPayload is the JSON of .../alarms/alert and .../alarms/clear: EMQX 4.x's fields
// (name, message, details, activate_at and deactivate_at in unix microseconds) and EMQX 3.x's
// (id, desc with severity, title, summary and timestamp in seconds), so that consumers of
// either parse it.
type AlarmPayload struct {
	Name         string         `json:"name"`
	Message      string         `json:"message"`
	Details      map[string]any `json:"details"`
	ActivateAt   int64          `json:"activate_at"`
	DeactivateAt int64          `json:"deactivate_at,omitempty"`
	ID           string         `json:"id"`
	Desc         AlarmDesc      `json:"desc"`
}

// AlarmDesc is the desc object of EMQX 3.x's alarm messages.
type AlarmDesc struct {
	Severity  string `json:"severity"`
	Title     string `json:"title"`
	Summary   string `json:"summary"`
	Timestamp int64  `json:"timestamp"`
}

func alarmPayload(a *Alarm) []byte {
	p := AlarmPayload{
		Name: a.Name, Message: a.Message, Details: maps.Clone(a.Details), ActivateAt: a.ActivatedAt.UnixMicro(),
		ID:   a.Name,
		Desc: AlarmDesc{Severity: "warning", Title: a.Name, Summary: a.Message, Timestamp: a.ActivatedAt.Unix()},
	}
	if p.Details == nil {
		p.Details = map[string]any{}
	}
	if !a.ClearedAt.IsZero() {
		p.DeactivateAt = a.ClearedAt.UnixMicro()
		p.Desc.Timestamp = a.ClearedAt.Unix()
	}
	b, _ := json.Marshal(&p) // plain values only: cannot fail
	return b
}
