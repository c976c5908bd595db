// The HTTP API as the console calls it: same origin (the dashboard mounts the API's handler),
// the session token as a bearer token. A 401 ends the session.

const KEY = "emqgo.session";

export const session = {
  get() { try { return JSON.parse(sessionStorage.getItem(KEY)); } catch { return null; } },
  set(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class APIError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let onExpired = () => {};
export function whenExpired(f) { onExpired = f; }

// call sends a request and returns the decoded envelope; it throws APIError for a refusal.
export async function call(method, path, body) {
  const s = session.get();
  const headers = {};
  if (s) headers.Authorization = "Bearer " + s.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await resp.json(); } catch { /* not JSON */ }
  if (resp.status === 401 && s && path !== "/api/v4/auth") {
    session.clear();
    onExpired(data && data.message);
  }
  if (!resp.ok || (data && data.code !== 0)) throw new APIError(resp.status, data);
  return data;
}

export const get = (p) => call("GET", p);
export const del = (p) => call("DELETE", p);
export const post = (p, b) => call("POST", p, b ?? {});
export const put = (p, b) => call("PUT", p, b ?? {});
export const enc = encodeURIComponent;

// login exchanges a user name and password for a session.
export async function login(username, password) {
  const r = await call("POST", "/api/v4/auth", { username, password });
  session.set(r.data);
  return r.data;
}
