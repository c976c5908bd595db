package authredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emqgo/emqgo/engine/acl"
)

// portFree reports whether nothing listens on 127.0.0.1:port (at the time of the call).
func portFree(port int) bool {
	if port <= 0 || port > 65535 {
		return false
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// The servers of the cluster tests, started on first use (sync.Once) and stopped by TestMain
// (stopTopologies).
var (
	topoMu      sync.Mutex
	topoServers []*redisServer
	topoDirs    []string
)

// track records servers and directories for stopTopologies.
func track(dir string, servers ...*redisServer) {
	topoMu.Lock()
	defer topoMu.Unlock()
	if dir != "" {
		topoDirs = append(topoDirs, dir)
	}
	topoServers = append(topoServers, servers...)
}

// stopTopologies stops every server of the cluster tests and removes their files.
func stopTopologies() {
	topoMu.Lock()
	defer topoMu.Unlock()
	for _, s := range topoServers {
		s.stop()
	}
	for _, d := range topoDirs {
		os.RemoveAll(d)
	}
	topoServers, topoDirs = nil, nil
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// sentinelSet is a master, its replica and one sentinel watching them (quorum 1), so that
// stopping the master promotes the replica within a few seconds.
type sentinelSet struct {
	master, replica, sentinel *redisServer
}

const sentinelMaster = "mymaster"

// startSentinelSet starts a master, a replica of it and a sentinel (redis-server --sentinel)
// under dir, and waits until the sentinel knows both; started is told of each server.
func startSentinelSet(dir string, started func(*redisServer)) (*sentinelSet, error) {
	master, err := startRedisServer(dir, nil)
	if err != nil {
		return nil, err
	}
	started(master)
	replica, err := startRedisServerWith(dir, nil, []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.port)})
	if err != nil {
		return nil, err
	}
	started(replica)
	rc := redis.NewClient(&redis.Options{Addr: replica.addr()})
	defer rc.Close()
	if !waitFor(10*time.Second, func() bool {
		info, _ := rc.Info(context.Background(), "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	}) {
		return nil, fmt.Errorf("the replica on port %d did not reach its master within 10s", replica.port)
	}
	// The sentinel rewrites its configuration file: it gets one of its own.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sd := filepath.Join(dir, "sentinel-"+strconv.Itoa(port))
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(sd, "sentinel.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 500\nsentinel failover-timeout %s 5000\n",
		port, sd, filepath.Join(sd, "sentinel.log"), sentinelMaster, master.port, sentinelMaster, sentinelMaster)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	sent := &redisServer{port: port, dir: sd}
	sent.cmd = exec.Command("redis-server", conf, "--sentinel")
	if err := sent.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start redis-server --sentinel: %w", err)
	}
	sent.exited = make(chan struct{})
	go func() { _ = sent.cmd.Wait(); close(sent.exited) }()
	started(sent)
	sc := redis.NewSentinelClient(&redis.Options{Addr: sent.addr()})
	defer sc.Close()
	if !waitFor(15*time.Second, func() bool {
		replicas, err := sc.Replicas(context.Background(), sentinelMaster).Result()
		return err == nil && len(replicas) == 1
	}) {
		log, _ := os.ReadFile(filepath.Join(sd, "sentinel.log"))
		return nil, fmt.Errorf("the sentinel on port %d did not learn of the master and its replica within 15s\n%s", port, log)
	}
	return &sentinelSet{master: master, replica: replica, sentinel: sent}, nil
}

// needSentinel starts a sentinel set for the test (the test fails its master over, so a set
// serves one run); it stops with the test.
func needSentinel(t *testing.T) *sentinelSet {
	t.Helper()
	needRedis(t)
	var started []*redisServer
	t.Cleanup(func() {
		for _, s := range started {
			s.stop()
		}
	})
	set, err := startSentinelSet(t.TempDir(), func(s *redisServer) { started = append(started, s) })
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestSentinel: auth.redis.type = sentinel finds the master through the sentinel and asks it
// EMQX's commands; when the master dies the sentinel promotes the replica, and after the
// failover clients are authenticated against the new master without any change to the
// plugin (during it they are refused with 0x88 at worst, never let in wrongly).
func TestSentinel(t *testing.T) {
	set := needSentinel(t)
	ctx := context.Background()
	sc := redis.NewSentinelClient(&redis.Options{Addr: set.sentinel.addr()})
	defer sc.Close()
	master, replica := set.master, set.replica
	m := redis.NewClient(&redis.Options{Addr: master.addr()})
	defer m.Close()
	for _, args := range [][]any{{"HSET", "mqtt_user:sen-alice", "password", "pw-a"}, {"HSET", "mqtt_acl:sen-alice", "sen/%u/#", "2"}} {
		if err := m.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := m.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT for the replica: %d, %v", n, err)
	}
	p, _ := newPlugin(t, set.sentinel, func(c *Config) {
		c.Type = Sentinel
		c.Sentinel = sentinelMaster
		c.QueryTimeout = time.Second
	})
	addr := startNode(t, false, acl.Deny, p)
	wantConnack(t, addr, "s1", "sen-alice", "pw-a", rcSuccess)
	wantConnack(t, addr, "s2", "sen-alice", "wrong", rcBadCredentials)
	c, rc := connect(t, addr, "s3", "sen-alice", "pw-a")
	if c == nil {
		t.Fatalf("sen-alice refused: %#x", rc)
	}
	if got := publishCode(t, c, "sen/sen-alice/x"); got != rcSuccess {
		t.Errorf("publish allowed by the ACL: %#x", got)
	}
	if got := publishCode(t, c, "sen/other/x"); got != rcNotAuthorized {
		t.Errorf("publish outside the ACL: %#x, want %#x", got, rcNotAuthorized)
	}

	master.stop()
	if !waitFor(20*time.Second, func() bool {
		a, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
		return err == nil && len(a) == 2 && a[1] == strconv.Itoa(replica.port)
	}) {
		t.Fatal("the sentinel did not promote the replica within 20s")
	}
	var last byte
	if !waitFor(20*time.Second, func() bool {
		_, last = connect(t, addr, "s4", "sen-alice", "pw-a")
		if last != rcSuccess && last != rcUnavailable {
			t.Fatalf("during the failover: %#x, want success or server unavailable", last)
		}
		return last == rcSuccess
	}) {
		t.Fatalf("after the failover clients are still refused: %#x", last)
	}
	wantConnack(t, addr, "s5", "sen-alice", "wrong", rcBadCredentials)

}

// startCluster starts three redis-server nodes in cluster mode under dir and joins them as a
// cluster of three masters (redis-cli --cluster create), waiting until it serves every slot.
func startCluster(dir string) ([]*redisServer, error) {
	var nodes []*redisServer
	var addrs []string
	for i := 0; i < 3; i++ {
		s, err := startRedisServerWith(dir, nil, []string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"})
		if err != nil {
			return nil, err
		}
		track("", s)
		nodes = append(nodes, s)
		addrs = append(addrs, s.addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.addr()})
		ok := waitFor(20*time.Second, func() bool {
			info, _ := c.ClusterInfo(context.Background()).Result()
			return strings.Contains(info, "cluster_state:ok")
		})
		c.Close()
		if !ok {
			return nil, fmt.Errorf("cluster node %s not in state ok within 20s", n.addr())
		}
	}
	return nodes, nil
}

var (
	clusterOnce  sync.Once
	clusterNodes []*redisServer
	clusterErr   error
)

// needCluster returns the package's three-master cluster, started on first use.
func needCluster(t *testing.T) []*redisServer {
	t.Helper()
	needRedis(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatal("redis-cli not found (Debian package redis-tools, with redis-server): run `make test-deps`")
	}
	clusterOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authredis-cluster-")
		if err != nil {
			clusterErr = err
			return
		}
		track(dir)
		clusterNodes, clusterErr = startCluster(dir)
	})
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	return clusterNodes
}

// TestCluster: auth.redis.type = cluster with one node's address: users whose keys live on
// different masters are all found (the driver follows the cluster's slot map), their ACL rows
// too, and a user the cluster does not hold is ignored.
func TestCluster(t *testing.T) {
	nodes := needCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{nodes[0].addr()}})
	defer cc.Close()
	ctx := context.Background()
	owners := map[string]bool{}
	var users []string
	for i := 0; i < 12; i++ {
		u := "clu-" + strconv.Itoa(i)
		users = append(users, u)
		if err := cc.HSet(ctx, "mqtt_user:"+u, "password", "pw-"+u).Err(); err != nil {
			t.Fatal(err)
		}
		if err := cc.HSet(ctx, "mqtt_acl:"+u, "clu/%u/#", "2").Err(); err != nil {
			t.Fatal(err)
		}
		m, err := cc.MasterForKey(ctx, "mqtt_user:"+u)
		if err != nil {
			t.Fatal(err)
		}
		owners[m.Options().Addr] = true
	}
	if len(owners) < 2 {
		t.Fatalf("the users' keys are all on %v: the test would not show routing", owners)
	}
	p, _ := newPlugin(t, nodes[0], func(c *Config) { c.Type = Cluster })
	addr := startNode(t, false, acl.Deny, p)
	for _, u := range users {
		wantConnack(t, addr, u, u, "pw-"+u, rcSuccess)
		wantConnack(t, addr, u+"-bad", u, "wrong", rcBadCredentials)
	}
	wantConnack(t, addr, "nobody", "clu-nobody", "pw", rcBadCredentials) // ignored; anonymous refused
	c, rc := connect(t, addr, "pub", users[5], "pw-"+users[5])
	if c == nil {
		t.Fatalf("%s refused: %#x", users[5], rc)
	}
	if got := publishCode(t, c, "clu/"+users[5]+"/x"); got != rcSuccess {
		t.Errorf("publish allowed by the ACL: %#x", got)
	}
	if got := publishCode(t, c, "clu/other/x"); got != rcNotAuthorized {
		t.Errorf("publish outside the ACL: %#x, want %#x", got, rcNotAuthorized)
	}
}
