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
	n.AddMetrics(func() []Metric { return []Metric{{Name: "auth.x.success", Value: v}} })
	n.AddMetrics(func() []Metric { return []Metric{{Name: "acl.x.deny", Value: 7}, {Name: "backend.x.errors", Value: 0}} })
	v = 5
	ms := n.Metrics()
	if len(ms) != own+3 {
		t.Fatalf("%d metrics, want %d", len(ms), own+3)
	}
	tail := ms[own:]
	if tail[0] != (Metric{Name: "auth.x.success", Value: 5}) || tail[1] != (Metric{Name: "acl.x.deny", Value: 7}) || tail[2].Name != "backend.x.errors" {
		t.Errorf("added metrics %v", tail)
	}
}
