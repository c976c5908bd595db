// The console's pages. Each is page(main, arg) and may return {stop()} to end its timers.
import { get, del, post, put, enc } from "./api.js";
import { h, table, status, kv, pager, notice } from "./ui.js";
import { overview } from "./overview.js";
import { websocket } from "./wstool.js";

// asked holds, for each element a page draws answers into, the number of its latest request.
const asked = new WeakMap();

// ticket numbers a new request whose answer goes into el, and returns a check that is true while
// no later request for el has been made. A page draws an answer only while its check holds, so a
// slower, older answer (the page's first load arriving after a search, or a load started before
// an add) never replaces what the user asked for last.
function ticket(el) {
  const n = (asked.get(el) || 0) + 1;
  asked.set(el, n);
  return () => asked.get(el) === n;
}

// list renders a paged list at path with the query built by query(), into el; only the answer to
// the latest request for el is drawn.
async function list(el, path, params, columns, empty) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== undefined));
  const latest = ticket(el);
  try {
    const r = await get(path + (q.toString() ? "?" + q : ""));
    if (!latest()) return;
    const rows = r.data || [];
    el.replaceChildren(table(columns, rows, empty),
      r.meta ? pager(r.meta, (p) => list(el, path, { ...params, _page: p }, columns, empty)) : "");
  } catch (e) {
    if (latest()) notice(el, e.message, true);
  }
}

function title(main, text, ...extra) {
  main.append(h("h1", {}, text, ...extra));
}

function clients(main) {
  title(main, "Clients");
  const out = h("div", { id: "clients-list" });
  const field = h("select", { id: "clients-field", "aria-label": "Search by" },
    h("option", { value: "_like_clientid" }, "Client id contains"),
    h("option", { value: "_like_username" }, "User name contains"),
    h("option", { value: "ip_address" }, "IP address is"));
  const value = h("input", { id: "clients-search", type: "search", placeholder: "search", "aria-label": "Search text" });
  const msg = h("div");
  const columns = [
    { title: "Client id", get: (c) => h("a", { href: "#/client/" + enc(c.clientid) }, c.clientid), wrap: true },
    { title: "User name", get: (c) => c.username || "—" },
    { title: "Address", get: (c) => c.ip_address ? `${c.ip_address}:${c.port}` : "—" },
    { title: "State", get: (c) => status(c.connected, "connected", "disconnected") },
    { title: "Protocol", get: (c) => c.proto_name ? `${c.proto_name} ${c.proto_ver}` : "—" },
    { title: "Keepalive", get: (c) => c.keepalive ?? "—" },
    { title: "Subscriptions", get: (c) => c.subscriptions_cnt },
    { title: "Connected at", get: (c) => c.connected_at || "—" },
    { title: "", get: (c) => c.connected ? h("button", { class: "danger", "data-kick": c.clientid, onclick: () => kick(c.clientid) }, "Kick") : "" },
  ];
  const load = () => list(out, "/api/v4/clients", { [field.value]: value.value.trim(), _limit: 50 }, columns, "No client matches.");
  async function kick(id) {
    try {
      await del("/api/v4/clients/" + enc(id));
      notice(msg, `Client ${id} was kicked.`);
    } catch (e) { notice(msg, e.message, true); }
    load();
  }
  main.append(h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); load(); } },
    h("label", {}, "Search by", field), h("label", {}, "Text", value), h("button", { type: "submit", id: "clients-go" }, "Search"),
    h("button", { type: "button", class: "secondary", onclick: load }, "Refresh")), msg, out);
  load();
}

