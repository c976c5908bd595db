package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mqttClient connects a paho MQTT 3.1.1 client; lost receives once when the broker drops it.
func mqttClient(t *testing.T, n *node, id string) (mqtt.Client, chan error) {
	t.Helper()
	lost := make(chan error, 1)
	o := mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:" + strconv.Itoa(n.mqtt)).SetClientID(id).
		SetAutoReconnect(false).SetConnectRetry(false).SetKeepAlive(30 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("paho connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, lost
}

// holdBack is JavaScript that makes the page's requests whose URL ends with suffix wait ms
// before they are sent; window.realFetch keeps the page's own fetch, to put back.
func holdBack(suffix string, ms int) string {
	return fmt.Sprintf(`(() => { const f = window.fetch; window.realFetch = f;
		window.fetch = (url, o) => String(url).endsWith(%q) ? new Promise((ok) => setTimeout(ok, %d)).then(() => f(url, o)) : f(url, o); })()`, suffix, ms)
}

// TestConsoleFlows logs in (after a wrong password), watches the overview's charts move with
// real traffic, finds a paho client in the clients list and kicks it, browses and deletes a
// retained message, goes round every page, and loads and unloads a plugin; at 1280 px.
func TestConsoleFlows(t *testing.T) {
	needBrowser(t)
	n := startNode(t)
	tb := openTab(t, n, 1280)

	// A wrong password is refused with a message and logged by the node.
	tb.allowError("/api/v4/auth") // the browser logs the 401 of the refused login
	tb.login("admin", "wrong")
	tb.textIn("#login-error", "username or password is wrong")
	if !strings.Contains(n.log(), `msg="dashboard login refused"`) {
		t.Errorf("the node did not log the refused login:\n%s", n.log())
	}
	tb.run(set("#login-pass", "public"), click("#login-submit"))
	tb.wait("the console", `!document.getElementById("shell").hidden`)

	// Overview with traffic: a publisher and a subscriber.
	sub, _ := mqttClient(t, n, "chart-sub")
	sub.Subscribe("load/#", 0, func(mqtt.Client, mqtt.Message) {}).Wait()
	pub, _ := mqttClient(t, n, "chart-pub")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { // 50 messages a second until the overview is captured: bounded by stop
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				pub.Publish("load/"+strconv.Itoa(i%4), 0, false, "x")
			}
		}
	}()
	tb.open("overview")
	tb.textIn("#overview-cards", "Connections")
	tb.wait("connections card = 2", `(() => { const e = document.querySelector('[data-stat="Connections"]'); return !!e && e.innerText === "2"; })()`)
	tb.wait("both charts drawn", `document.querySelectorAll(".chart canvas").length === 2`)
	time.Sleep(5 * time.Second) // a few seconds of points on the charts
	tb.wait("a message rate above 0 under the chart", `/Now: [1-9][0-9.]* in\/s, [1-9][0-9.]* out\/s/.test(document.getElementById("rate-now").innerText)`)
	tb.shot("overview")
	stop()

	// Clients: search by client id, open one, kick one.
	victim, lost := mqttClient(t, n, "victim-42")
	victim.Subscribe("victim/topic", 1, nil).Wait()
	tb.open("clients")
	tb.run(set("#clients-search", "victim"), click("#clients-go"))
	tb.textIn("#clients-list", "victim-42")
	tb.wait("only the victim listed", `document.querySelectorAll("#clients-list tbody tr").length === 1`)
	tb.shot("clients")
	tb.eval(`location.hash = "#/client/victim-42"`)
	tb.textIn("#main", "victim/topic")
	tb.textIn("#main", "connected")
	tb.textIn("#main", "0 messages, 2 packets") // received: CONNECT and SUBSCRIBE
	tb.shot("client")
	// The page's own first load (every client) is held back 1.5 s by the page's fetch, so that
	// its answer arrives after the search's: the list must stay the searched one.
	tb.eval(holdBack("/api/v4/clients?_limit=50", 1500))
	tb.open("clients")
	tb.run(set("#clients-search", "victim"), click("#clients-go"))
	tb.wait("only the victim listed", `document.querySelectorAll("#clients-list tbody tr").length === 1`)
	time.Sleep(2 * time.Second) // the held-back answer has arrived by now
	tb.wait("still only the victim listed", `document.querySelectorAll("#clients-list tbody tr").length === 1`)
	tb.eval(`window.fetch = window.realFetch`)
	// The page's own first load lists every client; the click waits for the searched list, so
	// that the button is not moved under the pointer when that list replaces the first.
	tb.wait("the victim's kick button alone", `document.querySelectorAll("#clients-list tbody tr").length === 1 && document.querySelector('[data-kick="victim-42"]') !== null`)
	tb.run(click(`[data-kick="victim-42"]`))
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatalf("kicked from the console, the paho client is still connected; the node's clients: %s", n.apiGet(t, "/api/v4/clients"))
	}
	tb.textIn("#main", "Client victim-42 was kicked.")

	// Retained: browse, then delete from the console.
	pub.Publish("dash/retained/one", 1, true, "kept-payload").Wait()
	tb.open("retained")
	tb.textIn("#main", "dash/retained/one")
	tb.textIn("#main", "kept-payload")
	tb.shot("retained")
	tb.eval(`[...document.querySelectorAll("#main tr")].find(r => r.innerText.includes("dash/retained/one")).querySelector("button").click()`)
	tb.textIn("#main", "Deleted the retained message of dash/retained/one.")
	if b := n.apiGet(t, "/api/v4/retained/dash%2Fretained%2Fone"); !strings.Contains(b, "no retained message") {
		t.Errorf("after the console's delete the API still has it: %s", b)
	}

	// Every other page renders (and says something of this node).
	for page, want := range map[string]string{
		"subscriptions": "load/#", "topics": "load/#", "listeners": "mqtt:ws:external", "alarms": "Current",
		"banned": "Nobody is banned.", "users": "The plugin is not loaded.", "admins": "admin",
	} {
		tb.open(page)
		tb.textIn("#main", want)
		tb.shot(page)
	}

	// Banned: ban a client id from the console, then lift the ban.
	tb.open("banned")
	tb.run(set(`#main [name="who"]`, "bad-device"), set(`#main [name="reason"]`, "test ban"), click(`#main form button[type="submit"]`))
	tb.textIn("#main", "bad-device banned.")
	tb.textIn("#main", "test ban")
	if b := n.apiGet(t, "/api/v4/banned"); !strings.Contains(b, `"who":"bad-device"`) {
		t.Errorf("the console's ban is not in the API's list: %s", b)
	}
	tb.shot("banned")
	tb.eval(`[...document.querySelectorAll("#main tr")].find(r => r.innerText.includes("bad-device")).querySelector("button").click()`)
	tb.textIn("#main", "Ban of bad-device lifted.")
	tb.textIn("#main", "Nobody is banned.")

	// Plugins: load emqx_auth_username from the console, then unload it.
	tb.open("plugins")
	tb.wait("plugin row", `document.querySelector('[data-plugin="emqx_auth_username"]') !== null`)
	tb.run(click(`[data-plugin="emqx_auth_username"]`))
	tb.textIn("#main", "emqx_auth_username: loaded.")
	tb.shot("plugins")
	if out := n.ctl(t, "plugins", "list"); !strings.Contains(out, "Plugin(emqx_auth_username, version=") || !strings.Contains(out, "active=true") {
		t.Errorf("emqx_ctl plugins list after the console's load:\n%s", out)
	}
	tb.open("users")
	tb.wait("the user form", `document.getElementById("username-add") !== null`)
	tb.run(set("#username-name", "sensor-7"), set("#username-pass", "pw7"), click("#username-add"))
	tb.textIn("#main", "sensor-7 added.")
	if out := n.ctl(t, "users", "list"); out != "sensor-7\n" {
		t.Errorf("emqx_ctl users list after the console's add: %q", out)
	}
	tb.shot("users")
	tb.open("plugins")
	tb.wait("unload button", `(() => { const b = document.querySelector('[data-plugin="emqx_auth_username"]'); return !!b && b.innerText === "Unload"; })()`)
	tb.run(click(`[data-plugin="emqx_auth_username"]`))
	tb.textIn("#main", "emqx_auth_username: unloaded.")
}

