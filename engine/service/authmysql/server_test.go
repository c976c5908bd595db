package authmysql

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/emqgo/emqgo/engine/service/authmysql/mariadbtest"
)

// shared is the server of the package's tests, started by TestMain; sharedErr says why there
// is none.
var (
	shared    *mariadbtest.Server
	sharedErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "authmysql-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, sharedErr = mariadbtest.Start(dir)
	code := m.Run()
	if shared != nil {
		shared.Stop()
		shared.Admin.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// needMariaDB returns the shared server with empty tables (the package's tests run one at a
// time, in any order, any number of times). Its absence is a broken setup (`make test-deps`
// installs mariadb-server), so the test fails; under -short it is skipped with the same
// advice.
func needMariaDB(t *testing.T) *mariadbtest.Server {
	t.Helper()
	if sharedErr != nil {
		if testing.Short() {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	shared.Exec(t, "TRUNCATE TABLE mqtt_user", "TRUNCATE TABLE mqtt_acl")
	return shared
}
