package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// mqttClient is a minimal MQTT 3.1.1 client over the codec, for tests that need to know
// exactly which acknowledgements arrived.
type mqttClient struct {
	c net.Conn
	r *bufio.Reader
}

func dialMQTT(port int, id string) (*mqttClient, error) {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	m := &mqttClient{c: c, r: bufio.NewReader(c)}
	if _, err := c.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, CleanStart: true, ClientID: []byte(id), KeepAlive: 60})); err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	pkt, err := m.read()
	if err != nil || pkt[0] != 0x20 || len(pkt) != 4 || pkt[3] != 0 {
		c.Close()
		return nil, fmt.Errorf("CONNACK % x: %v", pkt, err)
	}
	c.SetReadDeadline(time.Time{})
	return m, nil
}

// read returns the next whole packet, fixed header included.
func (m *mqttClient) read() ([]byte, error) {
	first, err := m.r.ReadByte()
	if err != nil {
		return nil, err
	}
	pkt := []byte{first}
	n, shift := 0, 0
	for {
		b, err := m.r.ReadByte()
		if err != nil {
			return nil, err
		}
		pkt = append(pkt, b)
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
		shift += 7
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(m.r, body); err != nil {
		return nil, err
	}
	return append(pkt, body...), nil
}

func (m *mqttClient) publish(topic, payload string, qos byte, retain bool, id uint16) error {
	_, err := m.c.Write(codec.AppendPublish(nil, &codec.Publish{Topic: []byte(topic), Payload: []byte(payload), QoS: qos, Retain: retain, PacketID: id}, codec.V311))
	return err
}

// retainedSnapshot subscribes to '#' with QoS 0 and returns the retained messages the node
// sends (topic → payload), failing on a message without the RETAIN flag. A non-retained
// marker published by the same client after the SUBACK ends the snapshot.
func retainedSnapshot(t *testing.T, port int) map[string]string {
	t.Helper()
	m, err := dialMQTT(port, "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer m.c.Close()
	m.c.SetDeadline(time.Now().Add(10 * time.Second))
	m.c.Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("#")}}}, codec.V311))
	got := map[string]string{}
	fenced := false
	for {
		pkt, err := m.read()
		if err != nil {
			t.Fatalf("reading retained messages: %v (got %d)", err, len(got))
		}
		switch pkt[0] >> 4 {
		case byte(codec.TypeSuback):
			if !fenced {
				fenced = true
				m.publish("fence/end", "end", 0, false, 0)
			}
		case byte(codec.TypePublish):
			var p codec.Publish
			if err := p.Decode(pkt, codec.V311); err != nil {
				t.Fatal(err)
			}
			if string(p.Topic) == "fence/end" {
				if p.Retain {
					t.Fatal("fence delivered as retained")
				}
				return got
			}
			if !p.Retain {
				t.Fatalf("%q delivered without the RETAIN flag", p.Topic)
			}
			got[string(p.Topic)] = string(p.Payload)
		}
	}
}

// node is a broker process run in the foreground with its output in a file.
type node struct {
	cmd  *exec.Cmd
	out  string
	port int
	wait chan struct{} // closed when the process exited
}

func startNode(t *testing.T, emqx, work string, env []string, port int) *node {
	t.Helper()
	out := filepath.Join(work, fmt.Sprintf("node-%d.log", time.Now().UnixNano()))
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(emqx, "foreground")
	cmd.Dir, cmd.Env = work, env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd := &node{cmd: cmd, out: out, port: port}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	// Started once it says so (after every listener, the cluster's and the RPC one
	// included, is open) and its MQTT port answers: a node that cannot bind a port opened
	// after its MQTT listener (taken meanwhile by another process on the machine) exits
	// here, with its log, rather than later as a node that never joins.
	for range 200 {
		select {
		case <-exited:
			t.Fatalf("node exited during start-up:\n%s", nd.log())
		default:
		}
		if strings.Contains(nd.log(), "is running now!") {
			c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				t.Fatalf("node started but its MQTT port %d does not answer: %v\n%s", port, err, nd.log())
			}
			c.Close()
			nd.wait = exited
			return nd
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node did not finish starting within 10 s:\n%s", nd.log())
	return nil
}

func (nd *node) log() string {
	b, _ := os.ReadFile(nd.out)
	return string(b)
}

// kill stops the node with SIGKILL (crash) or SIGTERM (graceful) and waits for it.
func (nd *node) kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	nd.cmd.Process.Signal(sig)
	select {
	case <-nd.wait:
	case <-time.After(20 * time.Second):
		t.Fatalf("node did not exit after %v:\n%s", sig, nd.log())
	}
}

