// WebSocket test tool: an MQTT client in the browser (MQTT.js's bundle, served by the broker)
// connecting to this broker's WebSocket listener, to subscribe, publish and see messages.
import { get } from "./api.js";
import { h, notice } from "./ui.js";

// The client, what it received and its subscriptions outlive the page, like EMQX's tool: leave
// the page and come back, and it is still connected, with its messages. The client's handlers
// therefore draw into view, the elements of the page shown now (null while another page is).
let client = null;
const log = []; // received messages, newest first
const subscribed = []; // the granted subscriptions, "topic (QoS n)"
let view = null; // {msg, render, showMessages, showSubs}

function tell(text, bad) {
  if (view) notice(view.msg, text, bad);
}

function loadMQTT() {
  if (window.mqtt) return Promise.resolve(window.mqtt);
  return new Promise((resolve, reject) => {
    const s = h("script", { src: "/vendor/mqtt.min.js" });
    s.onload = () => (window.mqtt ? resolve(window.mqtt) : reject(new Error("mqtt.min.js did not define mqtt")));
    s.onerror = () => reject(new Error("MQTT.js is not in this build: run make"));
    document.head.append(s);
  });
}

// wsURL guesses the broker's WebSocket URL from its listeners: ws on this host, its port.
async function wsURL() {
  let port = "8083";
  try {
    const r = await get("/api/v4/listeners");
    const ws = ((r.data[0] || {}).listeners || []).find((l) => l.protocol === "mqtt:ws" && l.running);
    if (ws) port = ws.listen_on.slice(ws.listen_on.lastIndexOf(":") + 1);
  } catch { /* keep the default */ }
  const host = location.hostname.includes(":") ? `[${location.hostname}]` : location.hostname;
  return `ws://${host}:${port}/mqtt`;
}

export function websocket(main) {
  main.append(h("h1", {}, "WebSocket test tool"));
  const msg = h("div");
  const url = h("input", { id: "ws-url", "aria-label": "URL" });
  const cid = h("input", { id: "ws-clientid", value: "dashboard_" + Math.random().toString(16).slice(2, 10) });
  const user = h("input", { id: "ws-username", autocomplete: "off" });
  const pass = h("input", { id: "ws-password", type: "password", autocomplete: "off" });
  const state = h("span", { id: "ws-state", role: "status" });
  const connectBtn = h("button", { id: "ws-connect", type: "submit" });
  const subTopic = h("input", { id: "ws-sub-topic", value: "testtopic/#" });
  const subQos = qosSelect("ws-sub-qos");
  const pubTopic = h("input", { id: "ws-pub-topic", value: "testtopic/1" });
  const pubPayload = h("textarea", { id: "ws-pub-payload", rows: "3" }, "Hello from the dashboard");
  const pubQos = qosSelect("ws-pub-qos");
  const pubRetain = h("input", { id: "ws-pub-retain", type: "checkbox" });
  const subs = h("ul", { id: "ws-subs" });
  function showSubs() {
    subs.replaceChildren(...subscribed.map((s) => h("li", {}, s)));
  }
  const received = h("div", { class: "log card", id: "ws-messages", "aria-live": "polite" });

  function qosSelect(id) {
    return h("select", { id }, [0, 1, 2].map((q) => h("option", { value: q }, "QoS " + q)));
  }
  function render() {
    const on = !!(client && client.connected);
    state.textContent = on ? "Connected" : client && client.reconnecting ? "Connecting…" : "Disconnected";
    state.className = on ? "status-on" : "status-off";
    connectBtn.textContent = client ? "Disconnect" : "Connect";
    for (const b of main.querySelectorAll("[data-needs-conn]")) b.disabled = !on;
  }
  function showMessages() {
    received.replaceChildren(...(log.length ? log.map((m) => h("div", {},
      h("strong", {}, m.topic), ` · QoS ${m.qos}${m.retain ? " · retained" : ""} · ${m.at}`, h("br"), m.payload)) : [h("p", { class: "muted" }, "No message yet.")]));
  }

  main.append(msg,
    h("form", { class: "card stack", id: "ws-connect-form", onsubmit: async (e) => {
      e.preventDefault();
      if (client) { client.end(true); client = null; subscribed.length = 0; render(); showSubs(); return; }
      try {
        const mqtt = await loadMQTT();
        client = mqtt.connect(url.value, { clientId: cid.value, username: user.value || undefined, password: pass.value || undefined,
          clean: true, reconnectPeriod: 0, connectTimeout: 8000, protocolVersion: 4 });
        const to = url.value;
        client.on("connect", () => { tell("Connected to " + to + "."); if (view) view.render(); });
        client.on("close", () => { subscribed.length = 0; if (view) { view.render(); view.showSubs(); } });
        client.on("error", (err) => { tell("Connection error: " + err.message, true); if (view) view.render(); });
        client.on("message", (topic, payload, packet) => {
          log.unshift({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain, at: new Date().toLocaleTimeString() });
          log.length = Math.min(log.length, 200);
          if (view) view.showMessages();
        });
        render();
      } catch (err) { tell(err.message, true); }
    } },
    h("h2", {}, "Connection ", state),
    h("div", { class: "row" }, h("label", {}, "URL", url), h("label", {}, "Client id", cid)),
    h("div", { class: "row" }, h("label", {}, "User name", user), h("label", {}, "Password", pass)),
    h("div", { class: "row" }, connectBtn)),
    h("div", { class: "ws-grid" },
      h("form", { class: "card stack", onsubmit: (e) => {
        e.preventDefault();
        const t = subTopic.value.trim(), q = Number(subQos.value);
        client.subscribe(t, { qos: q }, (err, granted) => {
          if (err || !granted || granted[0].qos === 128) { tell(`Subscription to ${t} refused${err ? ": " + err.message : ""}.`, true); return; }
          subscribed.push(`${t} (QoS ${granted[0].qos})`);
          if (view) view.showSubs();
          tell(`Subscribed to ${t}.`);
        });
      } },
        h("h2", {}, "Subscribe"), h("div", { class: "row" }, h("label", {}, "Topic", subTopic), h("label", {}, "QoS", subQos)),
        h("div", { class: "row" }, h("button", { type: "submit", id: "ws-subscribe", "data-needs-conn": true }, "Subscribe")), subs),
      h("form", { class: "card stack", onsubmit: (e) => {
        e.preventDefault();
        const t = pubTopic.value.trim();
        client.publish(t, pubPayload.value, { qos: Number(pubQos.value), retain: pubRetain.checked }, (err) => {
          tell(err ? "Publish failed: " + err.message : `Published to ${t}.`, !!err);
        });
      } },
        h("h2", {}, "Publish"), h("div", { class: "row" }, h("label", {}, "Topic", pubTopic), h("label", {}, "QoS", pubQos)),
        h("label", {}, "Payload", pubPayload), h("label", { class: "row" }, h("span", {}, pubRetain, " Retain")),
        h("div", { class: "row" }, h("button", { type: "submit", id: "ws-publish", "data-needs-conn": true }, "Publish")))),
    h("h2", {}, "Messages received"), received);

  wsURL().then((u) => { if (!url.value) url.value = u; });
  const mine = { msg, render, showMessages, showSubs };
  view = mine;
  render();
  showMessages();
  showSubs();
  const timer = setInterval(render, 1000);
  return { stop() { clearInterval(timer); if (view === mine) view = null; } };
}