function client(main, id) {
  title(main, "Client ", h("span", { class: "muted" }, id));
  const msg = h("div");
  const body = h("div", { class: "stack" });
  main.append(h("p", {}, h("a", { href: "#/clients" }, "← All clients")), msg, body);
  (async () => {
    try {
      const [c, subs] = await Promise.all([get("/api/v4/clients/" + enc(id)), get("/api/v4/subscriptions/" + enc(id))]);
      const x = (c.data || [])[0] || {};
      const kickBtn = x.connected ? h("button", { class: "danger", id: "client-kick", onclick: async () => {
        try { await del("/api/v4/clients/" + enc(id)); notice(msg, `Client ${id} was kicked.`); kickBtn.disabled = true; } catch (e) { notice(msg, e.message, true); }
      } }, "Kick") : "";
      body.append(
        h("div", { class: "card" }, h("h2", {}, "Connection"), kv([
          ["State", status(x.connected, "connected", "disconnected")], ["User name", x.username], ["Address", x.ip_address ? `${x.ip_address}:${x.port}` : ""],
          ["Protocol", x.proto_name ? `${x.proto_name} ${x.proto_ver}` : ""], ["Listener", x.listener], ["Zone", x.zone],
          ["Keepalive", x.keepalive], ["Connected at", x.connected_at],
          ["Received", x.recv_msg === undefined ? "" : `${x.recv_msg} messages, ${x.recv_pkt} packets, ${x.recv_oct} bytes`],
          ["Sent", x.send_msg === undefined ? "" : `${x.send_msg} messages, ${x.send_pkt} packets, ${x.send_oct} bytes`]]), h("p", {}, kickBtn)),
        h("div", { class: "card" }, h("h2", {}, "Session"), kv([
          ["Clean start", String(x.clean_start)], ["Expiry interval", (x.expiry_interval ?? "") + " s"], ["Created at", x.created_at],
          ["Inflight", `${x.inflight} of ${x.max_inflight}`], ["Queued", x.mqueue_len], ["Awaiting PUBREL", x.awaiting_rel]])),
        h("h2", {}, "Subscriptions"),
        table([{ title: "Topic filter", get: (s) => s.topic, wrap: true }, { title: "QoS", get: (s) => s.qos }], subs.data || [], "No subscription."));
    } catch (e) { notice(msg, e.message, true); }
  })();
}

function subscriptions(main) {
  title(main, "Subscriptions");
  const out = h("div");
  const cid = h("input", { type: "search", placeholder: "client id", "aria-label": "Client id" });
  const load = () => list(out, "/api/v4/subscriptions", { clientid: cid.value.trim(), _limit: 50 }, [
    { title: "Client id", get: (s) => h("a", { href: "#/client/" + enc(s.clientid) }, s.clientid), wrap: true },
    { title: "Topic filter", get: (s) => s.topic, wrap: true }, { title: "QoS", get: (s) => s.qos }], "No subscription.");
  main.append(h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); load(); } },
    h("label", {}, "Client id", cid), h("button", { type: "submit" }, "Filter")), out);
  load();
}

function topics(main) {
  title(main, "Topics and routes");
  const out = h("div");
  main.append(h("p", { class: "muted" }, "Each topic filter someone subscribes to, and the node that routes it."), out);
  list(out, "/api/v4/routes", { _limit: 100 }, [{ title: "Topic filter", get: (r) => r.topic, wrap: true }, { title: "Node", get: (r) => r.node }], "No route: nobody subscribes.");
}

function retained(main) {
  title(main, "Retained messages");
  const out = h("div");
  const msg = h("div");
  const filter = h("input", { id: "retained-filter", value: "#", "aria-label": "Topic filter" });
  const load = () => list(out, "/api/v4/retained", { topic: filter.value.trim() || "#", _limit: 50 }, [
    { title: "Topic", get: (m) => m.topic, wrap: true },
    { title: "Payload", get: (m) => m.encoding === "plain" ? m.payload.slice(0, 200) : `(${m.size} bytes, base64) ${m.payload.slice(0, 80)}`, wrap: true },
    { title: "QoS", get: (m) => m.qos }, { title: "From", get: (m) => m.from_clientid || "—" },
    { title: "Retained at", get: (m) => new Date(m.created_at).toLocaleString() },
    { title: "", get: (m) => h("button", { class: "danger", onclick: async () => {
      try { await del("/api/v4/retained/" + enc(m.topic)); notice(msg, `Deleted the retained message of ${m.topic}.`); } catch (e) { notice(msg, e.message, true); }
      load();
    } }, "Delete") }], "No retained message matches.");
  main.append(h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); load(); } },
    h("label", {}, "Topic filter", filter), h("button", { type: "submit" }, "Show")), msg, out);
  load();
}