// TestWebSocketTool connects the console's MQTT.js client to the broker's WebSocket listener,
// receives what mosquitto_pub publishes and publishes what mosquitto_sub receives.
func TestWebSocketTool(t *testing.T) {
	needBrowser(t)
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (make test-deps): %v", tool, err)
		}
	}
	n := startNode(t)
	tb := openTab(t, n, 1280)
	// The node's name for the header is held back 2 s after the login: the page opened meanwhile
	// must not be drawn again when it comes (it was, and the connected tool's messages then went
	// to the replaced page's list).
	tb.login("admin", "public", holdBack("/api/v4/brokers", 2000))
	tb.wait("the console", `!document.getElementById("shell").hidden`)
	tb.open("websocket")
	tb.eval(`document.querySelector("#main h1").dataset.first = "yes"`)
	tb.wait("the WebSocket URL from the listeners", fmt.Sprintf(`document.getElementById("ws-url").value === "ws://127.0.0.1:%d/mqtt"`, n.ws))
	tb.run(click("#ws-connect"))
	tb.textIn("#ws-state", "Connected")
	tb.run(set("#ws-sub-topic", "dash/in"), click("#ws-subscribe"))
	tb.textIn("#ws-subs", "dash/in (QoS 0)")
	tb.wait("the node's name in the header", `document.getElementById("node-name").innerText.includes("emqx@")`)
	tb.wait("the same page as before the name came", `document.querySelector("#main h1").dataset.first === "yes"`)

	// mosquitto_pub → browser.
	mosquittoPub := func(msg string) {
		t.Helper()
		if out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(n.mqtt), "-t", "dash/in", "-m", msg, "-q", "1").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
	}
	mosquittoPub("hello from mosquitto_pub")
	tb.textIn("#ws-messages", "hello from mosquitto_pub")

	// Away and back: the client is still connected, with its subscription and messages, and
	// what arrives now is shown on the page drawn anew.
	tb.open("overview")
	tb.open("websocket")
	tb.textIn("#ws-state", "Connected")
	tb.textIn("#ws-subs", "dash/in (QoS 0)")
	tb.textIn("#ws-messages", "hello from mosquitto_pub")
	mosquittoPub("second, after coming back")
	tb.textIn("#ws-messages", "second, after coming back")

	// browser → mosquitto_sub.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(n.mqtt), "-t", "dash/out", "-C", "1", "-i", "mosq-sub")
	var out strings.Builder
	sub.Stdout = &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(n.apiGet(t, "/api/v4/subscriptions/mosq-sub"), "dash/out") {
		if time.Now().After(deadline) {
			t.Fatal("mosquitto_sub did not subscribe within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.run(set("#ws-pub-topic", "dash/out"),
		set("#ws-pub-payload", "hello from the browser"),
		click("#ws-publish"))
	tb.textIn("#main", "Published to dash/out.")
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v (got %q)", err, out.String())
	}
	if got := strings.TrimSpace(out.String()); got != "hello from the browser" {
		t.Fatalf("mosquitto_sub got %q, want the browser's message", got)
	}
	tb.shot("websocket")
	tb.run(click("#ws-connect"))
	tb.textIn("#ws-state", "Disconnected")
}

