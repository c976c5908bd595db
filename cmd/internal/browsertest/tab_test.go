package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// tab is one browser tab on the dashboard, collecting the console's errors.
type tab struct {
	t     *testing.T
	ctx   context.Context
	n     *node
	mu    sync.Mutex
	errs  []string
	allow []string // substrings of errors a test provokes on purpose
	shots string
	width int
}

// openTab opens a tab of width px (height 800, or 844 for a phone width) on the dashboard.
func openTab(t *testing.T, n *node, width int) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	tb := &tab{t: t, ctx: ctx, n: n, width: width, shots: os.Getenv("DASHBOARD_SHOTS")}
	if tb.shots == "" {
		tb.shots = t.ArtifactDir()
	}
	msgs := chromedp.Console(ctx) // subscribed now: nothing the page writes is missed
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				tb.addErr(m.String() + " " + m.URL)
			}
		}
	}()
	height := int64(800)
	if width < 600 {
		height = 844
	}
	if width < 600 {
		tb.run(chromedp.EmulateViewport(int64(width), height, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	} else {
		tb.run(chromedp.EmulateViewport(int64(width), height))
	}
	t.Cleanup(tb.checkConsole)
	return tb
}

func (tb *tab) addErr(s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, a := range tb.allow {
		if strings.Contains(s, a) {
			return
		}
	}
	tb.errs = append(tb.errs, s)
}

// allowError accepts console errors containing s from now on (an error the test provokes).
func (tb *tab) allowError(s string) {
	tb.mu.Lock()
	tb.allow = append(tb.allow, s)
	tb.mu.Unlock()
}

func (tb *tab) checkConsole() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, e := range tb.errs {
		tb.t.Errorf("browser console at %d px: %s", tb.width, e)
	}
}

func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v\nnode log:\n%s", err, tb.n.log())
	}
}

// wait polls a JavaScript expression until it is true (10 s).
func (tb *tab) wait(what, expr string) {
	tb.t.Helper()
	ok, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil || !ok {
		body, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.querySelector("main, body").innerText.slice(0, 2000)`))
		tb.t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expr, err, body)
	}
}

// textIn waits until the element of sel contains text.
func (tb *tab) textIn(sel, text string) {
	tb.t.Helper()
	tb.wait(fmt.Sprintf("%q in %s", text, sel), fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.innerText.includes(%q); })()`, sel, text))
}

// open shows a page of the console (#/name).
func (tb *tab) open(page string) {
	tb.t.Helper()
	tb.eval(fmt.Sprintf(`location.hash = %q`, "#/"+page))
	tb.wait("page "+page, `document.querySelector("#main h1") !== null`)
}

// shot saves a screenshot of the viewport as <name>-<width>.png.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatal(err)
	}
	p := filepath.Join(tb.shots, fmt.Sprintf("%s-%d.png", name, tb.width))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// noOverflow checks the page does not scroll sideways (tables scroll in their own box).
func (tb *tab) noOverflow(page string) {
	tb.t.Helper()
	w, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	if err != nil {
		tb.t.Fatal(err)
	}
	if w > 0 {
		tb.t.Errorf("page %s at %d px is %d px too wide: it scrolls sideways", page, tb.width, w)
	}
}

// login logs in through the form; prepare is JavaScript run on the login page first.
func (tb *tab) login(user, pass string, prepare ...string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(tb.n.dashURL+"/"), chromedp.WaitVisible(chromedp.CSS("#login-user")))
	for _, js := range prepare { // on the freshly loaded page, before the login
		tb.eval(js)
	}
	tb.run(chromedp.SetValue(chromedp.CSS("#login-user"), user),
		chromedp.SetValue(chromedp.CSS("#login-pass"), pass),
		chromedp.Click(chromedp.CSS("#login-submit")))
}

// eval runs JavaScript for its effect.
func (tb *tab) eval(js string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[any](js)); err != nil {
		tb.t.Fatalf("browser: %s: %v", js, err)
	}
}

// set sets an input's value; click clicks an element (CSS selectors).
func set(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), v)
}
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