function listeners(main) {
  title(main, "Listeners");
  const out = h("div");
  main.append(out);
  (async () => {
    try {
      const r = await get("/api/v4/listeners");
      const ls = (r.data[0] || {}).listeners || [];
      out.replaceChildren(table([
        { title: "Listener", get: (l) => l.identifier }, { title: "Address", get: (l) => l.listen_on },
        { title: "State", get: (l) => status(l.running, "running", "stopped") },
        { title: "Connections", get: (l) => l.current_conns }, { title: "Limit", get: (l) => l.max_conns || "none" }], ls));
    } catch (e) { notice(out, e.message, true); }
  })();
}

function plugins(main) {
  title(main, "Plugins");
  const msg = h("div");
  const out = h("div");
  main.append(msg, out);
  async function load() {
    const latest = ticket(out);
    try {
      const r = await get("/api/v4/plugins");
      if (!latest()) return;
      const ps = (r.data[0] || {}).plugins || [];
      out.replaceChildren(table([
        { title: "Plugin", get: (p) => p.name }, { title: "Description", get: (p) => p.description, wrap: true },
        { title: "Type", get: (p) => p.type || "—" }, { title: "State", get: (p) => status(p.active, "running", "stopped") },
        { title: "", get: (p) => h("button", { class: p.active ? "danger" : "", "data-plugin": p.name, onclick: () => op(p.name, p.active ? "unload" : "load") }, p.active ? "Unload" : "Load") }], ps));
    } catch (e) { notice(out, e.message, true); }
  }
  async function op(name, what) {
    if (name === "emqx_dashboard" && what === "unload" &&
      !window.confirm("Unloading emqx_dashboard closes this console (emqx_ctl plugins load emqx_dashboard brings it back). Unload?")) return;
    try {
      await put(`/api/v4/plugins/${enc(name)}/${what}`);
      notice(msg, `${name}: ${what === "load" ? "loaded" : "unloaded"}.`);
    } catch (e) { notice(msg, e.message, true); }
    load();
  }
  load();
}

function alarms(main) {
  title(main, "Alarms");
  const now = h("div"), old = h("div"), msg = h("div");
  const cols = [{ title: "Alarm", get: (a) => a.name }, { title: "Message", get: (a) => a.message, wrap: true },
    { title: "Raised at", get: (a) => a.activate_at }, { title: "Cleared at", get: (a) => a.deactivate_at || "—" },
    { title: "Duration", get: (a) => Math.round(a.duration / 1000) + " s" }];
  async function load() {
    const latest = ticket(now);
    try {
      const [a, d] = await Promise.all([get("/api/v4/alarms/activated"), get("/api/v4/alarms/deactivated")]);
      if (!latest()) return;
      now.replaceChildren(table(cols, (a.data[0] || {}).alarms || [], "No alarm is raised."));
      old.replaceChildren(table(cols, (d.data[0] || {}).alarms || [], "No cleared alarm is kept."));
    } catch (e) { notice(msg, e.message, true); }
  }
  main.append(msg, h("h2", {}, "Current"), now, h("h2", {}, "History ",
    h("button", { class: "secondary", onclick: async () => { await del("/api/v4/alarms/deactivated").catch((e) => notice(msg, e.message, true)); load(); } }, "Clear history")), old);
  load();
}

function banned(main) {
  title(main, "Banned");
  const out = h("div"), msg = h("div");
  const as = h("select", { name: "as" }, h("option", { value: "clientid" }, "client id"), h("option", { value: "username" }, "user name"), h("option", { value: "peerhost" }, "IP address"));
  const who = h("input", { name: "who", required: true });
  const reason = h("input", { name: "reason" });
  const mins = h("input", { name: "minutes", type: "number", min: "1", value: "60" });
  const load = () => list(out, "/api/v4/banned", { _limit: 50 }, [
    { title: "Who", get: (b) => b.who, wrap: true }, { title: "As", get: (b) => b.as }, { title: "Reason", get: (b) => b.reason || "—", wrap: true },
    { title: "By", get: (b) => b.by }, { title: "Until", get: (b) => typeof b.until === "number" ? new Date(b.until * 1000).toLocaleString() : String(b.until) },
    { title: "", get: (b) => h("button", { class: "danger", onclick: async () => {
      try { await del(`/api/v4/banned/${enc(b.as)}/${enc(b.who)}`); notice(msg, `Ban of ${b.who} lifted.`); } catch (e) { notice(msg, e.message, true); }
      load();
    } }, "Lift") }], "Nobody is banned.");
  main.append(h("form", { class: "toolbar card", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await post("/api/v4/banned", { as: as.value, who: who.value.trim(), reason: reason.value, by: "dashboard",
        until: Math.floor(Date.now() / 1000) + 60 * Number(mins.value || 60) });
      notice(msg, `${who.value} banned.`);
      who.value = "";
    } catch (err) { notice(msg, err.message, true); }
    load();
  } }, h("label", {}, "As", as), h("label", {}, "Who", who), h("label", {}, "Reason", reason), h("label", {}, "Minutes", mins), h("button", { type: "submit" }, "Ban")), msg, out);
  load();
}

