package cluster_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// BenchmarkSessionResume measures a persistent session's resume: the client (session expiry
// 300 s, one QoS 1 subscription) disconnects, 10 QoS 1 messages are published and queued for
// it, and it reconnects without clean start. One op is one such cycle; reported: the median
// time from dialling to CONNACK (connack-µs) and to the last queued message
// (resume-µs). Cases: "local" (reconnect to the same node), "cross" (to the other node of
// the shared cluster every time: the session moves), "mosquitto" (Mosquitto on this box,
// the same cycle). Run alone (it uses the shared cluster's nodes 1 and 2):
//
//	go test -run '^$' -bench SessionResume -benchtime 200x ./engine/service/cluster/
func BenchmarkSessionResume(b *testing.B) {
	ns := threeNodes(b)
	mosq := startMosquitto(b)
	b.Run("local", func(b *testing.B) { benchResume(b, []string{ns[0].mqtt}, "resume-local") })
	b.Run("cross", func(b *testing.B) { benchResume(b, []string{ns[0].mqtt, ns[1].mqtt}, "resume-cross") })
	b.Run("mosquitto", func(b *testing.B) { benchResume(b, []string{mosq}, "resume-mosq") })
}

func benchResume(b *testing.B, addrs []string, clientID string) {
	const queued = 10
	pubs := make([]*paho.Client, len(addrs))
	for i, a := range addrs {
		pubs[i] = dialConnect(b, a, &paho.Connect{ClientID: fmt.Sprintf("%s-pub%d", clientID, i), CleanStart: true, KeepAlive: 30}, nil)
	}
	expiry := uint32(300)
	r := newReceived()
	sub := dialConnect(b, addrs[0], &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}, r)
	subscribe(b, sub, "resume/"+clientID, 1)
	at := 0
	var connack, resume []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if err := sub.Disconnect(&paho.Disconnect{}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the broker sees the session offline (paho does not wait)
		for k := range queued {
			publish(b, pubs[at], &paho.Publish{Topic: "resume/" + clientID, QoS: 1, Payload: []byte(strconv.Itoa(k))})
		}
		at = (at + 1) % len(addrs)
		start := time.Now()
		sub = dialConnect(b, addrs[at], &paho.Connect{ClientID: clientID, KeepAlive: 30,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}, r)
		connack = append(connack, time.Since(start))
		for k := 0; k < queued; {
			p := r.next(b)
			if p.Duplicate() {
				continue // the previous op's last message, disconnected before paho's PUBACK went out
			}
			if string(p.Payload) != strconv.Itoa(k) {
				b.Fatalf("op %d of %d, message %d: %q", i, b.N, k, p.Payload)
			}
			k++
		}
		resume = append(resume, time.Since(start))
	}
	b.StopTimer()
	_ = sub.Disconnect(&paho.Disconnect{ReasonCode: 0})
	b.ReportMetric(float64(median(connack).Microseconds()), "connack-µs")
	b.ReportMetric(float64(median(resume).Microseconds()), "resume-µs")
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// dialConnect connects a paho v5 client to addr (not closed at cleanup: the caller does).
func dialConnect(tb testing.TB, addr string, cp *paho.Connect, r *received) *paho.Client {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn}
	if r != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){r.handler}
	}
	c := paho.NewClient(cfg)
	if _, err := c.Connect(ctx5(tb), cp); err != nil {
		tb.Fatalf("connect %q to %s: %v", cp.ClientID, addr, err)
	}
	return c
}

// startMosquitto runs Mosquitto on a free port of 127.0.0.1 until the benchmark ends.
func startMosquitto(tb testing.TB) string {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
		if _, err := os.Stat(bin); err != nil {
			tb.Skip("mosquitto not installed (Debian package mosquitto)")
		}
	}
	port := freePort(tb)
	conf := filepath.Join(tb.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000\n", port)), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			tb.Fatal("mosquitto did not listen within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
