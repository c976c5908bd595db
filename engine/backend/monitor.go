// Package backend watches the network backends of the authentication plugins (Redis, MySQL,
// PostgreSQL, LDAP, MongoDB, HTTP) in one place: a Monitor per plugin counts its decisions and
// its queries that failed or timed out, logs an outage once when it begins and once when it
// ends (never once per client), and raises an alarm for as long as it lasts.
//
// It is a library of the auth plugins (engine/service/...) and of cmd/internal/plugins: it
// imports only the standard library, never engine. Everything here is safe for concurrent use.
package backend

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Alarms is where a Monitor raises and clears its alarm: the $SYS service's registry
// (engine/service/sys.Service) in a running broker. Both methods may publish: they are never
// called on an event loop (monitors run on the engine's side pool or the caller's goroutine).
type Alarms interface {
	Raise(name, message string, details map[string]any) bool
	Clear(name string) bool
}

// Counter names one of a Monitor's counters.
type Counter uint8

// The counters of a plugin. The decision counters are EMQX's (auth.redis.success...); the query
// counters are this broker's.
const (
	AuthSuccess Counter = iota // a client authenticated
	AuthFailure                // a client refused (bad password, backend unavailable)
	AuthIgnore                 // left to the rest of the chain
	ACLAllow
	ACLDeny
	ACLIgnore
	Queries  // requests sent to the backend
	Errors   // requests the backend refused with an error, or that failed to reach it
	Timeouts // requests without an answer within the plugin's timeout
	Outages  // times the backend went from answering to not answering
	numCounters
)

var counterNames = [numCounters]string{
	AuthSuccess: "auth.%s.success", AuthFailure: "auth.%s.failure", AuthIgnore: "auth.%s.ignore",
	ACLAllow: "acl.%s.allow", ACLDeny: "acl.%s.deny", ACLIgnore: "acl.%s.ignore",
	Queries: "backend.%s.queries", Errors: "backend.%s.errors", Timeouts: "backend.%s.timeouts", Outages: "backend.%s.outages",
}

// Metric is one named counter value.
type Metric struct {
	Name  string
	Value uint64
}

// Monitor watches one plugin's backend. The zero value is not usable: see New. A Monitor lives
// as long as the plugin's name is known to the node (it survives reloads, so that counters
// keep counting and an alarm raised stays raised until the backend answers).
type Monitor struct {
	plugin  string // emqx_auth_redis
	short   string // redis: the middle of EMQX's metric names
	backend string // "redis", "postgresql": the subject of the log lines
	log     atomic.Pointer[slog.Logger]

	mu     sync.Mutex // orders outage transitions with SetAlarms
	alarms Alarms
	closed bool // the plugin was unloaded: late failures are counted, not alarmed; under mu
	down   atomic.Bool
	since  time.Time // start of the current outage; under mu
	cause  string    // its first error; under mu

	counters [numCounters]atomic.Uint64
}

// New returns the monitor of plugin (e.g. "emqx_auth_redis") whose backend is called backend
// in log lines and alarms (e.g. "redis"). log nil is slog.Default().
func New(plugin, backend string, log *slog.Logger) *Monitor {
	m := &Monitor{plugin: plugin, short: strings.TrimPrefix(plugin, "emqx_auth_"), backend: backend}
	m.SetLog(log)
	return m
}

// SetLog replaces the logger (a plugin reloaded with another one).
func (m *Monitor) SetLog(log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	m.log.Store(log.With("plugin", m.plugin))
}

// Plugin is the plugin's name.
func (m *Monitor) Plugin() string { return m.plugin }

// AlarmName is the name of the alarm raised while the backend does not answer.
func (m *Monitor) AlarmName() string { return m.plugin + "_backend_unavailable" }

// SetAlarms sets where the alarm goes (nil: nowhere). The plugins start before the $SYS
// service, so the alarms are given later; an outage already under way raises its alarm now.
func (m *Monitor) SetAlarms(a Alarms) {
	m.mu.Lock()
	m.alarms = a
	down, since, cause := m.down.Load(), m.since, m.cause
	m.mu.Unlock()
	if a != nil && down {
		a.Raise(m.AlarmName(), m.alarmMessage(), m.alarmDetails(since, cause))
	}
}

