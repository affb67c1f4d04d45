package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	// sessionCookie names the cookie a login sets.
	sessionCookie = "brun_console"
	// sessionTTL is how long a login lasts: a stolen cookie is worth this
	// much at most, and a browser left logged in asks again within a week.
	sessionTTL = 7 * 24 * time.Hour
	// maxLoginBytes bounds a POST /api/login body.
	maxLoginBytes = 4 << 10
)

// unauthorized is the 401 message: how to get a credential.
const unauthorized = "log in first: open the login URL brun printed at start, or send Authorization: Bearer <token> " +
	"(the token is [console] token, or the one brun generated into data.dir/console.token)"

// sessionValue returns the cookie value of a session that ends at expires:
// the expiry and an HMAC of it keyed with the token. It is not the token,
// so a cookie that leaks does not give the token away, and it holds for
// this token only: a new token ends every session.
func (s *Server) sessionValue(expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + s.sessionMAC(exp)
}

func (s *Server) sessionMAC(exp string) string {
	m := hmac.New(sha256.New, []byte(s.token))
	io.WriteString(m, "brun console session\x00"+exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validSession reports whether v is a session cookie this token made that
// has not expired.
func (s *Server) validSession(v string) bool {
	exp, mac, ok := strings.Cut(v, ".")
	if !ok || s.token == "" {
		return false
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !s.now().Before(time.Unix(sec, 0)) {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.sessionMAC(exp)))
}

// tokenMatches compares got with the token in constant time, whatever
// their lengths (both are hashed first).
func (s *Server) tokenMatches(got string) bool {
	if s.token == "" || got == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(s.token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// authorized reports whether r carries a credential: "Authorization:
// Bearer <token>" (scripts), or else a session cookie (the page). A wrong
// bearer token is refused even with a good cookie.
func (s *Server) authorized(r *http.Request) bool {
	if h := r.Header.Get("Authorization"); h != "" {
		got, ok := strings.CutPrefix(h, "Bearer ")
		return ok && s.tokenMatches(got)
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && s.validSession(c.Value)
}

// auth lets a request through when it is authorized, and answers 401
// otherwise, before next reads anything.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="brun console"`)
			writeError(w, http.StatusUnauthorized, "%s", unauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// setSession sets the session cookie on w: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), Secure when r came
// over TLS (a plain-HTTP console could not read a Secure cookie back).
func (s *Server) setSession(w http.ResponseWriter, r *http.Request) {
	expires := s.now().Add(sessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.sessionValue(expires), Path: "/",
		Expires: expires, MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// clearSession tells the browser to drop the session cookie.
func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// loginPage answers GET /login?token=T, the URL brun prints at start: with
// the right token it sets the session cookie and redirects (303) to the
// page, so the token leaves the address bar; otherwise 401 with a short
// page saying what to do.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !s.tokenMatches(r.URL.Query().Get("token")) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>brun console: not logged in</title></head>
<body><h1>Not logged in</h1><p>This login link holds no valid token (brun makes a new one when data.dir/console.token is deleted, and
[console] token may have changed). Open the login URL brun printed at start, or <a href="/">log in on the console page</a> with the token.</p></body></html>
`)
		return
	}
	s.setSession(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// login answers POST /api/login {"token": "..."}, the page's login form:
// 200 with the session cookie set, or 401.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf(`the body must be {"token": "<token>"}: %v`, err), Fields: []fieldError{{Field: "token", Reason: "is required"}}})
		return
	}
	if !s.tokenMatches(body.Token) {
		writeError(w, http.StatusUnauthorized, "that is not the console's token ([console] token, or data.dir/console.token)")
		return
	}
	s.setSession(w, r)
	s.log.WithField("client", r.RemoteAddr).Info("logged in")
	writeJSON(w, http.StatusOK, map[string]bool{"logged_in": true})
}

// logout answers POST /api/logout: the browser drops its session cookie.
// It needs no credential: ending one's own session harms no one. The
// cookie itself stays valid until it expires or the token changes (the
// console keeps no session list); change the token to end every session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	clearSession(w, r)
	writeJSON(w, http.StatusOK, map[string]bool{"logged_in": false})
}
