package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The baseline the memory after the churn is compared with. A process that never served the
// churn (the "cold" reading: the verified flows and the probe connected to a fresh broker) is
// not a state a broker returns to once it has: the Go runtime keeps, for the life of the
// process, what it sized for the largest heap it had (span descriptors, the collector's
// metadata, the page allocator's summaries, idle OS threads and their stacks), and the
// long-lived objects made while the churn ran (the verified flows' sessions, recreated when
// they reconnect after a kill) keep their spans partly used (Go does not move objects). None
// of that grows with the churn's length. So the baseline is taken after a warm-up: the same
// churn for -warmup, with one kill -9 and restart, then the same wait as at the end. The
// check then measures what the churn's length left behind (leaks, memory not given back);
// the report prints the cold figures too.

// churnSettle is how long the soak waits after a churn stops before measuring: the churn's
// persistent sessions expire and the runtime returns what the busy period freed.
const churnSettle = churnSessionExpiry*time.Second + 25*time.Second

// startChurn starts every churn slot until ctx ends; the WaitGroup ends with the last one.
func startChurn(ctx context.Context, ld *load, addr string, clients int, rng *rand.Rand, st *soakStats) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		seed := rng.Uint64()
		go func() {
			defer wg.Done()
			sleepCtx(ctx, time.Duration(i%1000)*time.Millisecond) // spread the first connects
			churn(ctx, ld, addr, i, clients, rand.New(rand.NewPCG(seed, uint64(i))), st)
		}()
	}
	return &wg
}

// warmUp runs the churn for d with one kill -9 and restart a third of the way in, stops it,
// pauses the verified publishers (the end's measurement comes after they stopped: a broker
// still routing them holds its heap's collection cycle, a few MB, in RSS) and waits
// churnSettle, so that the broker measured next has the history the one measured at the end
// will have: restarted under load, served the churn, quiet again. The caller resumes the
// publishers. It returns the restart's time to listening.
func warmUp(ctx context.Context, b *broker, ld *load, clients int, d time.Duration, rng *rand.Rand, st *soakStats, pause *atomic.Bool) (time.Duration, error) {
	wctx, stop := context.WithTimeout(ctx, d)
	defer stop()
	wg := startChurn(wctx, ld, b.addr(), clients, rng, st)
	sleepCtx(wctx, d/3)
	var took time.Duration
	if wctx.Err() == nil {
		if err := b.kill(syscall.SIGKILL); err != nil {
			return 0, err
		}
		st.kills.Add(1)
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		var err error
		if took, err = b.start(); err != nil {
			return 0, err
		}
		st.restarts.Add(1)
		fmt.Printf("soak: warm-up kill -9, restarted in %v (pid %d)\n", took.Round(time.Millisecond), b.pid())
	}
	<-wctx.Done()
	wg.Wait()
	pause.Store(true)
	sleepCtx(ctx, churnSettle)
	return took, ctx.Err()
}

// memPoint is the broker's memory at one moment.
type memPoint struct {
	rss, anon, file int64 // bytes
	heap            int64 // live heap after collections (bytes, -1 unknown)
	goroutines      int64
	reclaims        int64 // memory.reclaims of the broker process (-1 unknown)
	facts           memFacts
}

// memPoint reads the broker's memory; the live heap last (it forces collections).
func (b *broker) memPoint() memPoint {
	p := memPoint{rss: b.rss()}
	p.anon, p.file = b.rssParts()
	p.facts = b.memFacts()
	p.goroutines, _ = b.nodeFacts()
	p.reclaims = b.metric("memory.reclaims")
	p.heap = b.liveHeap()
	return p
}

// String prints the point's main figures.
func (p memPoint) String() string {
	return fmt.Sprintf("RSS %s MB (anonymous %s, file-backed %s), live heap %s MB, goroutines %d, reclaims by this process %d", mb(p.rss), mb(p.anon), mb(p.file), mb(p.heap), p.goroutines, p.reclaims)
}

// printBaselines prints the end's memory against both baselines, figure by figure: the warm
// one (what the check uses) and the cold one (a fresh broker), and what the warm-up added
// once (warm against cold), which the check does not see. endRSS is the end's RSS reading the
// check uses. Without a warm-up the two baselines are the same reading and one is printed.
func printBaselines(w io.Writer, cold, warm, end memPoint, endRSS int64, warmed bool) {
	type row struct {
		name            string
		cold, warm, end int64
		count           bool // a count, not bytes
	}
	rows := []row{
		{"RSS", cold.rss, warm.rss, endRSS, false},
		{"anonymous RSS", cold.anon, warm.anon, end.anon, false},
		{"live Go heap", cold.heap, warm.heap, end.heap, false},
		{"goroutines", cold.goroutines, warm.goroutines, end.goroutines, true},
		{"OS threads", cold.facts.threads, warm.facts.threads, end.facts.threads, true},
	}
	val := func(r row, v int64) string {
		if r.count {
			return strconv.FormatInt(v, 10)
		}
		return mb(v) + " MB"
	}
	if !warmed {
		fmt.Fprintf(w, "memory against the baseline (a fresh broker; no warm-up):\n")
		for _, r := range rows {
			fmt.Fprintf(w, "  %-14s baseline %10s   end %10s  (%+.0f%%)\n", r.name, val(r, r.cold), val(r, r.end), pct(r.end, r.cold))
		}
		return
	}
	fmt.Fprintf(w, "memory against both baselines (the check uses the warm one; the warm-up's own growth over the fresh broker is not checked):\n")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-14s cold %10s   warm %10s   end %10s   end vs warm %+4.0f%%   end vs cold %+4.0f%%   warm-up's growth (warm vs cold) %+4.0f%%\n",
			r.name, val(r, r.cold), val(r, r.warm), val(r, r.end), pct(r.end, r.warm), pct(r.end, r.cold), pct(r.warm, r.cold))
	}
}
