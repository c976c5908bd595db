package authldap

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/emqgo/emqgo/engine/service/authldap/slapdtest"
)

// The directory of the tests.
const (
	suffix   = slapdtest.Suffix
	deviceDN = slapdtest.DeviceDN
	rootDN   = slapdtest.RootDN
	rootPW   = slapdtest.RootPW
)

// shared is the server of the package's tests, started by TestMain; sharedErr says why there
// is none.
var (
	shared    *slapdtest.Server
	sharedErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "authldap-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, sharedErr = slapdtest.Start(dir)
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// needSlapd returns the shared server. Its absence is a broken setup (`make test-deps`
// installs slapd), so the test fails; under -short it is skipped with the same advice.
func needSlapd(t *testing.T) *slapdtest.Server {
	t.Helper()
	if sharedErr != nil {
		if testing.Short() {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	return shared
}
