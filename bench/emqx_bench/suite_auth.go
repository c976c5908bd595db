package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// The suite's authentication rows (issue #12): a connect storm of stormConns clients that
// each need a backend's answer, through emqx_auth_http (a net/http server in a child process
// answering every request after 1 ms) and through emqx_auth_redis (a redis-server started for
// the run, HMGET mqtt_user:storm password). Each run first measures the publish latency p99
// of already-connected clients (p2p 8→8, QoS 0, stormLatRate msg/s) alone, then again while
// the storm connects (its clients stay connected through that window): the loops never wait
// for a backend, so the second should stay close to the first. A third window measures the
// same while the storm's clients all disconnect at once, reported on its own. Peers have no such backend: Mosquitto and mochi take the same storm with
// anonymous access (Mosquitto: allow_anonymous true, no password file, no auth plugin), so
// the ratio is the cost of our backend-checked connect against their unchecked one; the
// storm-anon row gives our broker that same job (no plugin, anonymous access).

const (
	stormConns   = 5000
	stormLatRate = 2000.0 // msg/s over the 8 publishers of the latency clients
	stormUser    = "storm"
	stormPass    = "storm-pw"
)

// authCases are the connect-storm rows.
func authCases(d time.Duration) []suiteCase {
	metrics := []string{"conn_rate", "connack_p99", "idle_p99", "storm_p99", "storm_ratio", "disc_p99", "disc_ratio", "storm_samples", "lag_idle", "lag_storm", "lag_disc"}
	storm := func(backend string) func(ctx context.Context, k brokerKind, o Options, work string, certs *benchCerts) (*Result, error) {
		return func(ctx context.Context, k brokerKind, o Options, work string, certs *benchCerts) (*Result, error) {
			return runStorm(ctx, k, o, work, certs, backend, d)
		}
	}
	apply := func(o *Options) {
		o.Subs, o.Filter, o.ConnRate, o.ConnWorkers = stormConns, "", 0, 64
		o.Username, o.Password = stormUser, stormPass
		o.Duration = time.Second
	}
	return []suiteCase{
		{Name: "storm-http", Title: fmt.Sprintf("connect storm, %d clients through emqx_auth_http (1 ms backend); publish p99 of connected clients", stormConns),
			Scenario: "conn", Metrics: metrics, apply: apply, run: storm("http")},
		{Name: "storm-redis", Title: fmt.Sprintf("connect storm, %d clients through emqx_auth_redis; publish p99 of connected clients", stormConns),
			Scenario: "conn", Metrics: metrics, apply: apply, run: storm("redis")},
		{Name: "storm-anon", Title: fmt.Sprintf("connect storm, %d clients, anonymous (no plugin: the peers' job in the storm rows); publish p99 of connected clients", stormConns),
			Scenario: "conn", Metrics: metrics, apply: apply, run: storm("none")},
		{Name: "acl-redis", Title: "p2p 8→8, QoS 0, 64 B, ACL from emqx_auth_redis with the ACL cache on (ours: also against acl.conf in the same row)",
			Scenario: "p2p", Metrics: []string{"recv_rate", "aclconf_rate", "acl_ratio", "p99"}, run: runACLRedis,
			apply: func(o *Options) {
				o.Pubs, o.Subs, o.QoS = 8, 8, 0
				o.Username, o.Password = stormUser, stormPass
			}},
	}
}

