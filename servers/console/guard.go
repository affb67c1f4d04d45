package console

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// contentSecurityPolicy lets the page load its own script, style sheet and
// API answers and nothing else: no inline script, no third-party request,
// no framing (clickjacking), no form posted elsewhere, no <base> trick.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// secureHeaders sets the browser's defences on every answer, errors and
// refusals included, before anything else runs: a 421 or a 401 is a page
// too, and must not be framed or sniffed into HTML either.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// hostGuard answers only requests whose Host the console knows, and 421
// to the rest. This is the DNS-rebinding defence: a page at evil.example
// that makes its name resolve to 127.0.0.1 reaches the console's port, but
// its browser still sends "Host: evil.example". Known are IP literals (no
// one can rebind an address), localhost, the host of console.listen and
// the names in console.hosts.
type hostGuard struct {
	names map[string]bool // lower case, without a trailing dot
}

// newHostGuard knows localhost, listen's host (when it is a name) and
// hosts.
func newHostGuard(listen string, hosts []string) hostGuard {
	g := hostGuard{names: map[string]bool{"localhost": true}}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		g.names[normalHost(h)] = true
	}
	for _, h := range hosts {
		g.names[normalHost(h)] = true
	}
	return g
}

// known reports whether hostPort, a request's Host (with or without a
// port), names this console.
func (g hostGuard) known(hostPort string) bool {
	host := hostPort
	if h, port, err := net.SplitHostPort(hostPort); err == nil {
		// SplitHostPort takes any port: "127.0.0.1:80.evil.example" is a
		// name, not an address.
		if port == "" || strings.ContainsFunc(port, func(c rune) bool { return c < '0' || c > '9' }) {
			return false
		}
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return g.names[normalHost(host)]
}

func normalHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// wrap refuses, with 421 Misdirected Request, every request for a Host
// the console does not know.
func (g hostGuard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.known(r.Host) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusMisdirectedRequest)
			fmt.Fprintf(w, "brun console: %.80q is not a name of this console; to reach it by that name, add the name to [console] hosts in brun.ini\n", r.Host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a request that changes something unless it comes
// from the console's own page or from a script (curl): 403 when Origin
// names another origin or Sec-Fetch-Site says another site sent it, 415
// when it is not Content-Type: application/json. A page of another origin
// can send a form or a "simple" fetch with the user's cookie; it can't
// send JSON without a CORS preflight, which the console never grants.
// GET, HEAD and OPTIONS change nothing and pass.
func sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+r.Host) && !strings.EqualFold(o, "https://"+r.Host) {
			writeError(w, http.StatusForbidden, "refused: a %s from origin %.100q, not from this console's page", r.Method, o)
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			writeError(w, http.StatusForbidden, "refused: a %s sent by a %.20s page, not by this console's page", r.Method, site)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "a %s needs Content-Type: application/json (DELETE and bodiless requests too)", r.Method)
			return
		}
		next.ServeHTTP(w, r)
	})
}
