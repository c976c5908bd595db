package acl

import (
	"strings"
	"testing"
)

// TestExplainNamesTheDecidingRule: Explain returns the first matching rule with its line and
// canonical text, and nothing when no rule matches.
func TestExplainNamesTheDecidingRule(t *testing.T) {
	r := mustParse(t, `% comment
{deny, {user, "bob"}, publish, ["secret/#"]}.

{allow, {user, "bob"}, pubsub, ["#"]}.
{allow, all, subscribe, ["open/+"]}.
`)
	f := func(c *Client, access Access, topic string, wantLine int, wantPerm Result, wantText string) {
		t.Helper()
		ru, found := r.Explain(c, access, []byte(topic))
		if wantLine == 0 {
			if found {
				t.Fatalf("Explain(%+v, %s, %q) = %+v, want no match", *c, access, topic, ru)
			}
			return
		}
		if !found || ru.Line != wantLine || ru.Permission != wantPerm || !strings.Contains(ru.Text, wantText) {
			t.Fatalf("Explain(%+v, %s, %q) = %+v %v, want line %d %s %q", *c, access, topic, ru, found, wantLine, wantPerm, wantText)
		}
		if got := r.Check(c, access, []byte(topic)); got != ru.Permission {
			t.Fatalf("Check says %s, Explain %s", got, ru.Permission)
		}
	}
	bob := client("bob", "b", "10.0.0.1")
	eve := client("eve", "e", "10.0.0.2")
	f(bob, Publish, "secret/x", 2, Deny, `"secret/#"`)
	f(bob, Subscribe, "secret/x", 4, Allow, `{user, "bob"}`)
	f(bob, Publish, "a/b", 4, Allow, `pubsub`)
	f(eve, Subscribe, "open/1", 5, Allow, `["open/+"]`)
	f(eve, Publish, "open/1", 0, NoMatch, "")
	var none *Rules
	if _, found := none.Explain(eve, Publish, []byte("x")); found {
		t.Fatal("a nil rule set matched")
	}
}
