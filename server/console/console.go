// Package console is the web console's page, scripts and styles, embedded
// in the binary (plain JavaScript modules and CSS: no build step, no CDN,
// nothing fetched from another origin). Package server serves them at /
// and the API they call; this package holds only the files.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// Static is the console's files (index.html, *.js, *.css).
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	return sub
}

// Handler serves index.html at / and every other file at /console/NAME.
func Handler() http.Handler {
	fsrv := http.FileServerFS(Static())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/console")
		if name == "/" || name == "" || r.URL.Path == "/" {
			name = "/index.html"
		}
		if strings.HasSuffix(name, "/") {
			http.NotFound(w, r)
			return
		}
		// Revalidate each time: a node upgraded in place serves new files.
		w.Header().Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = name
		if name == "/index.html" {
			// FileServer redirects /index.html to /; serve the file itself.
			f, err := Static().(fs.ReadFileFS).ReadFile("index.html")
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(f)
			return
		}
		fsrv.ServeHTTP(w, r2)
	})
}
