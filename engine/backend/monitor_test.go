package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lines is a slog.Handler keeping the messages.
type lines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *lines) Enabled(context.Context, slog.Level) bool { return true }
func (l *lines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *lines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *lines) WithGroup(string) slog.Handler      { return l }

func (l *lines) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

type alarmSink struct {
	mu     sync.Mutex
	events []string
}

func (a *alarmSink) Raise(name, msg string, d map[string]any) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, "raise "+name+" "+fmt.Sprint(d["backend"]))
	return true
}

func (a *alarmSink) Clear(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, "clear "+name)
	return true
}

func (a *alarmSink) list() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.events, "; ")
}

// TestOutageOnce: many goroutines failing at once make one outage: one log line, one alarm,
// one outage counted; the first answer ends it (one line, one clear); a second outage counts
// again. Timeouts and other failures are counted apart.
func TestOutageOnce(t *testing.T) {
	l := &lines{}
	a := &alarmSink{}
	m := New("emqx_auth_x", "x", slog.New(l))
	m.SetAlarms(a)
	refused := errors.New("connection refused")
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Sent()
			if i%2 == 0 {
				m.NoAnswer(refused, time.Second)
			} else {
				m.NoAnswer(fmt.Errorf("query: %w", context.DeadlineExceeded), time.Second)
			}
		}()
	}
	wg.Wait()
	if !m.Down() || l.count("x does not answer") != 1 || m.Get(Outages) != 1 {
		t.Errorf("down %v, logged %d, outages %d; want true, 1, 1", m.Down(), l.count("x does not answer"), m.Get(Outages))
	}
	if m.Get(Errors) != 25 || m.Get(Timeouts) != 25 || m.Get(Queries) != 50 {
		t.Errorf("errors %d, timeouts %d, queries %d; want 25, 25, 50", m.Get(Errors), m.Get(Timeouts), m.Get(Queries))
	}
	for i := 0; i < 5; i++ {
		m.Answered()
	}
	m.Refused() // an error answer: the backend is up
	if m.Down() || l.count("x answers again") != 1 || m.Get(Errors) != 26 {
		t.Errorf("down %v, recoveries logged %d, errors %d", m.Down(), l.count("x answers again"), m.Get(Errors))
	}
	m.NoAnswer(refused, time.Second)
	m.Close() // unloaded during the outage: the alarm is cleared
	want := "raise emqx_auth_x_backend_unavailable x; clear emqx_auth_x_backend_unavailable; raise emqx_auth_x_backend_unavailable x; clear emqx_auth_x_backend_unavailable"
	if got := a.list(); got != want {
		t.Errorf("alarms:\n%s\nwant\n%s", got, want)
	}
	if m.Get(Outages) != 2 {
		t.Errorf("outages %d, want 2", m.Get(Outages))
	}
	// A request of the unloaded plugin failing late: counted, no new outage or alarm.
	m.NoAnswer(refused, time.Second)
	if m.Down() || m.Get(Outages) != 2 || a.list() != want {
		t.Errorf("after Close: down %v, outages %d, alarms %s", m.Down(), m.Get(Outages), a.list())
	}
	m.Open()
	m.NoAnswer(refused, time.Second)
	if !m.Down() || m.Get(Outages) != 3 {
		t.Errorf("after Open: down %v, outages %d", m.Down(), m.Get(Outages))
	}
}

// TestLateAlarms: an outage that began before the alarms were given raises its alarm when
// they are.
func TestLateAlarms(t *testing.T) {
	m := New("emqx_auth_y", "y", slog.New(slog.DiscardHandler))
	m.NoAnswer(errors.New("reset"), time.Second)
	a := &alarmSink{}
	m.SetAlarms(a)
	m.Answered()
	if got := a.list(); got != "raise emqx_auth_y_backend_unavailable y; clear emqx_auth_y_backend_unavailable" {
		t.Errorf("alarms: %s", got)
	}
}

// TestMetricsNames: EMQX's names for the decisions, the plugin's short name in each.
func TestMetricsNames(t *testing.T) {
	m := New("emqx_auth_ldap", "ldap", nil)
	m.Inc(AuthSuccess)
	m.Inc(ACLDeny)
	m.Inc(ACLDeny)
	got := map[string]uint64{}
	for _, x := range m.Metrics() {
		got[x.Name] = x.Value
	}
	if len(got) != int(numCounters) || got["auth.ldap.success"] != 1 || got["acl.ldap.deny"] != 2 || got["backend.ldap.timeouts"] != 0 {
		t.Errorf("metrics %v", got)
	}
}

// TestIsTimeout: deadlines of contexts and sockets are timeouts; a refusal is not.
func TestIsTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, readErr := c.Read(make([]byte, 1))
	for _, x := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), true},
		{readErr, true},
		{errors.New("connection refused"), false},
		{context.Canceled, false},
	} {
		if got := IsTimeout(x.err); got != x.want {
			t.Errorf("IsTimeout(%v) = %v, want %v", x.err, got, x.want)
		}
	}
}