// Inc adds one to counter c.
func (m *Monitor) Inc(c Counter) { m.counters[c].Add(1) }

// Get returns counter c.
func (m *Monitor) Get(c Counter) uint64 { return m.counters[c].Load() }

// Down reports whether the backend is in an outage (it did not answer the last request).
func (m *Monitor) Down() bool { return m.down.Load() }

// Metrics returns every counter under its name, in the order of the Counter constants.
func (m *Monitor) Metrics() []Metric {
	out := make([]Metric, numCounters)
	for c := Counter(0); c < numCounters; c++ {
		out[c] = Metric{Name: strings.Replace(counterNames[c], "%s", m.short, 1), Value: m.counters[c].Load()}
	}
	return out
}

// Sent counts one request to the backend. Call it once per request, before Answered,
// Refused or NoAnswer.
func (m *Monitor) Sent() { m.counters[Queries].Add(1) }

// Answered records that the backend answered (an answer that is an error reply too: see
// Refused). The first answer after an outage ends it: logged once, alarm cleared.
func (m *Monitor) Answered() {
	if !m.down.Load() {
		return
	}
	m.mu.Lock()
	if !m.down.CompareAndSwap(true, false) {
		m.mu.Unlock()
		return
	}
	since, a := m.since, m.alarms
	m.mu.Unlock()
	m.log.Load().Warn(m.backend+" answers again", "outage", time.Since(since).Round(time.Millisecond).String())
	if a != nil {
		a.Clear(m.AlarmName())
	}
}

// Refused records an error answer of the backend (a bad query, a refused bind): it counts as
// an error, and the backend is up.
func (m *Monitor) Refused() {
	m.counters[Errors].Add(1)
	m.Answered()
}

// NoAnswer records a request the backend did not answer (connection refused or reset, timed
// out) and returns err. It counts a timeout or an error; the first one of an outage is logged
// (with timeout, the plugin's bound, and err) and raises the alarm.
func (m *Monitor) NoAnswer(err error, timeout time.Duration) error {
	if IsTimeout(err) {
		m.counters[Timeouts].Add(1)
	} else {
		m.counters[Errors].Add(1)
	}
	if m.down.Load() {
		return err
	}
	m.mu.Lock()
	if m.closed || !m.down.CompareAndSwap(false, true) {
		m.mu.Unlock()
		return err
	}
	m.counters[Outages].Add(1)
	m.since, m.cause = time.Now(), err.Error()
	since, cause, a := m.since, m.cause, m.alarms
	m.mu.Unlock()
	m.log.Load().Error(m.backend+" does not answer: clients that need it are refused until it does", "timeout", timeout.String(), "err", cause)
	if a != nil {
		a.Raise(m.AlarmName(), m.alarmMessage(), m.alarmDetails(since, cause))
	}
	return err
}

// Close clears the alarm if it is raised (the plugin is unloaded: nothing waits on the
// backend any more); failures of requests still running are counted but start no outage. The
// counters stay. Open makes the monitor watch again.
func (m *Monitor) Close() {
	m.mu.Lock()
	m.closed = true
	wasDown := m.down.Swap(false)
	a := m.alarms
	m.mu.Unlock()
	if wasDown && a != nil {
		a.Clear(m.AlarmName())
	}
}

// Open undoes Close: the plugin is loaded again.
func (m *Monitor) Open() {
	m.mu.Lock()
	m.closed = false
	m.mu.Unlock()
}

func (m *Monitor) alarmMessage() string {
	return m.plugin + ": " + m.backend + " does not answer; clients that need it are refused"
}

func (m *Monitor) alarmDetails(since time.Time, cause string) map[string]any {
	return map[string]any{"plugin": m.plugin, "backend": m.backend, "since": since.UTC().Format(time.RFC3339), "error": cause}
}

// IsTimeout reports whether err is a deadline passing (a context's or a socket's), as opposed
// to a refusal or a reset.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
