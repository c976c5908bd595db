package tlspsk

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startMosquittoPSK runs a Mosquitto broker with a PSK listener (psk_file, psk_hint) on a
// loopback port, stopped with the test, and returns its address.
func startMosquittoPSK(t *testing.T) string {
	t.Helper()
	bin := "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		bin = needTool(t, "mosquitto")
	}
	dir := t.TempDir()
	port := freePort(t)
	// Mosquitto's psk_file holds the key in hex.
	if err := os.WriteFile(filepath.Join(dir, "psk"), []byte("client1:31323334\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("listener %s 127.0.0.1\npsk_hint mosquitto\npsk_file %s\nallow_anonymous true\nuse_identity_as_username true\n", port, filepath.Join(dir, "psk"))
	if os.Geteuid() == 0 {
		// Started as root, Mosquitto reads the PSK file after dropping to its own user, who
		// cannot enter the test's private temporary directory.
		conf += "user root\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "mosquitto.conf"))
	out, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); out.Close() })
	addr := "127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("mosquitto did not start: %s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mqttConnect sends an MQTT 3.1.1 CONNECT and returns the CONNACK's return code.
func mqttConnect(c *Conn, clientID string) (byte, error) {
	pkt := []byte{0x10, byte(12 + len(clientID)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, byte(len(clientID))}
	pkt = append(pkt, clientID...)
	if _, err := c.Write(pkt); err != nil {
		return 0, err
	}
	ack := make([]byte, 4)
	if _, err := bufio.NewReader(c).Read(ack); err != nil {
		return 0, err
	}
	if ack[0] != 0x20 {
		return 0, errors.New("not a CONNACK")
	}
	return ack[3], nil
}

// Our client against Mosquitto's PSK listener, every suite; a wrong key is refused.
func TestMosquittoPSKListener(t *testing.T) {
	addr := startMosquittoPSK(t)
	for _, name := range []string{"PSK-AES128-GCM-SHA256", "PSK-AES256-GCM-SHA384", "PSK-AES128-CBC-SHA256", "PSK-AES128-CBC-SHA"} {
		t.Run(name, func(t *testing.T) {
			ids, _, _ := CipherSuites([]string{name})
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			c := Client(nc, &Config{Identity: "client1", Key: []byte("1234"), CipherSuites: ids})
			defer c.Close()
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if st := c.ConnectionState(); st.Hint != "mosquitto" || st.CipherSuite != ids[0] {
				t.Fatalf("state %+v", st)
			}
			if rc, err := mqttConnect(c, "ours-"+strings.ToLower(name)); err != nil || rc != 0 {
				t.Fatalf("CONNACK %d, %v", rc, err)
			}
		})
	}
	_, _, err := dialPSK(t, addr, &Config{Identity: "client1", Key: []byte("4321")})
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Sent {
		t.Fatalf("wrong key: %v, want an alert from mosquitto", err)
	}
}
