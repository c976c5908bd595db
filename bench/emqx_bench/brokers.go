package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// A broker under test: ours (bin/emqx), Mosquitto, mochi (bench/peers/mochi), a sink, or
// an external PEER that the suite neither starts nor stops.
type brokerKind struct {
	Name string
	Bin  string   // executable; empty for an external peer
	Addr string   // external peer's host:port
	Env  []string // ours: extra environment (the cluster cases' node settings, the auth cases' plugins, the bridge rows' bridge)
	Conf string   // mosquitto: extra configuration (the bridge rows' connection section)
}

// brokerProc is a running broker started by the suite.
type brokerProc struct {
	kind       brokerKind
	addr       string        // the TCP listener
	addrs      listenerPorts // every listener by transport (suite_transports.go)
	cmd        *exec.Cmd
	dir        string
	metricsCmd string
	apiAddr    string // ours: the HTTP API (/metrics), host:port
	done       chan error
}

// apiAddrOf notes and returns the loopback address of our broker's HTTP API on port.
func (b *brokerProc) apiAddrOf(port int) string {
	b.apiAddr = "127.0.0.1:" + strconv.Itoa(port)
	return b.apiAddr
}

func (b *brokerProc) pid() int {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// handedPorts remembers the ports freePort gave out: the kernel may hand a just-closed
// ephemeral port out again before the broker binds it, and one broker takes several.
var handedPorts struct {
	sync.Mutex
	seen map[int]bool
}

// freePort asks the kernel for a free loopback port that this process has not handed out
// before. Safe for concurrent use.
func freePort() (int, error) {
	handedPorts.Lock()
	defer handedPorts.Unlock()
	if handedPorts.seen == nil {
		handedPorts.seen = make(map[int]bool)
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedPorts.seen[port] {
			handedPorts.seen[port] = true
			return port, nil
		}
	}
	return 0, errors.New("freePort: the kernel keeps offering ports already handed out")
}

// startBroker starts a fresh broker of kind k on free loopback ports (TCP, and TLS with
// certs and WebSocket where the broker has them), with its files under workDir, and waits
// until it accepts connections.
func startBroker(ctx context.Context, k brokerKind, workDir string, certs *benchCerts) (*brokerProc, error) {
	if k.Bin == "" {
		return &brokerProc{kind: k, addr: k.Addr, addrs: listenerPorts{"tcp": k.Addr}}, nil
	}
	ports, err := newListenerPorts()
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(ports["tcp"][len("127.0.0.1:"):])
	dir, err := os.MkdirTemp(workDir, k.Name+"-")
	if err != nil {
		return nil, err
	}
	addr := ports["tcp"]
	b := &brokerProc{kind: k, addr: addr, addrs: listenerPorts{"tcp": addr}, dir: dir, done: make(chan error, 1)}
	var cmd *exec.Cmd
	switch k.Name {
	case "ours":
		internal, err := freePort()
		if err != nil {
			return nil, err
		}
		apiPort, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(k.Bin, "foreground")
		env := []string{
			"EMQX_LISTENER__TCP__EXTERNAL=" + addr,
			"EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:" + strconv.Itoa(internal),
			"EMQX_NODE__DATA_DIR=" + filepath.Join(dir, "data"),
			// Everything the node writes stays in the run's directory: nothing is left next
			// to the binary for the next run (retained messages, the loaded plugins).
			"EMQX_PERSISTENCE__DIR=" + filepath.Join(dir, "data", "store"),
			"EMQX_PLUGINS__LOADED_FILE=" + filepath.Join(dir, "data", "loaded_plugins"),
			"EMQX_MANAGEMENT__LISTENER__HTTP=" + b.apiAddrOf(apiPort),
			// The dashboard is loaded by default: any free port, so that two nodes can run.
			"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:0",
			"EMQX_LOG__DIR=" + filepath.Join(dir, "log"),
			"EMQX_LOG__TO=off",
			// EMQX's default of 1000 new connections per second per listener is a
			// production guard; the suite's conn case opens them faster, as the peers allow.
			"EMQX_LISTENER__TCP__EXTERNAL__MAX_CONN_RATE=1000000",
		}
		env = append(env, oursTransportEnv(ports, certs)...)
		env = append(env, k.Env...)
		b.addrs = ports
		if certs == nil {
			delete(b.addrs, "tls")
			delete(b.addrs, "psk")
			delete(b.addrs, "tls-rsa")
		}
		cmd.Env = append(os.Environ(), env...)
		// emqx_ctl finds the node through its data dir. "metrics" is EMQX's command for
		// messages.dropped; until the broker has it, drops are reported as unknown.
		if ctl := filepath.Join(filepath.Dir(k.Bin), "emqx_ctl"); fileExists(ctl) {
			b.metricsCmd = fmt.Sprintf("EMQX_NODE__DATA_DIR=%q %q metrics 2>/dev/null", filepath.Join(dir, "data"), ctl)
		}
	case "mosquitto":
		conf := filepath.Join(dir, "mosquitto.conf")
		// Mosquitto's defaults otherwise (max_inflight_messages 20, max_queued_messages 1000):
		// the peer is measured as Debian ships it.
		text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nmax_connections -1\n", port)
		text += mosquittoTransportConf(ports, certs) + k.Conf
		b.addrs = ports
		if certs == nil {
			delete(b.addrs, "tls")
			delete(b.addrs, "psk")
			delete(b.addrs, "tls-rsa")
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command(k.Bin, "-c", conf)
	case "mochi":
		cmd = exec.Command(k.Bin, "-listen", addr)
	case "sink":
		cmd = exec.Command(k.Bin, "sink", "-listen", addr, "-quiet")
	case "sink-echo":
		cmd = exec.Command(k.Bin, "sink", "-listen", addr, "-quiet", "-echo")
	default:
		return nil, fmt.Errorf("unknown broker kind %q", k.Name)
	}
	logf, err := os.Create(filepath.Join(dir, "broker.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("cannot start %s: %w", k.Name, err)
	}
	b.cmd = cmd
	go func() { b.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return b, nil
		}
		select {
		case err := <-b.done:
			log, _ := os.ReadFile(filepath.Join(dir, "broker.log"))
			return nil, fmt.Errorf("%s exited at start (%v): %s", k.Name, err, tail(string(log), 400))
		case <-ctx.Done():
			b.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("%s does not accept connections on %s", k.Name, addr)
		}
	}
}

// stop ends the broker (SIGTERM, then SIGKILL after 5 s) and removes its files.
func (b *brokerProc) stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
	_ = os.RemoveAll(b.dir)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
