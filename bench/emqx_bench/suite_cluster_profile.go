package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// nodeProfiles captures a CPU profile of each node of a cluster case while its load runs,
// when EMQX_BENCH_NODE_PROFILE names a path prefix: node i's profile is PREFIX.<case>.node<i>
// (go tool pprof reads it). Each node serves net/http/pprof on a free loopback port
// (EMQX_PPROF) for this. It shows where the sending and the receiving node spend per
// message, measured on the row itself.
type nodeProfiles struct {
	prefix string
	ports  []int
	wg     sync.WaitGroup
	errs   []error
}

// newNodeProfiles returns nil when EMQX_BENCH_NODE_PROFILE is not set.
func newNodeProfiles(nodes int) (*nodeProfiles, error) {
	prefix := os.Getenv("EMQX_BENCH_NODE_PROFILE")
	if prefix == "" {
		return nil, nil
	}
	p := &nodeProfiles{prefix: prefix, ports: make([]int, nodes), errs: make([]error, nodes)}
	for i := range p.ports {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p.ports[i] = port
	}
	return p, nil
}

// env is node i's extra environment.
func (p *nodeProfiles) env(i int) []string {
	if p == nil {
		return nil
	}
	return []string{"EMQX_PPROF=127.0.0.1:" + strconv.Itoa(p.ports[i])}
}

// start begins a profile of every node lasting d (whole seconds, at least one).
func (p *nodeProfiles) start(name string, d time.Duration) {
	if p == nil {
		return
	}
	secs := max(int(d/time.Second), 1)
	for i, port := range p.ports {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.errs[i] = fetchProfile(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", port, secs),
				fmt.Sprintf("%s.%s.node%d", p.prefix, name, i+1), time.Duration(secs+10)*time.Second)
		}()
	}
}

// wait waits for the profiles and returns the first error.
func (p *nodeProfiles) wait() error {
	if p == nil {
		return nil
	}
	p.wg.Wait()
	for _, err := range p.errs {
		if err != nil {
			return fmt.Errorf("EMQX_BENCH_NODE_PROFILE: %w", err)
		}
	}
	return nil
}

func fetchProfile(url, path string, timeout time.Duration) error {
	c := http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
