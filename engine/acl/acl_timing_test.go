package acl

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func BenchmarkCheckDefault(b *testing.B) {
	r := Default()
	cases := []struct {
		name   string
		c      *Client
		access Access
		topic  string
	}{
		// An ordinary client publishing: falls through to {allow, all}.
		{"publish", &Client{Username: "bob", ClientID: "dev-42", Addr: netip.MustParseAddr("10.0.0.6")}, Publish, "devices/dev-42/telemetry/temperature"},
		// An ordinary client subscribing to a normal filter: three rules tried.
		{"subscribe", &Client{Username: "bob", ClientID: "dev-42", Addr: netip.MustParseAddr("10.0.0.6")}, Subscribe, "devices/dev-42/commands/#"},
		// Denied: subscribe to $SYS.
		{"subscribe-sys-denied", &Client{Username: "bob", ClientID: "dev-42", Addr: netip.MustParseAddr("2001:db8::6")}, Subscribe, "$SYS/brokers/+/clients/#"},
		// Local host, first rules.
		{"local", &Client{ClientID: "l", Addr: netip.MustParseAddr("127.0.0.1")}, Subscribe, "#"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			topic := []byte(tc.topic)
			b.ReportAllocs()
			b.SetBytes(int64(len(topic)))
			for b.Loop() {
				r.Check(tc.c, tc.access, topic)
			}
		})
	}
}

// rules1000 builds 999 per-user rules with placeholders, CIDRs and wildcards followed by
// {deny, all}: a client no rule names scans them all.
func rules1000(tb testing.TB) *Rules {
	var sb strings.Builder
	for i := range 999 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&sb, "{allow, {user, \"user%d\"}, pubsub, [\"users/%%u/#\", \"devices/%%c/+/state\", {eq, \"fleet/%d\"}]}.\n", i, i)
		case 1:
			fmt.Fprintf(&sb, "{deny, {'and', [{client, \"dev%d\"}, {ipaddr, \"10.%d.0.0/16\"}]}, publish, [\"admin/#\", \"$SYS/#\"]}.\n", i, i%256)
		case 2:
			fmt.Fprintf(&sb, "{allow, {ipaddrs, [\"192.168.%d.0/24\", \"fd00:%x::/32\"]}, subscribe, [\"site/%d/+/#\"]}.\n", i%256, i, i)
		}
	}
	sb.WriteString("{deny, all}.\n")
	r, err := Parse("bench.conf", []byte(sb.String()))
	if err != nil {
		tb.Fatal(err)
	}
	if r.Len() != 1000 {
		tb.Fatalf("%d rules", r.Len())
	}
	return r
}

func BenchmarkCheck1000(b *testing.B) {
	r := rules1000(b)
	cases := []struct {
		name   string
		c      *Client
		access Access
		topic  string
		want   Result
	}{
		// Matches rule 1 (user0 publishing to its own tree).
		{"first", &Client{Username: "user0", ClientID: "x"}, Publish, "users/user0/inbox", Allow},
		// Matches near the end (user996 is rule 997).
		{"last-user", &Client{Username: "user996", ClientID: "dev996"}, Publish, "devices/dev996/lamp/state", Allow},
		// Nobody's rule: every rule tried, then {deny, all}.
		{"nomatch-publish", &Client{Username: "stranger", ClientID: "s1", Addr: netip.MustParseAddr("172.16.0.1")}, Publish, "users/stranger/inbox", Deny},
		{"nomatch-subscribe", &Client{Username: "stranger", ClientID: "s1", Addr: netip.MustParseAddr("2001:db8::1")}, Subscribe, "site/5/a/#", Deny},
	}
	for _, tc := range cases {
		if got := r.Check(tc.c, tc.access, []byte(tc.topic)); got != tc.want {
			b.Fatalf("%s: %s, want %s", tc.name, got, tc.want)
		}
		b.Run(tc.name, func(b *testing.B) {
			topic := []byte(tc.topic)
			b.ReportAllocs()
			b.SetBytes(int64(len(topic)))
			for b.Loop() {
				r.Check(tc.c, tc.access, topic)
			}
		})
	}
}

func BenchmarkParse1000(b *testing.B) {
	data := []byte(rules1000(b).String())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("bench.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}
