// Command certgen writes a demo set of TLS certificates (engine/transport/certgen): a CA,
// a server certificate for localhost, 127.0.0.1 and ::1, a client certificate, an expired
// client certificate and one from another CA. `make certs` runs it for etc/certs/.
//
//	certgen [-force] DIR
//
// Without -force an existing set (DIR/cert.pem) is left alone. The keys are unencrypted: for
// demos and tests only.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fl := flag.NewFlagSet("certgen", flag.ContinueOnError)
	force := fl.Bool("force", false, "replace an existing set")
	if err := fl.Parse(args); err != nil || fl.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: certgen [-force] DIR")
		return 2
	}
	dir := fl.Arg(0)
	if _, err := os.Stat(filepath.Join(dir, certgen.Files.Cert)); err == nil && !*force {
		fmt.Printf("certgen: %s already has a certificate set (use -force to replace it)\n", dir)
		return 0
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "certgen:", err)
		return 1
	}
	set, err := certgen.Generate()
	if err == nil {
		err = set.WriteDir(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "certgen:", err)
		return 1
	}
	fmt.Printf("certgen: wrote %s/{%s,%s,%s,%s,...}\n", dir, certgen.Files.CACert, certgen.Files.Cert, certgen.Files.Key, certgen.Files.ClientCert)
	return 0
}