function authUsers(main) {
  title(main, "Users of the auth plugins");
  const msg = h("div"), body = h("div", { class: "stack" });
  main.append(h("p", { class: "muted" }, "User names and client ids of emqx_auth_username and emqx_auth_clientid (when loaded)."), msg, body);
  const kinds = [["auth_username", "username", "User names (emqx_auth_username)"], ["auth_clientid", "clientid", "Client ids (emqx_auth_clientid)"]];
  async function load() {
    const latest = ticket(body);
    const boxes = [];
    for (const [path, field, label] of kinds) {
      const box = h("div", { class: "card" }, h("h2", {}, label));
      boxes.push(box);
      try {
        const r = await get("/api/v4/" + path);
        const name = h("input", { id: field + "-name", "aria-label": field, placeholder: field, required: true });
        const pass = h("input", { id: field + "-pass", type: "password", "aria-label": "password", placeholder: "password", required: true, autocomplete: "new-password" });
        box.append(table([{ title: field, get: (u) => u, wrap: true },
          { title: "", get: (u) => h("button", { class: "danger", onclick: async () => {
            try { await del(`/api/v4/${path}/${enc(u)}`); notice(msg, `${u} deleted.`); } catch (e) { notice(msg, e.message, true); }
            load();
          } }, "Delete") }], r.data || [], "None."),
        h("form", { class: "toolbar", onsubmit: async (e) => {
          e.preventDefault();
          try { await post("/api/v4/" + path, { [field]: name.value.trim(), password: pass.value }); notice(msg, `${name.value} added.`); } catch (err) { notice(msg, err.message, true); }
          load();
        } }, name, pass, h("button", { type: "submit", id: field + "-add" }, "Add")));
      } catch (e) {
        box.append(h("p", { class: "muted" }, e.status === 404 ? "The plugin is not loaded." : e.message));
      }
    }
    if (latest()) body.replaceChildren(...boxes);
  }
  load();
}

function admins(main) {
  title(main, "Dashboard users");
  const out = h("div"), msg = h("div");
  const name = h("input", { name: "username", required: true, autocomplete: "off" });
  const pass = h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" });
  const tags = h("input", { name: "tags" });
  async function load() {
    const latest = ticket(out);
    try {
      const r = await get("/api/v4/users");
      if (!latest()) return;
      out.replaceChildren(table([{ title: "User", get: (u) => u.username }, { title: "Tags", get: (u) => u.tags || "—", wrap: true },
        { title: "", get: (u) => h("button", { class: "danger", onclick: async () => {
          try { await del("/api/v4/users/" + enc(u.username)); notice(msg, `${u.username} deleted.`); } catch (e) { notice(msg, e.message, true); }
          load();
        } }, "Delete") }], r.data));
    } catch (e) { notice(out, e.message, true); }
  }
  main.append(h("form", { class: "toolbar card", onsubmit: async (e) => {
    e.preventDefault();
    try { await post("/api/v4/users", { username: name.value.trim(), password: pass.value, tags: tags.value }); notice(msg, `${name.value} added.`); name.value = pass.value = tags.value = ""; } catch (err) { notice(msg, err.message, true); }
    load();
  } }, h("label", {}, "User name", name), h("label", {}, "Password", pass), h("label", {}, "Tags", tags), h("button", { type: "submit" }, "Add user")),
  msg, out, h("p", { class: "muted" }, "Change your own password with “Password” at the top; emqx_ctl admins passwd resets anyone's."));
  load();
}

export const pages = {
  overview, clients, client, subscriptions, topics, retained, listeners, plugins, alarms, banned,
  users: authUsers, admins, websocket,
};
