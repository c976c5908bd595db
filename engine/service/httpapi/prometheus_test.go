package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics and parses it with Prometheus' own text parser.
func scrape(t *testing.T, e *env) map[string]*dto.MetricFamily {
	t.Helper()
	status, b := e.do(t, "GET", "/metrics", "", false)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, b)
	}
	return fams
}

// value returns the value of the single sample of family name, of type typ.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
	if f.GetType() != typ || len(f.Metric) != 1 {
		t.Fatalf("%s: type %v with %d samples, want one %v", name, f.GetType(), len(f.Metric), typ)
	}
	if typ == dto.MetricType_COUNTER {
		return f.Metric[0].GetCounter().GetValue()
	}
	return f.Metric[0].GetGauge().GetValue()
}

// TestPrometheusMetrics: /metrics parses, has every counter of Node.Metrics and gauge of
// Node.Stats under Prometheus names plus Go runtime metrics, and a counter and a gauge move
// after MQTT traffic.
func TestPrometheusMetrics(t *testing.T) {
	e := start(t, nil)
	before := scrape(t, e)
	for _, m := range e.node.Metrics() {
		value(t, before, promName(m.Name)+"_total", dto.MetricType_COUNTER)
	}
	for _, g := range statsList(e.node.Stats()) {
		value(t, before, promName(g.name), dto.MetricType_GAUGE)
	}
	for _, name := range []string{"emqx_messages_received_total", "emqx_connections_count", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}
	received0 := value(t, before, "emqx_messages_received_total", dto.MetricType_COUNTER)
	conns0 := value(t, before, "emqx_connections_count", dto.MetricType_GAUGE)

	// Traffic: a subscriber and a publisher, three QoS 1 messages.
	sub := subscribe(t, e.mqtt, "prom-sub", "p/#", 1)
	conn, err := net.Dial("tcp", e.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	pub := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pub.Connect(ctx, &paho.Connect{ClientID: "prom-pub", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(&paho.Disconnect{})
	for range 3 {
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: "p/1", QoS: 1, Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		sub.next(t)
	}
	// Loop counters reach the node at its sweep (20 ms here): poll until they do.
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := scrape(t, e)
		received := value(t, after, "emqx_messages_received_total", dto.MetricType_COUNTER)
		conns := value(t, after, "emqx_connections_count", dto.MetricType_GAUGE)
		if received >= received0+3 && conns >= conns0+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 publishes from 2 clients: messages_received %v (was %v), connections %v (was %v)", received, received0, conns, conns0)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsGzip: a scraper that accepts gzip gets /metrics compressed, and it decompresses
// to the text format.
func TestMetricsGzip(t *testing.T) {
	e := start(t, nil)
	req, _ := http.NewRequest("GET", e.base+"/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // the Transport would decompress silently
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("\nemqx_connections_count ")) {
		t.Fatalf("decompressed body has no emqx_connections_count:\n%.500s", b)
	}
}
