package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// web holds the page (index.html, app/*.js, style.css) and web/vendor, the npm files `make`
// fetches (tools/dashboard/fetch.sh; git-ignored but for its placeholder, so that a fresh
// clone builds: the page then says to run make).
//
//go:embed web
var web embed.FS

// VendorMissing reports whether the npm files are absent from this build (built without
// `make`): the console then shows how to fetch them.
func VendorMissing() bool {
	_, err := fs.Stat(web, "web/vendor/uPlot.esm.js")
	return err != nil
}

// assets serves the embedded files: the project's are revalidated on every load (a new
// binary's page shows at once), the pinned npm files may be cached for a day.
func assets() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic("BUG: embedded web directory: " + err.Error())
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/vendor/") {
			w.Header().Set("Cache-Control", "max-age=86400") // pinned versions
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
