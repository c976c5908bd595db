package acl

import "testing"

// TestFilterAllows: a backend's filter matches as an allow rule of acl.conf does.
func TestFilterAllows(t *testing.T) {
	c := &Client{Username: "u1", ClientID: "c1"}
	f := func(filter string, access Access, topic string, want bool) {
		t.Helper()
		fl, err := CompileFilter(filter)
		if err != nil {
			t.Fatalf("%q: %v", filter, err)
		}
		if got := fl.Allows(c, access, []byte(topic)); got != want {
			t.Errorf("%q %s %q: %v, want %v", filter, access, topic, got, want)
		}
	}
	f("a/%u/#", Publish, "a/u1/x", true)
	f("a/%u/#", Publish, "a/u2/x", false)
	f("a/%c", Subscribe, "a/c1", true)
	f("a/%c", Subscribe, "a/+", false)
	f("a/+", Subscribe, "a/#", false) // strict: a rule's + does not cover a subscription's #
	f("#", Publish, "$SYS/x", false)  // strict: no wildcard match of $ topics
	f("a/#", Subscribe, "a/b/#", true)
	for _, bad := range []string{"", "a/#/b", "a+/b"} {
		if _, err := CompileFilter(bad); err == nil {
			t.Errorf("CompileFilter(%q) accepted", bad)
		}
	}
}
