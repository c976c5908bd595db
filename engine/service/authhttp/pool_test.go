package authhttp

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// authServer starts an HTTP backend that runs each for every request, then allows user "u1"
// and refuses anyone else; opened counts the connections it accepted.
func authServer(t *testing.T, each func()) (url string, opened *atomic.Int64) {
	t.Helper()
	opened = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		each()
		_ = r.ParseForm()
		if r.Form.Get("username") == "u1" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, opened
}

// poolPlugin is the plugin with an auth request to url's /auth and pool connections, closed
// when the test ends.
func poolPlugin(t *testing.T, url string, pool int) *Plugin {
	t.Helper()
	p, err := New(Config{
		Auth:     &Request{URL: url + "/auth", Method: http.MethodPost, Params: []Param{{"username", "%u"}}},
		Timeout:  5 * time.Second,
		PoolSize: pool,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestPoolBoundsConnections: many concurrent authentications share the plugin's pool of
// PoolSize connections; none opens a connection of its own beyond it (a connect storm used to
// open and close one connection per request over the idle limit).
func TestPoolBoundsConnections(t *testing.T) {
	url, opened := authServer(t, func() { time.Sleep(5 * time.Millisecond) })
	const pool, clients = 4, 64
	a := poolPlugin(t, url, pool).Authenticator()
	var wg sync.WaitGroup
	var allowed atomic.Int64
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if r := a.Authenticate(ctx, &engine.ClientInfo{ClientID: "c", Username: "u1"}); r.Decision == engine.AuthAllow {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != clients {
		t.Fatalf("%d of %d concurrent authentications allowed", got, clients)
	}
	if got := opened.Load(); got > pool {
		t.Fatalf("%d connections opened to the backend for %d concurrent requests; want at most the pool size %d", got, clients, pool)
	}
}

// TestAsyncQueuesForThePool: a storm of asynchronous authentications (what the engine sends a
// CONNECT through) waits in the plugin's queue for its PoolSize workers: the backend never
// sees more requests at once than the pool's connections, and every client is answered.
func TestAsyncQueuesForThePool(t *testing.T) {
	var now, peak atomic.Int64
	url, opened := authServer(t, func() {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		now.Add(-1)
	})
	const pool, clients = 4, 200
	a, ok := poolPlugin(t, url, pool).Authenticator().(engine.AsyncAuthenticator)
	if !ok {
		t.Fatal("the plugin's authenticator is not asynchronous")
	}
	var wg sync.WaitGroup
	var allowed, denied atomic.Int64
	wg.Add(clients)
	deadline := time.Now().Add(time.Minute)
	for i := range clients {
		user := "u1"
		if i%10 == 0 {
			user = "nobody"
		}
		a.AuthenticateAsync(deadline, &engine.ClientInfo{ClientID: "c", Username: user}, func(r engine.AuthResult) {
			switch r.Decision {
			case engine.AuthAllow:
				allowed.Add(1)
			case engine.AuthDeny:
				denied.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if allowed.Load() != clients*9/10 || denied.Load() != clients/10 {
		t.Fatalf("%d allowed and %d denied of %d; want %d and %d", allowed.Load(), denied.Load(), clients, clients*9/10, clients/10)
	}
	if got := peak.Load(); got > pool {
		t.Fatalf("the backend saw %d requests at once; want at most the pool size %d", got, pool)
	}
	if got := opened.Load(); got > pool {
		t.Fatalf("%d connections opened; want at most the pool size %d", got, pool)
	}
}
