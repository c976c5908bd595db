package main

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Abuse bounds (issue #17): the files a node writes keep other local users out, and secrets
// never reach its logs or check_config's output.
func TestFilesPrivateAndSecretsOutOfLogs(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, port := nodeEnv(t, work)
	secrets := map[string]string{
		"EMQX_NODE__COOKIE":                            "cookie-S3cr3t-4711",
		"EMQX_MANAGEMENT__DEFAULT_APPLICATION__SECRET": "appsecret-S3cr3t-4712",
		"EMQX_DASHBOARD__DEFAULT_USER__PASSWORD":       "dashboard-S3cr3t-4713",
	}
	const clientPassword = "client-S3cr3t-4714"
	for k, v := range secrets {
		env = append(env, k+"="+v)
	}
	env = append(env, "EMQX_LOG__TO=both", "EMQX_LOG__LEVEL=debug", "EMQX_PERSISTENCE__FSYNC=interval")

	out, code := run(t, work, env, emqx, "check_config")
	if code != 0 {
		t.Fatalf("check_config: %d\n%s", code, out)
	}
	nd := startNode(t, emqx, work, env, port)
	// A client with a password publishes a retained message (written to the store).
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	if _, err := c.Connect(t.Context(), &paho.Connect{ClientID: "secretive", CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, Username: "user", PasswordFlag: true, Password: []byte(clientPassword)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(t.Context(), &paho.Publish{Topic: "private/t", QoS: 1, Retain: true, Payload: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	_ = c.Disconnect(&paho.Disconnect{})
	time.Sleep(300 * time.Millisecond)
	nd.kill(t, syscall.SIGTERM)

	texts := map[string]string{"check_config": out, "console": nd.log()}
	checked := 0
	err = filepath.WalkDir(work, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(work, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		under := strings.HasPrefix(rel, "data"+string(filepath.Separator)) || strings.HasPrefix(rel, "log"+string(filepath.Separator))
		if !under || d.IsDir() || info.Name() == "emqx.pid" { // the pid is public (ps shows it)
			return nil
		}
		checked++
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v: readable by other users", rel, perm)
		}
		if strings.HasPrefix(rel, "log") {
			b, _ := os.ReadFile(path)
			texts[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 2 {
		t.Fatalf("only %d files under data/ and log/: the node wrote no store or log", checked)
	}
	secrets["client password"] = clientPassword
	for where, text := range texts {
		for name, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the secret %s", where, name)
			}
		}
	}
	t.Logf("%d files checked under data/ and log/; %d outputs searched for %d secrets", checked, len(texts), len(secrets))
}
