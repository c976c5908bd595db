package procboost

import (
	"context"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// gate is an authenticator whose checks block until it is opened.
type gate struct{ open chan struct{} }

func (g gate) Name() string { return "gate" }

func (g gate) Authenticate(ctx context.Context, _ *engine.ClientInfo) engine.AuthResult {
	select {
	case <-g.open:
	case <-ctx.Done():
	}
	return engine.AuthResult{Decision: engine.AuthAllow}
}

// start starts a booster adding half as many Ps again (Share 1.5), back after quiet, stopped at the test's end, and returns it
// with the default GOMAXPROCS; it skips the test when the environment sets GOMAXPROCS.
func start(t *testing.T, quiet time.Duration) (*Booster, int) {
	if why := offBecause(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0), runtime.NumCPU()); why != "" {
		t.Skip("the booster is off by design here: " + why)
	}
	base := runtime.GOMAXPROCS(0)
	b := Start(nil, Options{Share: 1.5, Quiet: quiet, Check: 10 * time.Millisecond})
	t.Cleanup(b.Stop)
	return b, base
}

// queue queues n clients for a plugin with one worker, which a gate holds until release
// (which returns once every client was answered).
func queue(t *testing.T, n int) (release func()) {
	g := gate{open: make(chan struct{})}
	w := engine.NewAuthWorkers(g, 1)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		w.AuthenticateAsync(time.Now().Add(10*time.Second), &engine.ClientInfo{ClientID: "c"}, func(engine.AuthResult) { wg.Done() })
	}
	var once sync.Once
	release = func() { once.Do(func() { close(g.open); wg.Wait(); w.Close() }) }
	t.Cleanup(release) // a failed test leaves no client counted as waiting
	return release
}

// waitFor polls cond until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// TestBoostDuringStorm queues clients for a plugin's only worker, which the backend (a
// gate) holds: the booster raises GOMAXPROCS by Share of the default while they wait, keeps it raised
// while they keep queueing, and puts the default back once the queue has been empty for
// Quiet; a second storm raises it again, and Stop leaves the default in force.
func TestBoostDuringStorm(t *testing.T) {
	b, base := start(t, 150*time.Millisecond)
	up := boosted(base, 1.5)
	if b.Procs() != base {
		t.Fatalf("Procs() = %d before any storm, want the default %d", b.Procs(), base)
	}

	release := queue(t, 20)
	if !waitFor(2*time.Second, func() bool { return runtime.GOMAXPROCS(0) == up && b.Boosts() == 1 }) {
		t.Fatalf("GOMAXPROCS = %d with 19 clients queued, want %d", runtime.GOMAXPROCS(0), up)
	}
	if b.Procs() != up || b.Boosts() != 1 {
		t.Fatalf("Procs() = %d, Boosts() = %d during the storm, want %d and 1", b.Procs(), b.Boosts(), up)
	}
	// Still queued after several Quiet periods: the Ps stay.
	time.Sleep(400 * time.Millisecond)
	if got := runtime.GOMAXPROCS(0); got != up {
		t.Fatalf("GOMAXPROCS = %d while clients still queue, want %d", got, up)
	}
	release()
	if engine.AuthWaiting() != 0 {
		t.Fatalf("AuthWaiting() = %d once every check was answered", engine.AuthWaiting())
	}
	if !waitFor(2*time.Second, func() bool { return runtime.GOMAXPROCS(0) == base && b.Procs() == base }) {
		t.Fatalf("GOMAXPROCS = %d after the storm, want the default %d", runtime.GOMAXPROCS(0), base)
	}
	if b.Procs() != base {
		t.Fatalf("Procs() = %d after the storm, want %d", b.Procs(), base)
	}

	release = queue(t, 20)
	if !waitFor(2*time.Second, func() bool { return runtime.GOMAXPROCS(0) == up && b.Boosts() == 2 }) {
		t.Fatalf("GOMAXPROCS = %d in the second storm, want %d", runtime.GOMAXPROCS(0), up)
	}
	if b.Boosts() != 2 {
		t.Fatalf("Boosts() = %d after two storms, want 2", b.Boosts())
	}
	b.Stop() // in the middle of the storm
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Fatalf("GOMAXPROCS = %d after Stop, want the default %d", got, base)
	}
	release()
}

// TestFewQueuedNoBoost: a client or two waiting for a busy worker now and then is no storm.
func TestFewQueuedNoBoost(t *testing.T) {
	b, base := start(t, 50*time.Millisecond)
	release := queue(t, 4) // one with the worker, three waiting
	time.Sleep(200 * time.Millisecond)
	if got := runtime.GOMAXPROCS(0); got != base || b.Boosts() != 0 {
		t.Errorf("GOMAXPROCS = %d, Boosts() = %d with three clients waiting, want %d and 0", got, b.Boosts(), base)
	}
	release()
}

func TestOffBecause(t *testing.T) {
	cases := []struct {
		env         string
		procs, cpus int
		off         bool
	}{
		{"", 2, 2, false},   // the default: one P per CPU
		{"", 16, 16, false}, // a large machine
		{"", 1, 1, false},   // one CPU: the loop and the workers still gain a thread each
		{"4", 4, 2, true},   // the operator's choice
		{"2", 2, 2, true},
		{"", 2, 16, true}, // a 2-CPU quota on a 16-CPU host
	}
	for _, c := range cases {
		if got := offBecause(c.env, c.procs, c.cpus) != ""; got != c.off {
			t.Errorf("offBecause(%q, %d, %d) off = %v, want %v", c.env, c.procs, c.cpus, got, c.off)
		}
	}
}

func TestBoosted(t *testing.T) {
	cases := []struct {
		base  int
		share float64
		want  int
	}{
		{2, 1, 4},   // node.auth_storm_procs = 100%: doubled
		{2, 0.5, 3}, // 50%
		{2, 1.5, 5}, // rounded up
		{16, 0.1, 18},
		{1, 0.01, 2}, // at least one more
	}
	for _, c := range cases {
		if got := boosted(c.base, c.share); got != c.want {
			t.Errorf("boosted(%d, %v) = %d, want %d", c.base, c.share, got, c.want)
		}
	}
}
