package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRetainedBrowseDelete: messages retained by MQTT and by the API are listed by filter
// with paging, shown one by one (a binary payload in base64), and deleted: a deleted one is
// gone from the list, 404 afterwards, and a new subscriber gets no retained copy of it while
// a live subscriber received nothing from the deletion.
func TestRetainedBrowseDelete(t *testing.T) {
	e := start(t, nil)
	live := subscribe(t, e.mqtt, "live", "r/#", 0)
	for _, body := range []string{
		`{"topic":"r/a","payload":"one","retain":true}`,
		`{"topic":"r/b","payload":"AP8=","encoding":"base64","retain":true}`,
		`{"topic":"other","payload":"x","retain":true}`,
	} {
		if st, b := e.do(t, "POST", "/api/v4/mqtt/publish", body, true); st != 200 {
			t.Fatalf("publish %s: %d %s", body, st, b)
		}
	}
	for range 2 {
		live.next(t)
	}
	var page struct {
		Data []retainedJSON `json:"data"`
		Meta pageMeta       `json:"meta"`
	}
	st, b := e.do(t, "GET", "/api/v4/retained?topic=r/%23&_limit=1", "", true)
	if err := json.Unmarshal(b, &page); st != 200 || err != nil || page.Meta.Count != 2 || len(page.Data) != 1 || !page.Meta.HasNext {
		t.Fatalf("page 1 of r/#: %d %s", st, b)
	}
	st, b = e.do(t, "GET", "/api/v4/retained", "", true)
	if err := json.Unmarshal(b, &page); st != 200 || err != nil || page.Meta.Count != 3 {
		t.Fatalf("all retained: %d %s", st, b)
	}
	st, b = e.do(t, "GET", "/api/v4/retained/r%2Fb", "", true)
	var one struct{ Data retainedJSON }
	if err := json.Unmarshal(b, &one); st != 200 || err != nil || one.Data.Encoding != "base64" || one.Data.Payload != "AP8=" || one.Data.Size != 2 {
		t.Fatalf("r/b: %d %s", st, b)
	}
	if st, b = e.do(t, "DELETE", "/api/v4/retained/r/a", "", true); st != 200 {
		t.Fatalf("delete r/a: %d %s", st, b)
	}
	if st, b = e.do(t, "GET", "/api/v4/retained/r/a", "", true); st != 404 {
		t.Fatalf("r/a after delete: %d %s, want 404", st, b)
	}
	if st, b = e.do(t, "DELETE", "/api/v4/retained/r/a", "", true); st != 404 {
		t.Fatalf("second delete of r/a: %d %s, want 404", st, b)
	}
	if st, b = e.do(t, "GET", "/api/v4/retained?topic=r/%2B", "", true); st != 200 || strings.Contains(string(b), `"r/a"`) || !strings.Contains(string(b), `"r/b"`) {
		t.Fatalf("r/+ after delete: %d %s", st, b)
	}
	if st, b = e.do(t, "GET", "/api/v4/retained?topic=a/%23/b", "", true); st != 400 {
		t.Fatalf("bad filter: %d %s, want 400", st, b)
	}
	later := subscribe(t, e.mqtt, "later", "r/#", 0)
	if p := later.next(t); p.Topic != "r/b" {
		t.Fatalf("new subscriber got retained %q, want only r/b", p.Topic)
	}
	select {
	case p := <-live.msgs:
		t.Fatalf("the deletion routed %q to a subscriber", p.Topic)
	case p := <-later.msgs:
		t.Fatalf("new subscriber got a second retained message %q", p.Topic)
	case <-time.After(200 * time.Millisecond):
	}
}

// tokens accepts the token "good" only.
type tokens struct{}

func (tokens) CheckToken(tok string) (string, error) {
	if tok == "good" {
		return "admin", nil
	}
	return "", errors.New("signature does not match")
}

// TestBearerToken: with a TokenChecker a good bearer token is let in, a bad one refused with
// 401 and code 103 naming the cause; without one bearer tokens are not credentials.
func TestBearerToken(t *testing.T) {
	get := func(base, auth string) (int, string) {
		req, _ := http.NewRequest("GET", base+"/api/v4/brokers", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	e := start(t, func(o *Options) { o.Tokens = tokens{} })
	if st, b := get(e.base, "Bearer good"); st != 200 {
		t.Fatalf("good token: %d %s", st, b)
	}
	if st, b := get(e.base, "Bearer bad"); st != 401 || !strings.Contains(b, `"code":103`) || !strings.Contains(b, "signature does not match") {
		t.Fatalf("bad token: %d %s", st, b)
	}
	plain := start(t, nil)
	if st, b := get(plain.base, "Bearer good"); st != 401 || !strings.Contains(b, `"code":104`) {
		t.Fatalf("token without a checker: %d %s", st, b)
	}
}