// runACLRedis runs p2p-q0 as user storm against our broker eight times, each on a fresh
// broker, in the order acl.conf, emqx_auth_redis, emqx_auth_redis, acl.conf, twice: with
// emqx_auth_redis authorizing every publish and subscription (acl_cmd, the ACL cache on as
// shipped) and with acl.conf alone. Each run counts at its steady rate (steadyRate: the
// first second, when each client's cache fills from Redis, left out) and each side at the
// median of its four runs: RecvRate for emqx_auth_redis, ACLConfRate for acl.conf. The
// symmetric order cancels a drift of the machine over the row, which a plain-then-redis pair
// would count against the second. A peer runs it once, anonymously.
func runACLRedis(ctx context.Context, k brokerKind, o Options, work string, certs *benchCerts) (*Result, error) {
	if k.Name != "ours" {
		return runOne(ctx, k, o, work, certs)
	}
	env, stop, err := startStormBackend(ctx, "redis-acl", work)
	if err != nil {
		return nil, err
	}
	defer stop()
	withRedis := k
	withRedis.Env = append(append([]string(nil), k.Env...), env...)
	var plain, redis []*Result
	for i := range 8 {
		kind, what, into := k, "with acl.conf", &plain
		if redisRun := i%4 == 1 || i%4 == 2; redisRun {
			kind, what, into = withRedis, "with emqx_auth_redis", &redis
		}
		res, err := runOne(ctx, kind, o, work, certs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		*into = append(*into, res)
	}
	res := redis[0]
	res.RecvRate, res.ACLConfRate = medianRate(redis), medianRate(plain)
	return res, nil
}

// steadyRate is a run's delivery rate without its first second: the median of its
// per-second rates after it (the run's mean rate when it has fewer than three seconds).
func steadyRate(r *Result) float64 {
	if len(r.Series) < 3 {
		return r.RecvRate
	}
	rates := make([]float64, 0, len(r.Series)-1)
	for _, s := range r.Series[1:] {
		rates = append(rates, s.RecvRate)
	}
	return medianOf(rates)
}

// medianRate is the median steadyRate of runs.
func medianRate(runs []*Result) float64 {
	rates := make([]float64, len(runs))
	for i, r := range runs {
		rates[i] = steadyRate(r)
	}
	return medianOf(rates)
}

// medianOf is the median of xs (not empty); xs is sorted in place.
func medianOf(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// runStorm runs one storm row against a fresh broker of kind k: the backend first (ours
// only), then three latency runs of d each: idle; while the storm connects (its clients then
// stay connected to the end of the run); and while they all disconnect at once, which is its
// own figure (the broker's close work, not the backend's). The storm's clients are held
// through the second window so that its figure is the connect storm's alone.
func runStorm(ctx context.Context, k brokerKind, o Options, work string, certs *benchCerts, backend string, d time.Duration) (*Result, error) {
	if k.Name == "ours" && backend != "none" {
		env, stop, err := startStormBackend(ctx, backend, work)
		if err != nil {
			return nil, err
		}
		defer stop()
		k.Env = append(append([]string(nil), k.Env...), env...)
	}
	b, err := startBroker(ctx, k, work, certs)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	addr := b.addrs["tcp"]
	lat := defaultOptions("p2p")
	lat.Pubs, lat.Subs, lat.QoS, lat.Rate = 8, 8, 0, stormLatRate/8
	lat.Duration, lat.Drain, lat.Progress, lat.Label = d, time.Second, false, o.Label+"-latency"
	lat.Username, lat.Password = stormUser, stormPass
	lat.Timeout = 60 * time.Second
	lat.Broker = addr
	o.Broker, o.BrokerPID, o.MetricsCmd = addr, b.pid(), b.metricsCmd
	for _, x := range []*Options{&lat, &o} {
		if err := x.validate(); err != nil {
			return nil, err
		}
	}
	time.Sleep(200 * time.Millisecond)
	lag := &StormLag{}
	w := lagWatch{apiAddr: b.apiAddr}
	w.start()
	idle, err := newRunner(lat, nil).run(ctx)
	if err != nil {
		return nil, fmt.Errorf("latency before the storm: %w", err)
	}
	lag.Idle = w.stop()
	w.start()
	// The latency clients connect in a few milliseconds; the storm (connects, then
	// disconnects) starts once they publish.
	var storm *stormChild
	busy, err := latencyDuring(ctx, lat, func() error {
		var err error
		storm, err = startStormChild(ctx, o)
		return err
	})
	if err != nil {
		if storm != nil {
			_, _ = storm.wait()
		}
		return nil, fmt.Errorf("latency during the connect storm: %w", err)
	}
	lag.Storm = w.stop()
	w.start()
	var res *Result
	disc, err := latencyDuring(ctx, lat, func() error {
		var err error
		res, err = storm.wait()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("latency during the disconnect storm: %w", err)
	}
	lag.Disc = w.stop()
	if res.ConnectFailed > 0 {
		return nil, fmt.Errorf("storm: %d of %d clients refused or failed", res.ConnectFailed, o.Subs)
	}
	res.Broker = k.Name
	res.StormIdleP99, res.StormBusyP99, res.StormDiscP99 = idle.Latency.P99, busy.Latency.P99, disc.Latency.P99
	res.StormSamples = min(idle.Received, busy.Received, disc.Received)
	if b.apiAddr != "" {
		res.StormLag = lag
	}
	return res, nil
}

// latencyDuring runs the latency clients lat and calls act 300 ms into their window (they
// connect in a few milliseconds); an error of act ends the run.
func latencyDuring(ctx context.Context, lat Options, act func() error) (*Result, error) {
	type outcome struct {
		res *Result
		err error
	}
	runc := make(chan outcome, 1)
	go func() {
		r, err := newRunner(lat, nil).run(ctx)
		runc <- outcome{r, err}
	}()
	time.Sleep(300 * time.Millisecond)
	actErr := act()
	run := <-runc
	if actErr != nil {
		return nil, actErr
	}
	return run.res, run.err
}

// startStormBackend starts the backend of our broker's plugin and returns the broker's
// environment that loads the plugin against it, and how to stop it. Backend "none" (the
// storm-anon row) starts nothing: runStorm does not call it.
func startStormBackend(ctx context.Context, backend, work string) ([]string, func(), error) {
	switch backend {
	case "http":
		addr, stop, err := startAuthHTTPChild(ctx)
		if err != nil {
			return nil, nil, err
		}
		env := []string{"EMQX_LOADED_PLUGINS=emqx_auth_http",
			"EMQX_AUTH__HTTP__AUTH_REQ=http://" + addr + "/mqtt/auth",
			"EMQX_AUTH__HTTP__AUTH_REQ__METHOD=post",
			"EMQX_AUTH__HTTP__AUTH_REQ__PARAMS=clientid=%c,username=%u,password=%P",
			"EMQX_AUTH__HTTP__SUPER_REQ=", "EMQX_AUTH__HTTP__ACL_REQ="}
		return env, stop, nil
	case "redis", "redis-acl":
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			return nil, nil, errors.New("redis-server not found (Debian package redis-server): run `make bench-deps`")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		dir, err := os.MkdirTemp(work, "redis-")
		if err != nil {
			return nil, nil, err
		}
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}
		cmd := exec.Command(bin, args...)
		if backend == "redis" {
			// The storm's backend stands for another machine: it yields the CPU to the broker
			// and the latency clients, as the storm itself does (startStormChild).
			cmd = niced(ctx, bin, args...)
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, fmt.Errorf("cannot start redis-server: %w", err)
		}
		stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if err := redisHSet(ctx, addr, "mqtt_user:"+stormUser, "password", stormPass); err != nil {
			stop()
			return nil, nil, err
		}
		env := []string{"EMQX_LOADED_PLUGINS=emqx_auth_redis", "EMQX_AUTH__REDIS__SERVER=" + addr, "EMQX_AUTH__REDIS__SUPER_CMD="}
		if backend == "redis" {
			return append(env, "EMQX_AUTH__REDIS__ACL_CMD="), stop, nil
		}
		// redis-acl: the user may publish and subscribe under bench/ (acl_cmd's default,
		// HGETALL mqtt_acl:%u).
		if err := redisHSet(ctx, addr, "mqtt_acl:"+stormUser, "bench/#", "3"); err != nil {
			stop()
			return nil, nil, err
		}
		return env, stop, nil
	}
	return nil, nil, fmt.Errorf("unknown storm backend %q", backend)
}

// redisHSet writes one hash field in RESP over a plain connection, retrying while the server
// starts (up to 10 s).
func redisHSet(ctx context.Context, addr, key, field, value string) error {
	cmd := fmt.Sprintf("*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(field), field, len(value), value)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			_, err = c.Write([]byte(cmd))
			buf := make([]byte, 64)
			var n int
			if err == nil {
				n, err = c.Read(buf)
			}
			c.Close()
			if err == nil && n > 0 && buf[0] == ':' {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("redis answered %q", buf[:n])
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cannot fill redis-server on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
