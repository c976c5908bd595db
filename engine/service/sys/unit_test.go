package sys

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

func TestDisconnectReason(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := DisconnectReason(in); got != want {
			t.Errorf("DisconnectReason(%q) = %q, want %q", in, got, want)
		}
	}
	f("client sent DISCONNECT", "normal")
	f(codec.SessionTakenOver.String(), "takeovered")
	f(codec.KeepAliveTimeout.String(), "keepalive_timeout")
	f("EOF", "tcp_closed")
	f("read: connection reset by peer", "tcp_closed")
	f("closed by the broker", "closed_by_the_broker")
	f(codec.ServerShuttingDown.String(), "server_shutting_down")
}

func TestUptime(t *testing.T) {
	f := func(d time.Duration, want string) {
		t.Helper()
		if got := Uptime(d); got != want {
			t.Errorf("Uptime(%v) = %q, want %q", d, got, want)
		}
	}
	f(0, "0 seconds")
	f(61*time.Second, "1 minutes, 1 seconds")
	f(26*time.Hour+5*time.Second, "1 days, 2 hours, 0 minutes, 5 seconds")
}

func TestLevels(t *testing.T) {
	if got := levels("messages.qos2.dropped"); got != "messages/qos2/dropped" {
		t.Fatal(got)
	}
}

// TestAlarmHistoryBounds: raising twice raises once; the history keeps at most
// alarm.size_limit cleared alarms, none older than alarm.validity_period.
func TestAlarmHistoryBounds(t *testing.T) {
	n, _ := startNode(t)
	s := New(n, Options{AlarmSizeLimit: 2, AlarmValidity: time.Hour})
	if !s.Raise("a", "A", nil) || s.Raise("a", "A", nil) {
		t.Fatal("a second Raise of a raised alarm must report false")
	}
	if !s.Clear("a") || s.Clear("a") {
		t.Fatal("a second Clear must report false")
	}
	for _, name := range []string{"b", "c"} {
		s.Raise(name, name, nil)
		s.Clear(name)
	}
	_, cleared := s.Alarms()
	if len(cleared) != 2 || cleared[0].Name != "b" || cleared[1].Name != "c" {
		t.Fatalf("history %+v, want b and c (size_limit 2)", cleared)
	}
	s.alarms.mu.Lock()
	s.alarms.history[0].ClearedAt = time.Now().Add(-2 * time.Hour)
	s.alarms.mu.Unlock()
	if _, cleared = s.Alarms(); len(cleared) != 1 || cleared[0].Name != "c" {
		t.Fatalf("history %+v, want c only (validity_period 1h)", cleared)
	}
}
