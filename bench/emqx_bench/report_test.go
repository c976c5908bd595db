package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleResult(broker string, rate float64) *Result {
	h := NewHistogram()
	for v := uint64(1); v <= 10000; v++ {
		h.Record(v * 100)
	}
	r := &Result{Scenario: "fanin", Broker: broker, Version: "3.1.1", QoS: 1, Size: 64, Pubs: 8, Subs: 1, Label: "fanin-q1"}
	w := totals{sent: uint64(rate * 5), recv: uint64(rate * 5)}
	r.fill(5*time.Second, w, w, h, h, procSample{ok: true, CPU: time.Second}, procSample{ok: true, CPU: 2 * time.Second, RSS: 1 << 20}, time.Second)
	r.Expected, r.Delivered, r.Lost = w.sent, w.sent-3, 3
	r.Series = []Sample{{T: 1, RecvRate: rate}, {T: 2, RecvRate: rate * 1.1}}
	return r
}

func TestResultTableAndJSON(t *testing.T) {
	r := sampleResult("ours", 100000)
	if r.RecvRate != 100000 || r.BrokerCPU != 1 || r.BrokerCPUPerMs != 2 {
		t.Fatalf("rates: recv %v cpu %v per msg %v", r.RecvRate, r.BrokerCPU, r.BrokerCPUPerMs)
	}
	var b bytes.Buffer
	r.WriteTable(&b)
	for _, want := range []string{"fanin-q1 (fanin)", "100.0k msg/s", "p50 502µs", "p99 991µs", "loss", "3 of 500000", "CPU 1.00s = 2.00 µs/msg", "tool  "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	lat := back["latency_us"].(map[string]any)
	if back["received_per_sec"].(float64) != 100000 || lat["p99"].(float64) < 990 || lat["p99"].(float64) > 999 || back["lost"].(float64) != 3 {
		t.Fatalf("json %v", back)
	}
}

func TestSuiteTableAndHTML(t *testing.T) {
	cases := suiteCases(time.Second, 100)
	rep := &SuiteReport{Started: "now", Host: map[string]string{"cpus": "2"}, Brokers: []string{"ours", "mosquitto", "mochi"},
		Cases: cases[:2], Results: map[string][]*Result{
			cases[0].Name: {sampleResult("ours", 300000), sampleResult("mosquitto", 100000), nil},
			cases[1].Name: {sampleResult("ours", 50000), sampleResult("mosquitto", 100000), sampleResult("mochi", 25000)},
		}}
	var b bytes.Buffer
	writeSuiteTable(&b, rep)
	out := b.String()
	for _, want := range []string{"ours/mosquitto", "ours/mochi", "3.00x", "0.50x", "2.00x", "—"} {
		if !strings.Contains(out, want) {
			t.Errorf("suite table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := writeHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<svg", "<polyline", "ours/mosquitto", `class="good"`, `class="bad"`, "fan-in 8→1, QoS 0"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "http://") && !strings.Contains(page, "http://www.w3.org/2000/svg") {
		t.Error("the report must be self-contained")
	}
}

func TestMedian(t *testing.T) {
	rs := []*Result{sampleResult("a", 300), sampleResult("b", 100), sampleResult("c", 200)}
	if got := median(rs, "recv_rate"); got.Broker != "c" {
		t.Fatalf("median is %s, want c", got.Broker)
	}
	if got := median(rs[:2], "recv_rate"); got.Broker != "b" {
		t.Fatalf("median of two is %s, want the lower, b", got.Broker)
	}
	if median(nil, "p99") != nil {
		t.Fatal("median of nothing")
	}
}

func TestRatio(t *testing.T) {
	f := func(o, p float64, ok, higher bool, want string) {
		t.Helper()
		if got := ratio(o, p, ok, higher); got != want {
			t.Errorf("ratio(%v, %v) = %q, want %q", o, p, got, want)
		}
	}
	f(200, 100, true, true, "2.00x")
	f(50, 100, true, false, "0.50x↓")
	f(0, 0, true, false, "=↓")
	f(5, 0, true, false, "∞↓")
	f(5, 1, false, true, "—")
}

func TestRatioClass(t *testing.T) {
	f := func(o, p float64, higher bool, want string) {
		t.Helper()
		if got := ratioClass(o, p, true, higher); got != want {
			t.Errorf("ratioClass(%v, %v, higher=%v) = %q, want %q", o, p, higher, got, want)
		}
	}
	f(200, 100, true, "good")
	f(50, 100, true, "bad")
	f(100, 101, true, "")
	f(50, 100, false, "good")
	f(200, 100, false, "bad")
	f(3001, 0, false, "bad")
	f(0, 5, false, "good")
	f(0, 0, false, "")
}

func TestHumanFormats(t *testing.T) {
	f := func(got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	f(human(999), "999")
	f(human(1500), "1.50k")
	f(human(123456), "123.5k")
	f(human(2.5e6), "2.50M")
	f(fmtUS(850), "850µs")
	f(fmtUS(1500), "1.50ms")
	f(fmtUS(2.5e6), "2.50s")
	f(bytesHuman(1536), "1.5 KiB")
}
