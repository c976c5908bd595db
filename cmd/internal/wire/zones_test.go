package wire

import (
	"context"
	"testing"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// passwordAuth accepts the password "secret", refuses other credentials and ignores
// anonymous clients, counting its calls.
type passwordAuth struct{ calls chan string }

func (passwordAuth) Name() string { return "password" }

func (a passwordAuth) Authenticate(_ context.Context, c *engine.ClientInfo) engine.AuthResult {
	a.calls <- c.ClientID
	switch {
	case string(c.Password) == "secret":
		return engine.AuthResult{Decision: engine.AuthAllow}
	case c.Username == "":
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "wrong password"}
}

// TestPerZoneAnonymousAndBypass: the shipped layout (allow_anonymous = false, the internal
// zone with allow_anonymous and bypass_auth_plugins on) over three listeners, with an
// authentication chain installed.
func TestPerZoneAnonymousAndBypass(t *testing.T) {
	n := startConf(t, `
allow_anonymous = false
zone.external.idle_timeout = 15s
zone.internal.allow_anonymous = true
zone.internal.bypass_auth_plugins = true
zone.open.allow_anonymous = true
listener.tcp.external = 127.0.0.1:0
listener.tcp.external.zone = external
listener.tcp.internal = 127.0.0.1:0
listener.tcp.internal.zone = internal
listener.tcp.open = 127.0.0.1:0
listener.tcp.open.zone = open
`)
	auth := passwordAuth{calls: make(chan string, 100)}
	n.SetAuthenticators(auth)
	anonymous := func(*codec.Connect) {}
	wrong := func(c *codec.Connect) {
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, []byte("u"), true, []byte("wrong")
	}
	f := func(listener, id string, creds func(*codec.Connect), want codec.ReasonCode, chainRuns bool) {
		t.Helper()
		c, ack := connect(t, n.Addr(listener), codec.V5, id, creds)
		defer c.Close()
		if ack.Code != want {
			t.Errorf("%s on %s: CONNACK %v, want %v", id, listener, ack.Code, want)
		}
		ran := false
		for len(auth.calls) > 0 {
			ran = ran || <-auth.calls == id
		}
		if ran != chainRuns {
			t.Errorf("%s on %s: authentication chain ran: %v, want %v", id, listener, ran, chainRuns)
		}
	}
	// external inherits allow_anonymous = false.
	f("external", "ext-anon", anonymous, codec.NotAuthorized, true)
	f("external", "ext-wrong", wrong, codec.BadUserNameOrPassword, true)
	// internal: bypass_auth_plugins admits everyone without asking the chain.
	f("internal", "int-anon", anonymous, codec.Success, false)
	f("internal", "int-wrong", wrong, codec.Success, false)
	// open: anonymous clients are allowed, but credentials still go through the chain.
	f("open", "open-anon", anonymous, codec.Success, true)
	f("open", "open-wrong", wrong, codec.BadUserNameOrPassword, true)

	// Without any authenticator, the zone's allow_anonymous decides.
	n.SetAuthenticators()
	f("external", "ext-anon2", anonymous, codec.NotAuthorized, false)
	f("open", "open-anon2", anonymous, codec.Success, false)
}

// TestResponseInformation: mqtt.response_information goes to the MQTT 5 clients that ask for
// it, and only to them [MQTT-3.1.2-28]; a zone may set its own.
func TestResponseInformation(t *testing.T) {
	n := startConf(t, `
mqtt.response_information = replies/
zone.quiet.response_information = ""
zone.other.response_information = other/
listener.tcp.external = 127.0.0.1:0
listener.tcp.quiet = 127.0.0.1:0
listener.tcp.quiet.zone = quiet
listener.tcp.other = 127.0.0.1:0
listener.tcp.other.zone = other
`)
	ask := func(c *codec.Connect) { c.Props.SetRequestResponseInfo(1) }
	dontAsk := func(c *codec.Connect) { c.Props.SetRequestResponseInfo(0) }
	f := func(listener string, creds func(*codec.Connect), want string) {
		t.Helper()
		c, ack := connect(t, n.Addr(listener), codec.V5, "ri-"+listener, creds)
		defer c.Close()
		got, has := string(ack.Props.ResponseInfo), ack.Props.Has(codec.PropResponseInfo)
		if ack.Code != codec.Success || got != want || has != (want != "") {
			t.Errorf("%s: CONNACK %v, response information %q (present %v), want %q", listener, ack.Code, got, has, want)
		}
	}
	f("external", ask, "replies/")
	f("external", dontAsk, "")
	f("external", nil, "")
	f("quiet", ask, "")
	f("other", ask, "other/")
}

// TestStrictModePerZone goes through the configuration keys: mqtt.strict_mode is the default
// of every zone, zone.<name>.strict_mode overrides it for that zone's listeners.
func TestStrictModePerZone(t *testing.T) {
	n := startConf(t, `
mqtt.strict_mode = true
zone.external.idle_timeout = 15s
zone.lenient.strict_mode = false
listener.tcp.external = 127.0.0.1:0
listener.tcp.external.zone = external
listener.tcp.lenient = 127.0.0.1:0
listener.tcp.lenient.zone = lenient
`)
	const id = "sensor\x07bell" // a control character: refused only in strict mode
	if _, ack := connect(t, n.Addr("external"), codec.V5, id, nil); ack.Code != codec.ClientIdentifierNotValid {
		t.Fatalf("external (strict): CONNACK %v, want client identifier not valid", ack.Code)
	}
	if _, ack := connect(t, n.Addr("lenient"), codec.V5, id, nil); ack.Code != 0 {
		t.Fatalf("lenient: CONNACK %v, want success", ack.Code)
	}
}
