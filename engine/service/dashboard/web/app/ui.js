// Small DOM helpers. Text from the broker is always set as text, never parsed as HTML.

// h builds an element: h("a", {href: "#"}, "text", child...). Attributes starting with "on"
// are listeners; null and false children are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "hidden") el.hidden = true;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// table renders rows with columns [{title, get(row) -> text|Node, wrap}].
export function table(columns, rows, empty = "Nothing to show.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.title)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.wrap ? "wrap" : null }, c.get(r))))))));
}

// status writes a state in words; the dot before it only repeats it.
export function status(on, yes, no) {
  return h("span", { class: on ? "status-on" : "status-off" }, on ? yes : no);
}

// kv renders a definition list of [key, value] pairs.
export function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v === "" || v === undefined ? "—" : v)]));
}

export function fmtDuration(secs) {
  secs = Math.floor(secs);
  const d = Math.floor(secs / 86400), hh = Math.floor(secs % 86400 / 3600), m = Math.floor(secs % 3600 / 60), s = secs % 60;
  return (d ? d + "d " : "") + (d || hh ? hh + "h " : "") + (d || hh || m ? m + "m " : "") + s + "s";
}

// pager renders previous/next buttons for a paged answer's meta.
export function pager(meta, go) {
  const page = meta.page || 1;
  const pages = Math.max(1, Math.ceil((meta.count || 0) / (meta.limit || 1)));
  return h("div", { class: "pager" },
    h("button", { class: "secondary", disabled: page <= 1, onclick: () => go(page - 1) }, "Previous"),
    h("span", {}, `Page ${page} of ${pages} (${meta.count || 0} in all)`),
    h("button", { class: "secondary", disabled: !meta.hasnext, onclick: () => go(page + 1) }, "Next"));
}

// notice shows a message in el: an error in red with its text, or a plain note.
export function notice(el, msg, isError) {
  el.replaceChildren(msg ? h("p", { class: isError ? "error" : "ok", role: isError ? "alert" : "status" }, msg) : "");
}
