package console

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the console page: plain HTML, CSS and JavaScript, embedded in
// the binary so that brun serves it with no CDN and no front-end build.
//
//go:embed web
var web embed.FS

// uiHandler serves the embedded page (GET and HEAD only): / is
// web/index.html, the rest are its assets. The page polls the API itself;
// it holds no data, so it is served without a credential (it shows its
// login form when the API answers 401). Handler's guards add the security
// headers.
func uiHandler() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
