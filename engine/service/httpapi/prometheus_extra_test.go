package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	dto "github.com/prometheus/client_model/go"

	"github.com/emqgo/emqgo/engine"
)

// slowAuth allows everyone after a pause, so that the authentication histogram has something
// to observe.
type slowAuth struct{ pause time.Duration }

func (slowAuth) Name() string { return "slow" }
func (a slowAuth) Authenticate(ctx context.Context, _ *engine.ClientInfo) engine.AuthResult {
	time.Sleep(a.pause)
	return engine.AuthResult{Decision: engine.AuthAllow}
}

// histogramOf returns the single histogram of family name.
func histogramOf(t *testing.T, fams map[string]*dto.MetricFamily, name string) *dto.Histogram {
	t.Helper()
	f, ok := fams[name]
	if !ok || f.GetType() != dto.MetricType_HISTOGRAM || len(f.Metric) != 1 {
		t.Fatalf("/metrics: %s missing or not one histogram: %v", name, f)
	}
	h := f.Metric[0].GetHistogram()
	var last uint64
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() < last {
			t.Fatalf("%s: buckets not cumulative: %v", name, h.Bucket)
		}
		last = b.GetCumulativeCount()
	}
	if last != h.GetSampleCount() {
		t.Fatalf("%s: last bucket %d, count %d", name, last, h.GetSampleCount())
	}
	return h
}

// TestPrometheusHistogramsAndListeners: the CONNACK, authentication and (sampled) delivery
// histograms observe real connections and messages, the loop lag its loops' sweeps, and the
// listener gauges count the connections.
func TestPrometheusHistogramsAndListeners(t *testing.T) {
	const pause = 5 * time.Millisecond
	e := start(t, nil)
	e.node.SetAuthenticators(slowAuth{pause})
	sub := connect5(t, e.mqtt, &paho.Connect{ClientID: "h-sub", CleanStart: true})
	sub.subscribe(t, "h/#", 0)
	pub := connect5(t, e.mqtt, &paho.Connect{ClientID: "h-pub", CleanStart: true})
	const msgs = 3 * 64 // every delivery on the subscriber's loop: at least 3 samples
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range msgs {
		if _, err := pub.c.Publish(ctx, &paho.Publish{Topic: "h/1", Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	for range msgs {
		sub.next(t)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		fams := scrape(t, e)
		connack := histogramOf(t, fams, "emqx_connack_duration_seconds")
		auth := histogramOf(t, fams, "emqx_auth_duration_seconds")
		delivery := histogramOf(t, fams, "emqx_delivery_duration_seconds")
		lis := fams["emqx_listener_connections"]
		var conns float64
		if lis != nil && len(lis.Metric) == 1 && lis.Metric[0].Label[0].GetValue() == "tcp:external" {
			conns = lis.Metric[0].GetGauge().GetValue()
		}
		lag := histogramOf(t, fams, "emqx_loop_lag_seconds")
		if connack.GetSampleCount() >= 2 && auth.GetSampleCount() >= 2 && delivery.GetSampleCount() >= 3 && conns == 2 && lag.GetSampleCount() >= 1 {
			if v := value(t, fams, "emqx_loop_lag_seconds_max", dto.MetricType_GAUGE); v <= 0 || v > 10 {
				t.Fatalf("emqx_loop_lag_seconds_max %v after %d sweeps", v, lag.GetSampleCount())
			}
			if auth.GetSampleSum() < 2*pause.Seconds() {
				t.Fatalf("auth duration sum %v s for two runs of at least %v", auth.GetSampleSum(), pause)
			}
			if connack.GetSampleSum() < 2*pause.Seconds() { // each CONNACK waited for the chain
				t.Fatalf("connack duration sum %v s, want at least %v", connack.GetSampleSum(), 2*pause)
			}
			if delivery.GetSampleCount() > msgs/64+1 {
				t.Fatalf("delivery histogram observed %d of %d deliveries: not sampled 1 in 64", delivery.GetSampleCount(), msgs)
			}
			if v := value(t, fams, "emqx_listener_running", dto.MetricType_GAUGE); v != 1 {
				t.Fatalf("emqx_listener_running %v", v)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("histograms: connack %d, auth %d, delivery %d observations; listener connections %v",
				connack.GetSampleCount(), auth.GetSampleCount(), delivery.GetSampleCount(), conns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