// TestPhoneWidth: at 390 px the menu folds behind a button, and the overview, clients and
// WebSocket pages fit the width (tables scroll in their own box); an administrator added with
// emqx_ctl admins logs in, changes their password in the console and logs in with the new one.
func TestPhoneWidth(t *testing.T) {
	needBrowser(t)
	n := startNode(t)
	if out := n.ctl(t, "admins", "add", "ops", "s3cret", "operator"); out != "ok\n" {
		t.Fatalf("emqx_ctl admins add: %q", out)
	}
	mqttClient(t, n, "phone-client-with-a-rather-long-client-identifier")
	tb := openTab(t, n, 390)
	tb.login("ops", "s3cret")
	tb.wait("the console", `!document.getElementById("shell").hidden`)
	tb.wait("the menu folded", `getComputedStyle(document.getElementById("nav")).display === "none"`)
	tb.run(click("#menu-toggle"))
	tb.wait("the menu open", `getComputedStyle(document.getElementById("nav")).display !== "none"`)
	tb.shot("menu")
	for _, page := range []string{"overview", "clients", "websocket", "admins"} {
		tb.open(page)
		switch page {
		case "overview":
			tb.wait("both charts drawn", `document.querySelectorAll(".chart canvas").length === 2`)
		case "clients":
			tb.textIn("#main", "phone-client-with-a-rather-long-client-identifier")
		case "admins":
			tb.textIn("#main", "operator")
		}
		tb.noOverflow(page)
		tb.shot(page)
	}
	tb.run(click("#change-pwd"), set(`#pwd-form [name="old"]`, "s3cret"), set(`#pwd-form [name="new"]`, "n3w-secret"),
		click(`#pwd-form button[type="submit"]`))
	tb.textIn("#login-error", "Password changed: log in with the new one.")
	if out := n.ctl(t, "admins", "passwd", "nobody", "x"); out != "Error: not_found\n" {
		t.Errorf("emqx_ctl admins passwd of an unknown user: %q", out)
	}
	tb.allowError("/api/v4/auth")
	tb.login("ops", "s3cret")
	tb.textIn("#login-error", "username or password is wrong")
	tb.login("ops", "n3w-secret")
	tb.wait("the console", `!document.getElementById("shell").hidden`)
}
