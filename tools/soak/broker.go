package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emqgo/emqgo/tools/freeport"
)

// broker runs bin/emqx in the foreground on loopback ports, with its files in a work
// directory that survives restarts (the durable store is what a kill -9 tests).
type broker struct {
	bin, work string
	port      int // MQTT over TCP
	apiPort   int // management HTTP API (goroutines, metrics)
	pprofPort int // net/http/pprof (the heap profile kept when memory did not come back)

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	started time.Time
	starts  int
}

// newBroker picks the broker's ports below the ephemeral range (tools/freeport): the soak's
// thousands of reconnecting clients would otherwise take them while the broker is down after a
// kill, and the restart would fail to bind.
func newBroker(bin, work string) (*broker, error) {
	b := &broker{bin: bin, work: work}
	var err error
	if b.port, err = freeport.Get(); err != nil {
		return nil, err
	}
	if b.apiPort, err = freeport.Get(); err != nil {
		return nil, err
	}
	if b.pprofPort, err = freeport.Get(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *broker) addr() string { return "127.0.0.1:" + strconv.Itoa(b.port) }

func (b *broker) env() ([]string, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := freeport.Get()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	p := func(n int) string { return "127.0.0.1:" + strconv.Itoa(n) }
	return append(os.Environ(),
		"EMQX_NODE__HOME="+b.work,
		"EMQX_NODE__DATA_DIR="+filepath.Join(b.work, "data"),
		"EMQX_LOG__DIR="+filepath.Join(b.work, "log"),
		"EMQX_LOG__TO=file",
		"EMQX_LOG__LEVEL=warning",
		"EMQX_LISTENER__TCP__EXTERNAL="+p(b.port),
		"EMQX_LISTENER__TCP__EXTERNAL__MAX_CONN_RATE=5000",
		"EMQX_LISTENER__TCP__INTERNAL="+p(ports[0]),
		"EMQX_LISTENER__WS__EXTERNAL="+p(ports[1]),
		"EMQX_LISTENER__WSS__EXTERNAL="+p(ports[2]),
		"EMQX_MANAGEMENT__LISTENER__HTTP="+p(b.apiPort),
		"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:0", // loaded by default; any free port
		"EMQX_PPROF="+p(b.pprofPort),
		// Queues long enough that a subscriber offline across a restart loses nothing to
		// max_mqueue_len: losses must come from the broker, not from the policy.
		"EMQX_ZONE__EXTERNAL__MAX_MQUEUE_LEN=100000",
		"EMQX_ZONE__EXTERNAL__FORCE_SHUTDOWN_POLICY=200000|800MB",
		"EMQX_PERSISTENCE__FSYNC=interval",
		// The churn's persistent sessions (3.1.1 clean session 0) expire soon after it stops,
		// so that what remains afterwards is what leaked. The verified flows set their own.
		"EMQX_ZONE__EXTERNAL__SESSION_EXPIRY_INTERVAL="+strconv.Itoa(churnSessionExpiry)+"s",
	), nil
}

// start launches the broker and waits until it accepts connections. A broker that exits
// during start-up is started again, twice at most (its console's end is printed).
func (b *broker) start() (time.Duration, error) {
	var took time.Duration
	var err error
	for try := 0; try < 3; try++ {
		if took, err = b.startOnce(); err == nil || !errors.Is(err, errExited) {
			return took, err
		}
		fmt.Fprintf(os.Stderr, "soak: %v; starting it again\n", err)
	}
	return took, err
}

var errExited = errors.New("broker exited during start-up")

// startOnce launches the broker once.
func (b *broker) startOnce() (time.Duration, error) {
	env, err := b.env()
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(filepath.Join(b.work, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	cmd := exec.Command(b.bin, "foreground")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = b.work, env, out, out
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.mu.Lock()
	b.cmd, b.exited, b.started = cmd, exited, time.Now()
	b.starts++
	b.mu.Unlock()
	for time.Since(begin) < 60*time.Second {
		select {
		case <-exited:
			return 0, fmt.Errorf("%w; the end of its console.log:\n%s", errExited, b.consoleTail(2048))
		default:
		}
		if c, err := net.DialTimeout("tcp", b.addr(), time.Second); err == nil {
			c.Close()
			return time.Since(begin), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("broker did not listen within 60 s")
}

// kill sends sig and waits for the process to exit.
func (b *broker) kill(sig syscall.Signal) error {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("broker did not exit within 30 s after %v", sig)
	}
}

func (b *broker) pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// rss returns the broker's resident set size in bytes (0 when unknown).
func (b *broker) rss() int64 { return b.status("VmRSS:") }

// rssParts returns the anonymous part of the resident set (heap, stacks, runtime: what the
// broker holds) and the file-backed part (the binary's pages touched so far, which the kernel
// reclaims when it needs them), 0 when unknown.
func (b *broker) rssParts() (anon, file int64) { return b.status("RssAnon:"), b.status("RssFile:") }

// status returns a "kB" field of the broker's /proc/<pid>/status in bytes (0 when unknown).
func (b *broker) status(field string) int64 { return b.statusNum(field) << 10 }

// statusNum returns the number of a field of the broker's /proc/<pid>/status (its unit,
// if any, dropped; 0 when unknown).
func (b *broker) statusNum(field string) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(b.pid()) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// apiClient asks for uncompressed answers: a gzip encoder the broker pooled for the soak's
// own scrapes would count in the heap it measures.
var apiClient = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableCompression: true}}

// apiGet decodes GET path of the management API into v.
func (b *broker) apiGet(path string, v any) error {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(b.apiPort)+path, nil)
	req.SetBasicAuth("admin", "public")
	resp, err := apiClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// nodeFacts returns the broker's goroutines and connections (-1 when the API does not answer).
func (b *broker) nodeFacts() (goroutines, connections int64) {
	var r struct {
		Data []struct {
			ProcessUsed int64 `json:"process_used"`
			Connections int64 `json:"connections"`
		} `json:"data"`
	}
	if err := b.apiGet("/api/v4/nodes", &r); err != nil || len(r.Data) == 0 {
		return -1, -1
	}
	return r.Data[0].ProcessUsed, r.Data[0].Connections
}

// stats returns the API's node statistics (sessions.count, subscriptions.count, ...).
func (b *broker) stats() map[string]int64 {
	var r struct {
		Data []struct {
			Stats map[string]int64 `json:"stats"`
		} `json:"data"`
	}
	if err := b.apiGet("/api/v4/stats", &r); err != nil || len(r.Data) == 0 {
		return nil
	}
	return r.Data[0].Stats
}

// saveHeap writes the broker's heap profile (after a collection) to path.
func (b *broker) saveHeap(path string) error {
	resp, err := apiClient.Get("http://127.0.0.1:" + strconv.Itoa(b.pprofPort) + "/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// liveHeap returns the broker's live heap right after a collection (HeapAlloc of the
// debug=1 heap profile with gc=1), -1 when unknown. It asks twice and keeps the second: the
// objects sync.Pools hold survive one collection (the pools' victim caches) and go at the
// next.
func (b *broker) liveHeap() int64 {
	b.liveHeapOnce()
	return b.liveHeapOnce()
}

func (b *broker) liveHeapOnce() int64 {
	resp, err := apiClient.Get("http://127.0.0.1:" + strconv.Itoa(b.pprofPort) + "/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64<<10), 16<<20)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "# HeapAlloc = "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// messagesReceived returns the broker's messages.received counter (-1 when unknown).
func (b *broker) messagesReceived() int64 { return b.metric("messages.received") }

// metric returns one of the broker's counters (-1 when unknown).
func (b *broker) metric(name string) int64 {
	var r struct {
		Data []struct {
			Metrics map[string]int64 `json:"metrics"`
		} `json:"data"`
	}
	if err := b.apiGet("/api/v4/metrics", &r); err != nil || len(r.Data) == 0 {
		return -1
	}
	v, ok := r.Data[0].Metrics[name]
	if !ok {
		return -1
	}
	return v
}

// consoleTail returns the last n bytes of the broker's console.log (the work directory goes
// with the soak's exit).
func (b *broker) consoleTail(n int64) string {
	f, err := os.Open(filepath.Join(b.work, "console.log"))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	tail, _ := io.ReadAll(f)
	return string(tail)
}
