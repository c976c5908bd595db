package main

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

func TestExpandPattern(t *testing.T) {
	f := func(p string, v patternVars, want string) {
		t.Helper()
		if err := checkPattern(p); err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if got := expandPattern(p, v); got != want {
			t.Fatalf("expand %q = %q, want %q", p, got, want)
		}
	}
	v := patternVars{Index: 42, Role: "pub", ClientID: "c-1", Run: "ab12"}
	f("bench/%i", v, "bench/42")
	f("bench/%r/%i/%c", v, "bench/pub/42/c-1")
	f("bench-%n-%r-%i", v, "bench-ab12-pub-42")
	f("100%%/x", v, "100%/x")
	f("plain/topic", v, "plain/topic")
	f("%i%i", patternVars{Index: 0}, "00")
	for _, bad := range []string{"a/%", "a/%x", "%"} {
		if checkPattern(bad) == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestParseSizeRateVersion(t *testing.T) {
	sizes := map[string]int{"64": 64, "4KiB": 4096, "4k": 4096, "4KB": 4096, "1MiB": 1 << 20, "2m": 2 << 20, "10b": 10}
	for in, want := range sizes {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "4GiBs"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	rates := map[string]float64{"2500": 2500, "20k": 20000, "1.5M": 1.5e6, "max": 0, "unlimited": 0, "0": 0}
	for in, want := range rates {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"fast", "-5", "1e999"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
	var v versionValue
	for in, want := range map[string]codec.Version{"3.1": codec.V31, "3.1.1": codec.V311, "4": codec.V311, "5": codec.V5, "5.0": codec.V5} {
		if err := v.Set(in); err != nil || codec.Version(v) != want {
			t.Errorf("version %q = %v, %v", in, codec.Version(v), err)
		}
	}
	if v.Set("6") == nil {
		t.Error("version 6 accepted")
	}
}

func TestParseAddrList(t *testing.T) {
	ips, err := parseAddrList("127.0.0.1, 127.0.0.5-127.0.0.7,127.0.1.254-255")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	want := "127.0.0.1 127.0.0.5 127.0.0.6 127.0.0.7 127.0.1.254 127.0.1.255"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	for _, bad := range []string{"", "x", "127.0.0.9-127.0.0.1", "127.0.0.1-300"} {
		if _, err := parseAddrList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions("p2p", []string{"-clients", "4", "-qos", "1", "-total-rate", "20k", "-size", "4KiB",
		"-version", "5", "-duration", "3s", "-ifaddr", "127.0.0.2-3", "-quiet"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Pubs != 4 || o.Subs != 4 || o.QoS != 1 || o.SubQoS != 1 || o.Rate != 5000 || o.Size != 4096 ||
		o.Version != codec.V5 || o.Duration != 3*time.Second || len(o.IfAddrs) != 2 || o.Progress {
		t.Fatalf("options %+v", o)
	}
	o, err = parseOptions("fanout", nil, io.Discard)
	if err != nil || o.Pubs != 1 || o.Subs != 100 || o.Filter != "bench/fanout" {
		t.Fatalf("fanout defaults %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"-broker", "10.0.0.1:1883"},
		{"-broker", "example.com:1883"},
		{"-ifaddr", "192.168.1.1"},
		{"-qos", "3"},
		{"-size", "10"},
		{"-transport", "quic"},
		{"-topic", "a/%z"},
		{"-clients", "3"}, // ambiguous for fanin
		{"-duration", "0s"},
		{"extra"},
	} {
		if _, err := parseOptions("fanin", bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := parseOptions("nosuch", nil, io.Discard); err == nil {
		t.Error("unknown scenario accepted")
	}
	if _, err := parseOptions("conn", []string{"-clients", "10", "-broker", "[::1]:1883"}, io.Discard); err != nil {
		t.Errorf("::1 refused: %v", err)
	}
	if !net.ParseIP("127.9.9.9").IsLoopback() {
		t.Fatal("127/8 is loopback")
	}
}

func TestClosedWindow(t *testing.T) {
	f := func(window, perScope int, copies uint64, want int) {
		t.Helper()
		if got := closedWindow(window, perScope, copies); got != want {
			t.Errorf("closedWindow(%d, %d, %d) = %d, want %d", window, perScope, copies, got, want)
		}
	}
	f(-1, 8, 1, 100)    // fan-in 8 → 1: 800 queued at the subscriber
	f(-1, 1, 1, 800)    // p2p
	f(-1, 1, 100, 655)  // fan-out 1 → 100: 64 k copies
	f(-1, 1, 1000, 65)  // fan-out 1 → 1000
	f(-1, 1, 10000, 16) // floor
	f(-1, 100, 1, 16)
	f(0, 8, 1, 0) // open loop
	f(250, 8, 1, 250)
}

func TestCheckFileLimit(t *testing.T) {
	if err := checkFileLimit(10); err != nil {
		t.Fatalf("10 clients refused: %v", err)
	}
	if err := checkFileLimit(1 << 40); err == nil {
		t.Fatal("2^40 clients accepted")
	}
}

func TestCheckCaseNamesRefusesUnknown(t *testing.T) {
	cases := []suiteCase{{Name: "p2p-q0"}, {Name: "fanin-q0"}}
	if err := checkCaseNames("p2p-q0, fanin-q0", cases); err != nil {
		t.Fatalf("known names refused: %v", err)
	}
	if err := checkCaseNames("", cases); err != nil {
		t.Fatalf("no -cases refused: %v", err)
	}
	err := checkCaseNames("p2p-q0,p2p-qq", cases)
	if err == nil || !strings.Contains(err.Error(), "p2p-qq") || strings.Contains(err.Error(), "p2p-q0,") {
		t.Fatalf("unknown name: %v, want an error naming p2p-qq alone", err)
	}
}
