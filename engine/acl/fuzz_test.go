package acl

import (
	"net/netip"
	"testing"

	"github.com/emqgo/emqgo/etc"
)

// FuzzParse checks that Parse never panics, that whatever parses renders (String) into text
// that parses back into the same rules, and that Check never panics on the result. The seeds
// run with plain go test.
func FuzzParse(f *testing.F) {
	seeds := []string{
		etc.ACLConf,
		``,
		`{allow, all}.`,
		`{deny, {'and', [{user, "a"}, {'or', [{ipaddr, "10.0.0.0/8"}, {ipaddrs, ["::1", "fd00::/8"]}]}]}, pubsub, ["a/%u/+/%c/#", {eq, "#"}]}.`,
		`{allow, {client, all}, publish, <<"t/+">>}.`,
		`{allow, {username, <<"u\x{263a}\101\^A">>}, subscribe, ["$SYS/#", "+"]}.`,
		`{allow, {user, "x"} publish, ["t"]}.`,
		`{allow, {ipaddr, "1.2.3.4/33"}, publish, ["t"]}.`,
		`{allow, all, publish, ["a/#/b"]}.`,
		`{allow, 'and`,
		`{allow, all, publish, ["t`,
		"{allow, all}. % comment\n%% more\n{deny, all}.",
		`{deny, {'or', [{'or', [{'or', [all]}]}]}, publish, ["x"]}.`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), []byte("a/b"))
	}
	f.Add([]byte(etc.ACLConf), []byte("$SYS/#"))
	clients := []*Client{
		{},
		{Username: "u", ClientID: "c", Addr: netip.MustParseAddr("10.1.2.3")},
		{Username: "a", ClientID: "+", Addr: netip.MustParseAddr("::1")},
	}
	f.Fuzz(func(t *testing.T, data, topic []byte) {
		r, err := Parse("fuzz.conf", data)
		if err != nil {
			if r != nil {
				t.Fatal("Parse returned rules and an error")
			}
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			return
		}
		text := r.String()
		r2, err := Parse("again.conf", []byte(text))
		if err != nil {
			t.Fatalf("canonical text does not parse: %v\n%s", err, text)
		}
		if r2.String() != text || r2.Len() != r.Len() {
			t.Fatalf("round trip changed the rules:\n%s\n---\n%s", text, r2.String())
		}
		for _, c := range clients {
			for _, a := range []Access{Publish, Subscribe} {
				if got, again := r.Check(c, a, topic), r2.Check(c, a, topic); got != again {
					t.Fatalf("Check differs after round trip: %s vs %s", got, again)
				}
			}
		}
	})
}
