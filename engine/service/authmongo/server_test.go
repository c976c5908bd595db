package authmongo

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/emqgo/emqgo/engine/service/authmongo/ferrettest"
)

// shared is the server of the package's tests, started by TestMain; sharedErr says why there
// is none.
var (
	shared    *ferrettest.Server
	sharedErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "authmongo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, sharedErr = ferrettest.Start(dir)
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// needFerret returns the shared server with empty collections. Its absence is a broken setup
// (tools/ferretdb does not build), so the test fails; under -short it is skipped.
func needFerret(t *testing.T) *ferrettest.Server {
	t.Helper()
	if sharedErr != nil {
		if testing.Short() {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	shared.Insert(t, "mqtt_user")
	shared.Insert(t, "mqtt_acl")
	return shared
}
