package engine

import "testing"

// TestAddMetrics: sources added to a node show after its own counters, in order, read at
// each call.
func TestAddMetrics(t *testing.T) {
	n, err := New(&Config{Listeners: []Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: DefaultZone()}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	own := len(n.Metrics())
	v := uint64(1)
	n.AddMetrics(func() []Metric { return []Metric{{"auth.x.success", v}} })
	n.AddMetrics(func() []Metric { return []Metric{{"acl.x.deny", 7}, {"backend.x.errors", 0}} })
	v = 5
	ms := n.Metrics()
	if len(ms) != own+3 {
		t.Fatalf("%d metrics, want %d", len(ms), own+3)
	}
	tail := ms[own:]
	if tail[0] != (Metric{"auth.x.success", 5}) || tail[1] != (Metric{"acl.x.deny", 7}) || tail[2].Name != "backend.x.errors" {
		t.Errorf("added metrics %v", tail)
	}
}
