// The console's shell: login, navigation between pages (#/name), the user's password, and
// the check that the npm files are in this build.
import { session, login, whenExpired, put, get } from "./api.js";
import { pages } from "./pages.js";

const $ = (id) => document.getElementById(id);
let current = null; // the page shown: {stop()} or null

function showLogin(msg) {
  stopPage();
  $("shell").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = msg || "";
  $("login-user").focus();
}

// showShell shows the console at the page of the location's hash. The node's name in the header
// is filled in when its answer comes; the page is not drawn again then, so whatever the user
// opened or typed meanwhile stays.
async function showShell() {
  $("login").hidden = true;
  $("shell").hidden = false;
  $("whoami").textContent = session.get().username;
  route();
  try {
    const r = await get("/api/v4/brokers");
    const b = Array.isArray(r.data) ? r.data[0] : r.data;
    $("node-name").textContent = b ? `${b.node} · ${b.version}` : "";
  } catch { /* shown by the pages */ }
}

function stopPage() {
  if (current && current.stop) current.stop();
  current = null;
}

// route shows the page the location's hash names (#/clients/abc: page clients, arg abc).
function route() {
  if (!session.get()) return showLogin();
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "overview").split("/");
  const page = pages[name] || pages.overview;
  const here = "#/" + (pages[name] ? name : "overview");
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("nav").classList.remove("open");
  $("menu-toggle").setAttribute("aria-expanded", "false");
  stopPage();
  const main = $("main");
  main.replaceChildren();
  current = page(main, rest.map(decodeURIComponent).join("/")) || null;
}

async function vendorCheck() {
  try {
    const r = await fetch("/vendor/VERSIONS", { method: "HEAD" });
    $("vendor-missing").hidden = r.ok;
  } catch {
    $("vendor-missing").hidden = false;
  }
}

function setup() {
  whenExpired((msg) => showLogin(msg || "Your session ended: log in again."));
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-submit").disabled = true;
    try {
      await login($("login-user").value, $("login-pass").value);
      $("login-pass").value = "";
      await showShell();
    } catch (e) {
      $("login-error").textContent = e.message;
    } finally {
      $("login-submit").disabled = false;
    }
  });
  $("logout").addEventListener("click", () => { session.clear(); showLogin("Logged out."); });
  $("menu-toggle").addEventListener("click", () => {
    const open = $("nav").classList.toggle("open");
    $("menu-toggle").setAttribute("aria-expanded", String(open));
  });
  const dlg = $("pwd-dialog");
  $("change-pwd").addEventListener("click", () => { $("pwd-error").textContent = ""; $("pwd-form").reset(); dlg.showModal(); });
  $("pwd-cancel").addEventListener("click", () => dlg.close());
  $("pwd-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const user = session.get().username;
    try {
      await put("/api/v4/change_pwd/" + encodeURIComponent(user), { old_pwd: f.old.value, new_pwd: f.new.value });
      dlg.close();
      session.clear();
      showLogin("Password changed: log in with the new one.");
    } catch (e) {
      $("pwd-error").textContent = e.message;
    }
  });
  window.addEventListener("hashchange", route);
  vendorCheck();
  if (session.get()) showShell(); else showLogin();
}

// The page is a module, so it runs once the document is parsed.
setup();
