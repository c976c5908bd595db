package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/paho"
)

// TestSubscriptionsAndRoutes: GET /subscriptions with its filters and paging, one client's
// subscriptions, the routes and one route by its URL-encoded filter.
func TestSubscriptionsAndRoutes(t *testing.T) {
	e := start(t, nil)
	s1 := connect5(t, e.mqtt, &paho.Connect{ClientID: "s1", CleanStart: true})
	s1.subscribe(t, "a/+", 1)
	s1.subscribe(t, "$share/g/b/#", 0)
	s2 := connect5(t, e.mqtt, &paho.Connect{ClientID: "s2", CleanStart: true})
	s2.subscribe(t, "a/b", 2)

	f := func(query string, want ...subscriptionJSON) {
		t.Helper()
		p := e.getPage(t, "/api/v4/subscriptions"+query)
		var got []subscriptionJSON
		for _, it := range p.Data {
			var s subscriptionJSON
			if err := json.Unmarshal(it, &s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		if !slices.Equal(got, want) || p.Meta.Count != len(want) {
			t.Fatalf("subscriptions%s: %+v %+v, want %+v", query, got, p.Meta, want)
		}
	}
	n := "emqx@127.0.0.1"
	share := subscriptionJSON{n, "s1", "$share/g/b/#", 0}
	plus := subscriptionJSON{n, "s1", "a/+", 1}
	exact := subscriptionJSON{n, "s2", "a/b", 2}
	f("", share, plus, exact)
	f("?clientid=s1", share, plus)
	f("?qos=2", exact)
	f("?topic=a/%2B", plus)
	f("?share=g", share)
	f("?_match_topic=a/x", plus)
	f("?_match_topic=a/b", plus, exact)
	f("?_match_topic=b/c/d", share)
	f("?_match_topic=b", share)
	f("?_match_topic=c")
	if p := e.getPage(t, "/api/v4/subscriptions?_page=2&_limit=2"); len(p.Data) != 1 || p.Meta != (pageMeta{2, 2, false, 3}) {
		t.Fatalf("page 2: %s %+v", p.Data, p.Meta)
	}
	if p := e.getPage(t, "/api/v4/nodes/emqx@127.0.0.1/subscriptions?_limit=1"); p.Meta != (pageMeta{1, 1, true, 3}) {
		t.Fatalf("node form meta %+v", p.Meta)
	}
	e.refused(t, "GET", "/api/v4/subscriptions?qos=3", "", http.StatusBadRequest, codeParamType, `"qos"`)
	e.refused(t, "GET", "/api/v4/subscriptions?_match_topic=a/%2B", "", http.StatusBadRequest, codeBadTopic, `"_match_topic"`)
	e.refused(t, "GET", "/api/v4/subscriptions?client=s1", "", http.StatusBadRequest, codeParamType, `"client"`)

	var one []subscriptionJSON
	e.getData(t, "/api/v4/subscriptions/s1", &one)
	if !slices.Equal(one, []subscriptionJSON{plus, share}) { // in the order made
		t.Fatalf("subscriptions of s1: %+v", one)
	}
	e.getData(t, "/api/v3/nodes/emqx@127.0.0.1/subscriptions/s2", &one)
	if !slices.Equal(one, []subscriptionJSON{exact}) {
		t.Fatalf("subscriptions of s2: %+v", one)
	}
	e.refused(t, "GET", "/api/v4/subscriptions/ghost", "", http.StatusNotFound, codeNotOnline, `"ghost"`)

	p := e.getPage(t, "/api/v4/routes")
	var routes []routeJSON
	for _, it := range p.Data {
		var r routeJSON
		if err := json.Unmarshal(it, &r); err != nil {
			t.Fatal(err)
		}
		routes = append(routes, r)
	}
	var filters []string
	for _, r := range routes {
		if r.Node != n {
			t.Fatalf("route %+v", r)
		}
		filters = append(filters, r.Topic)
	}
	if !slices.Contains(filters, "a/+") || !slices.Contains(filters, "a/b") || len(filters) != p.Meta.Count || len(filters) < 3 {
		t.Fatalf("routes %v meta %+v", filters, p.Meta)
	}
	if p := e.getPage(t, "/api/v4/routes?_limit=1&_page=2"); len(p.Data) != 1 || p.Meta.HasNext != (p.Meta.Count > 2) {
		t.Fatalf("routes page 2: %+v", p.Meta)
	}
	e.getData(t, "/api/v4/routes/a%2F%2B", &routes)
	if !slices.Equal(routes, []routeJSON{{"a/+", n}}) {
		t.Fatalf("route a/+: %+v", routes)
	}
	e.getData(t, "/api/v3/routes/a%2Fb/", &routes)
	if !slices.Equal(routes, []routeJSON{{"a/b", n}}) {
		t.Fatalf("route a/b (v3, trailing slash): %+v", routes)
	}
	e.getData(t, "/api/v4/routes/nothing%2Fhere", &routes)
	if len(routes) != 0 {
		t.Fatalf("route of an unrouted filter: %+v", routes)
	}
}