func persistEnv(t *testing.T, work, fsync string) ([]string, int) {
	env, port := nodeEnv(t, work)
	return append(env, "EMQX_PERSISTENCE__FSYNC="+fsync, "EMQX_LOG__TO=console", "EMQX_LOG__LEVEL=info"), port
}

// TestRetainedSurviveKill9: a publisher sets and deletes retained messages with QoS 1 on
// distinct topics, waiting for each PUBACK; the broker is killed with SIGKILL at a random
// moment while it publishes, then restarted. Every retained message acknowledged before the
// kill is there, the latest per topic, and every acknowledged deletion holds; only the one
// publish in flight at the kill may have gone either way. Repeated a few times on the same
// store.
func TestRetainedSurviveKill9(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, port := persistEnv(t, work, "always")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))

	want := map[string]string{} // acknowledged state: topic → payload ("" deleted)
	var acks, deletes int
	deadline := time.Now().Add(20 * time.Second)
	for round := 0; round < 6 && (round < 2 || time.Now().Before(deadline)); round++ {
		nd := startNode(t, emqx, work, env, port)
		if round > 0 {
			checkRetained(t, retainedSnapshot(t, port), want, nil)
		}
		pub, err := dialMQTT(port, "publisher")
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var pending *[2]string // the publish whose PUBACK has not arrived
		done := make(chan struct{})
		prng := rand.New(rand.NewPCG(rng.Uint64(), uint64(round)))
		go func() {
			defer close(done)
			for i := 1; ; i++ {
				topic := fmt.Sprintf("crash/%d", prng.IntN(80))
				payload := fmt.Sprintf("r%d-%d", round, i)
				if prng.IntN(6) == 0 {
					payload = "" // delete
				}
				id := uint16(i%65535 + 1)
				mu.Lock()
				pending = &[2]string{topic, payload}
				mu.Unlock()
				if pub.publish(topic, payload, 1, true, id) != nil {
					return
				}
				pkt, err := pub.read()
				if err != nil {
					return
				}
				if pkt[0]>>4 != byte(codec.TypePuback) || len(pkt) < 4 || uint16(pkt[2])<<8|uint16(pkt[3]) != id {
					panic(fmt.Sprintf("unexpected packet % x waiting for PUBACK %d", pkt, id))
				}
				mu.Lock()
				want[topic] = payload
				pending = nil
				acks++
				if payload == "" {
					deletes++
				}
				mu.Unlock()
			}
		}()
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		nd.kill(t, syscall.SIGKILL)
		pub.c.Close()
		<-done
		mu.Lock()
		p := pending
		mu.Unlock()
		t.Logf("round %d: %d PUBACKs so far (%d deletions), in flight at the kill: %v", round, acks, deletes, p)
		// The next round starts by checking; the in-flight publish may have gone either way.
		nd = startNode(t, emqx, work, env, port)
		got := retainedSnapshot(t, port)
		checkRetained(t, got, want, p)
		if p != nil {
			want[p[0]] = got[p[0]]
		}
		nd.kill(t, syscall.SIGKILL) // also a crash while idle
	}
	if acks == 0 || deletes == 0 {
		t.Fatalf("the publisher got %d PUBACKs, %d for deletions: nothing was tested", acks, deletes)
	}
}

