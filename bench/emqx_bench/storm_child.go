package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The connect storm's load runs outside the process that measures the latency: on a two-core
// box the storm's 5,000 dials and CONNECT/CONNACK exchanges, and the HTTP backend's 5,000
// requests, would otherwise share the tool's event loops, its Go scheduler and its garbage
// collector with the latency clients, and the probe would measure the tool as much as the
// broker. So the storm is a child `emqx_bench conn` and the HTTP backend a child
// `emqx_bench authhttp`, both started at the lowest priority the system offers: the
// SCHED_IDLE policy through chrt(1) when it is there (util-linux), nice(1) at stormNice
// otherwise. They stand for other machines: when the CPUs are contended the broker and the
// latency clients run first. Under nice 10 they still took about a tenth of a contended CPU
// each, and a waking broker thread could wait for the end of their slice; a SCHED_IDLE
// process runs only on a CPU no ordinary thread wants, and gives it up at once when one
// does. The kernel's loopback work for the storm's packets is still done on these CPUs (in
// the storm's system calls and in soft interrupts), as the broker's own connect work is. The
// connect rate and CONNACK latency the child reports include its own scheduling delay at
// that priority.

// stormNice is the nice(1) adjustment of the storm's client and backend processes when
// chrt(1) is missing.
const stormNice = 10

// lowPriority returns the command prefix that starts a program at the storm's priority
// (chrt --idle 0, or nice -n stormNice, or nothing when the system has neither).
func lowPriority() []string {
	if p, err := exec.LookPath("chrt"); err == nil {
		return []string{p, "--idle", "0"}
	}
	if p, err := exec.LookPath("nice"); err == nil {
		return []string{p, "-n", strconv.Itoa(stormNice)}
	}
	return nil
}

// niced returns the command running bin with args at the storm's priority (lowPriority),
// killed when ctx ends.
func niced(ctx context.Context, bin string, args ...string) *exec.Cmd {
	if pre := lowPriority(); pre != nil {
		return exec.CommandContext(ctx, pre[0], append(append(pre[1:len(pre):len(pre)], bin), args...)...)
	}
	return exec.CommandContext(ctx, bin, args...)
}

// stormChild is a running storm: a child `emqx_bench conn -hold-stdin` at low priority that
// connects its clients and holds them until release closes its standard input. Used by one
// goroutine.
type stormChild struct {
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	out, stderr bytes.Buffer
}

// stormHoldMax bounds how long a storm child holds its clients when nobody releases them.
const stormHoldMax = 2 * time.Minute

// startStormChild starts the storm o (scenario conn) in a child process at low priority. Its
// clients stay connected until release (or stormHoldMax); wait returns its result.
func startStormChild(ctx context.Context, o Options) (*stormChild, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"conn", "-broker", o.Broker, "-clients", strconv.Itoa(o.Subs),
		"-conn-rate", strconv.FormatFloat(o.ConnRate, 'f', -1, 64), "-conn-workers", strconv.Itoa(o.ConnWorkers),
		"-filter", o.Filter, "-username", o.Username, "-password", o.Password,
		"-duration", stormHoldMax.String(), "-hold-stdin", "-timeout", o.Timeout.String(), "-label", o.Label,
		"-client-id", o.ClientID, "-quiet", "-json", "-"}
	if o.BrokerPID > 0 {
		args = append(args, "-broker-pid", strconv.Itoa(o.BrokerPID))
	}
	s := &stormChild{cmd: niced(ctx, self, args...)}
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("storm process: %w", err)
	}
	return s, nil
}

// release tells the child to close its clients (they disconnect at once, all together).
func (s *stormChild) release() { _ = s.stdin.Close() }

// wait releases the child's clients if not done yet, waits for it to exit and returns its
// result.
func (s *stormChild) wait() (*Result, error) {
	s.release()
	if err := s.cmd.Wait(); err != nil {
		return nil, fmt.Errorf("storm process: %w: %s", err, strings.TrimSpace(lastLine(s.stderr.String())))
	}
	// stdout holds the result's JSON object on its first line (runScenario); the -json copy
	// to "-" follows it.
	line, _, _ := bytes.Cut(s.out.Bytes(), []byte("\n"))
	var res Result
	if err := json.Unmarshal(line, &res); err != nil {
		return nil, fmt.Errorf("storm process: cannot read its result: %w", err)
	}
	return &res, nil
}

// stdinClosed returns a channel closed when standard input reaches end of file or fails
// (what it reads is dropped).
func stdinClosed() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	return done
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// startAuthHTTPChild starts `emqx_bench authhttp` at low priority on a free loopback port and
// returns its address once it answers, and how to stop it.
func startAuthHTTPChild(ctx context.Context) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := niced(ctx, self, "authhttp", "-listen", "127.0.0.1:0", "-username", stormUser, "-password", stormPass, "-delay", "1ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("cannot start the HTTP backend: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	// Its first line is the address it listens on.
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case addr, ok := <-lines:
		if !ok || addr == "" {
			stop()
			return "", nil, errors.New("the HTTP backend exited before listening")
		}
		return addr, stop, nil
	case <-time.After(10 * time.Second):
		stop()
		return "", nil, errors.New("the HTTP backend did not start in 10 s")
	case <-ctx.Done():
		stop()
		return "", nil, ctx.Err()
	}
}

// runAuthHTTP is `emqx_bench authhttp`: the storm rows' emqx_auth_http backend. It answers
// every request after -delay: 200 when the form's username and password are the expected
// ones, 401 otherwise. It prints its address on the first line of stdout and serves until
// killed or interrupted.
func runAuthHTTP(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emqx_bench authhttp", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `host:port` to listen on")
	user := fs.String("username", stormUser, "the accepted user name")
	pass := fs.String("password", stormPass, "the accepted password")
	delay := fs.Duration("delay", time.Millisecond, "time each answer takes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(*delay)
		_ = r.ParseForm()
		if r.Form.Get("username") == *user && r.Form.Get("password") == *pass {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})}
	fmt.Println(l.Addr().String())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
