package engine

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// mosquittoVersions are the -V values of mosquitto_pub/mosquitto_sub: MQTT 3.1, 3.1.1, 5.
var mosquittoVersions = []string{"mqttv31", "mqttv311", "mqttv5"}

// needMosquitto fails the test when mosquitto_pub or mosquitto_sub is missing: `make test`
// installs them (tools/ci/deps.sh), so their absence is a broken setup, not a reason to pass
// quietly. Under -short the test is skipped instead, with the same advice.
func needMosquitto(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := fmt.Sprintf("%s not found (Debian package mosquitto-clients): run `make test-deps`", bin)
			if testing.Short() {
				t.Skip(msg)
			}
			t.Fatal(msg)
		}
	}
}

// hostPort splits the node's address for -h and -p.
func hostPort(t *testing.T, addr string) []string {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-h", h, "-p", p}
}

// mosquitto runs a mosquitto client to completion (at most 15s) and returns its output.
func mosquitto(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// mosquittoSub is a running mosquitto_sub.
type mosquittoSub struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	done   chan error
	cancel context.CancelFunc
}

// startSub starts mosquitto_sub with args and waits until its subscriptions reached the
// broker (the node's subscription count grew by subs).
func startSub(t *testing.T, n *Node, subs int64, args ...string) *mosquittoSub {
	t.Helper()
	before := n.Stats().Subscriptions
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	s := &mosquittoSub{cmd: exec.CommandContext(ctx, "mosquitto_sub", args...), done: make(chan error, 1), cancel: cancel}
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	deadline := time.Now().Add(10 * time.Second)
	for n.Stats().Subscriptions < before+subs {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("mosquitto_sub %s exited early: %v\n%s", strings.Join(args, " "), err, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_sub %s did not subscribe within 10s", strings.Join(args, " "))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s
}

// wait waits for mosquitto_sub to exit by itself (-C) and returns its output lines.
func (s *mosquittoSub) wait(t *testing.T) []string {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("mosquitto_sub: %v\n%s", err, s.out.String())
		}
	case <-time.After(10 * time.Second):
		s.cancel()
		t.Fatalf("mosquitto_sub did not finish; output so far:\n%s", s.out.String())
	}
	return strings.Split(strings.TrimRight(s.out.String(), "\n"), "\n")
}

// format prints topic, QoS, retain flag and payload.
const mosqFormat = "%t|%q|%r|%p"

func TestMosquittoPubSub(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	for _, v := range mosquittoVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, nil)
			hp := hostPort(t, addr)
			topic := "mosq/" + v
			s := startSub(t, n, 1, append(hp, "-V", v, "-i", "sub-"+v, "-t", topic+"/#", "-q", "2", "-C", "4", "-F", mosqFormat)...)
			for qos := 0; qos <= 2; qos++ {
				mosquitto(t, "mosquitto_pub", append(hp, "-V", v, "-i", "pub-"+v, "-t", topic+"/a", "-q", fmt.Sprint(qos), "-m", fmt.Sprintf("hello %d", qos))...)
			}
			// A message from another protocol version reaches it too.
			pub, _ := v5(t, addr, &paho.Connect{ClientID: "paho", CleanStart: true}, nil)
			pub5(t, pub, topic+"/b", 1, "from paho")
			got := s.wait(t)
			want := []string{topic + "/a|0|0|hello 0", topic + "/a|1|0|hello 1", topic + "/a|2|0|hello 2", topic + "/b|1|0|from paho"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("mosquitto_sub printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestMosquittoRetainedAndPaho(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	for _, v := range mosquittoVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, nil)
			hp := hostPort(t, addr)
			topic := "mosq/" + v + "/kept"
			r := newReceived()
			c, _ := v5(t, addr, &paho.Connect{ClientID: "paho", CleanStart: true}, r)
			sub5(t, c, "mosq/#", 2)
			mosquitto(t, "mosquitto_pub", append(hp, "-V", v, "-t", topic, "-q", "1", "-r", "-m", "kept")...)
			if p := r.expectMsg(t, topic, "kept"); p.QoS != 1 || p.Retain {
				t.Fatalf("live delivery: qos %d retain %v", p.QoS, p.Retain)
			}
			out := mosquitto(t, "mosquitto_sub", append(hp, "-V", v, "-t", "mosq/#", "-q", "1", "-C", "1", "-W", "10", "-F", mosqFormat)...)
			if want := topic + "|1|1|kept\n"; out != want {
				t.Fatalf("retained: mosquitto_sub printed %q, want %q", out, want)
			}
			// Deleting it with an empty retained payload.
			mosquitto(t, "mosquitto_pub", append(hp, "-V", v, "-t", topic, "-q", "1", "-r", "-n")...)
			r.expectMsg(t, topic, "")
			waitFor(t, 5*time.Second, "retained message deleted", func() bool { return n.Stats().Retained == 0 })
		})
	}
}

func TestMosquittoWillAndProperties(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	for _, v := range mosquittoVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, nil)
			hp := hostPort(t, addr)
			r := newReceived()
			c, _ := v5(t, addr, &paho.Connect{ClientID: "paho", CleanStart: true}, r)
			sub5(t, c, "mosq/#", 2)
			// A mosquitto_sub with a will that is killed: the will is published.
			s := startSub(t, n, 1, append(hp, "-V", v, "-t", "mosq/none", "--will-topic", "mosq/will/"+v, "--will-payload", "died", "--will-qos", "1")...)
			if err := s.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if p := r.expectMsg(t, "mosq/will/"+v, "died"); p.QoS != 1 {
				t.Fatalf("will qos %d", p.QoS)
			}
			if v != "mqttv5" {
				return
			}
			// MQTT 5 properties set by mosquitto_pub reach a paho subscriber.
			mosquitto(t, "mosquitto_pub", append(hp, "-V", v, "-t", "mosq/props", "-q", "1", "-m", "{}",
				"-D", "publish", "content-type", "application/json",
				"-D", "publish", "response-topic", "mosq/reply",
				"-D", "publish", "correlation-data", "c0ffee",
				"-D", "publish", "user-property", "k", "v",
				"-D", "publish", "message-expiry-interval", "60")...)
			p := r.expectMsg(t, "mosq/props", "{}")
			pr := p.Properties
			if pr == nil || pr.ContentType != "application/json" || pr.ResponseTopic != "mosq/reply" || string(pr.CorrelationData) != "c0ffee" ||
				len(pr.User) != 1 || pr.User[0].Key != "k" || pr.User[0].Value != "v" || pr.MessageExpiry == nil || *pr.MessageExpiry > 60 {
				t.Fatalf("properties %+v", pr)
			}
		})
	}
}