// checkRetained compares a snapshot with the acknowledged state; pending (topic, payload)
// may or may not have been applied.
func checkRetained(t *testing.T, got, want map[string]string, pending *[2]string) {
	t.Helper()
	for topic, w := range want {
		g, ok := got[topic]
		if pending != nil && pending[0] == topic && g == pending[1] {
			continue
		}
		if w == "" && ok {
			t.Fatalf("%q was deleted (acknowledged) but is retained as %q", topic, g)
		}
		if w != "" && g != w {
			t.Fatalf("%q: retained %q (present %v), want %q", topic, g, ok, w)
		}
	}
	for topic, g := range got {
		if _, ok := want[topic]; !ok && !(pending != nil && pending[0] == topic && pending[1] == g) {
			t.Fatalf("%q retained as %q but never acknowledged", topic, g)
		}
	}
}

// TestRetainedGracefulRestartAndDamage: with fsync = interval, a graceful stop keeps every
// retained message (QoS 0 ones too); a store whose last segment lost its last bytes loads
// every valid record, the node starts and logs the damage, and `emqx_ctl data verify`
// reports it; `emqx_ctl data compact` refuses while the node runs.
func TestRetainedGracefulRestartAndDamage(t *testing.T) {
	emqx, ctl := buildBinaries(t)
	work := t.TempDir()
	env, port := persistEnv(t, work, "interval")
	// No $SYS service: its retained $SYS/brokers, version and sysdescr would be in the store
	// too, and the last record cut below must be g/29.
	env = append(env, "EMQX_BROKER__SYS_INTERVAL=0")
	nd := startNode(t, emqx, work, env, port)
	pub, err := dialMQTT(port, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 30 {
		topic, payload := fmt.Sprintf("g/%02d", i), fmt.Sprintf("v%d", i)
		qos := byte(i % 2)
		if err := pub.publish(topic, payload, qos, true, uint16(i+1)); err != nil {
			t.Fatal(err)
		}
		if qos == 1 {
			if pkt, err := pub.read(); err != nil || pkt[0]>>4 != byte(codec.TypePuback) {
				t.Fatalf("PUBACK: % x %v", pkt, err)
			}
		}
		want[topic] = payload
	}
	pub.c.Close()
	out, code := run(t, work, env, ctl, "data", "compact")
	if code == 0 || !strings.Contains(out, "in use by a running node") {
		t.Fatalf("data compact while running: %d %q", code, out)
	}
	nd.kill(t, syscall.SIGTERM)

	nd = startNode(t, emqx, work, env, port)
	checkRetained(t, retainedSnapshot(t, port), want, nil)
	if log := nd.log(); !strings.Contains(log, "retained messages loaded") || !strings.Contains(log, "count=30") {
		t.Fatalf("no load report in the log:\n%s", log)
	}
	nd.kill(t, syscall.SIGTERM)
	if out, code := run(t, work, env, ctl, "data", "verify"); code != 0 || !strings.Contains(out, "no damage") {
		t.Fatalf("data verify on a sound store: %d %q", code, out)
	}

	// Cut the last bytes of the newest segment: its last record (g/29) is torn.
	dir := filepath.Join(work, "data", "store")
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatalf("no segment in %s", dir)
	}
	slices.Sort(segs)
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, st.Size()-3); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, work, env, ctl, "data", "verify")
	if code == 0 || !strings.Contains(out, "damaged: "+filepath.Base(last)) {
		t.Fatalf("data verify on a truncated store: %d %q", code, out)
	}
	nd = startNode(t, emqx, work, env, port)
	delete(want, "g/29")
	checkRetained(t, retainedSnapshot(t, port), want, nil)
	log := nd.log()
	if !strings.Contains(log, "durable store was damaged") || !strings.Contains(log, "file="+filepath.Base(last)) || !strings.Contains(log, "records_lost=1") {
		t.Fatalf("no damage warning in the log:\n%s", log)
	}
	nd.kill(t, syscall.SIGTERM)
	if out, code := run(t, work, env, ctl, "data", "compact"); code != 0 || !strings.Contains(out, "live keys: 29") {
		t.Fatalf("data compact: %d %q", code, out)
	}
}
