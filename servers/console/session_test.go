package console

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"brun/base/config"
)

func tokenConfig(t *testing.T, token string) *config.Config {
	cfg := config.Default()
	cfg.Brun.DataDir = t.TempDir()
	cfg.Console.Token = token
	return &cfg
}

func TestTokenConfigured(t *testing.T) {
	cfg := tokenConfig(t, "from-the-ini")
	tok, generated, err := Token(cfg)
	if err != nil || tok != "from-the-ini" || generated {
		t.Fatalf("Token with console.token set = %q, %v, %v; want it, not generated", tok, generated, err)
	}
	if _, err := os.Stat(cfg.ConsoleTokenFile()); !os.IsNotExist(err) {
		t.Errorf("a configured token wrote %s (%v)", cfg.ConsoleTokenFile(), err)
	}
}

func TestTokenGeneratedOnceAndKept(t *testing.T) {
	cfg := tokenConfig(t, "")
	tok, generated, err := Token(cfg)
	if err != nil || !generated {
		t.Fatalf("Token: %q, %v, %v", tok, generated, err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 16 {
		t.Fatalf("generated token %q is not URL-safe base64 of at least 128 bits (%d bytes, %v)", tok, len(raw), err)
	}
	fi, err := os.Stat(cfg.ConsoleTokenFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want 0600", cfg.ConsoleTokenFile(), err, fi.Mode())
	}
	data, _ := os.ReadFile(cfg.ConsoleTokenFile())
	if strings.TrimSpace(string(data)) != tok {
		t.Fatalf("the file holds %q, Token returned %q", data, tok)
	}
	again, generated, err := Token(cfg)
	if err != nil || again != tok || !generated {
		t.Fatalf("second Token = %q, %v, %v; want the same token %q from the file", again, generated, err, tok)
	}
	other, _, _ := Token(tokenConfig(t, ""))
	if other == tok {
		t.Fatal("two data dirs got the same token")
	}
}

// A token file brun can't trust is refused with an error naming it and
// saying what to do; nothing is overwritten.
func TestTokenFileRefused(t *testing.T) {
	good := "abcdefghijklmnopqrstuvwxyz0123456789-_ABCD"
	cases := []struct {
		name  string
		setup func(path string)
		says  string
	}{
		{"readable by others", func(p string) { os.WriteFile(p, []byte(good+"\n"), 0o644); os.Chmod(p, 0o644) }, "mode -rw-r--r--"},
		{"writable by the group", func(p string) { os.WriteFile(p, []byte(good), 0o620); os.Chmod(p, 0o620) }, "chmod 600"},
		{"a symlink", func(p string) {
			target := filepath.Join(filepath.Dir(p), "elsewhere")
			os.WriteFile(target, []byte(good), 0o600)
			os.Symlink(target, p)
		}, "symbolic link"},
		{"a directory", func(p string) { os.Mkdir(p, 0o700) }, "not a regular file"},
		{"empty", func(p string) { os.WriteFile(p, nil, 0o600) }, "empty"},
		{"too short", func(p string) { os.WriteFile(p, []byte("short\n"), 0o600) }, "holds no token"},
		{"not URL-safe", func(p string) { os.WriteFile(p, []byte(good+"/+="), 0o600) }, "holds no token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := tokenConfig(t, "")
			path := cfg.ConsoleTokenFile()
			c.setup(path)
			before, _ := os.ReadFile(path)
			tok, _, err := Token(cfg)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Token = %q, %v; want an error naming %s and saying %q", tok, err, path, c.says)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("the refused file was changed: %q → %q", before, after)
			}
		})
	}
	// A missing data.dir is an error naming the file, not a panic.
	cfg := tokenConfig(t, "")
	cfg.Brun.DataDir = filepath.Join(cfg.Brun.DataDir, "missing")
	if _, _, err := Token(cfg); err == nil || !strings.Contains(err.Error(), cfg.ConsoleTokenFile()) {
		t.Errorf("Token without data.dir: %v, want an error naming %s", err, cfg.ConsoleTokenFile())
	}
}

// sessionCookieOf returns the session cookie res sets, failing t when
// there is none.
func sessionCookieOf(t *testing.T, res *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("%s sets no %s cookie (Set-Cookie %q)", res.Status, sessionCookie, res.Header.Values("Set-Cookie"))
	return nil
}

// The login URL sets a session cookie (not the token) and redirects to
// the page; the cookie then opens the API until it expires, the token
// changes, or the user logs out. Authorization: Bearer works beside it.
func TestLoginURLAndSessionCookie(t *testing.T) {
	const token = "tok-0123456789abcdefghijkl"
	srv, s := testServerWith(token, nil)
	defer srv.Close()
	// The clock is read by the server's goroutines: an atomic, so the test
	// can step it between requests.
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC).Unix())
	s.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	step := func(d time.Duration) { clock.Add(int64(d / time.Second)) }

	res, body := do(t, "GET", srv.URL+"/login?token=wrong", nil)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "login") || len(res.Cookies()) != 0 {
		t.Fatalf("/login with a wrong token: %s %q %s; want 401 and no cookie", res.Status, res.Header.Values("Set-Cookie"), body)
	}
	res, _ = do(t, "GET", srv.URL+"/login?token="+token, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("/login: %s Location %q, want 303 to /", res.Status, res.Header.Get("Location"))
	}
	c := sessionCookieOf(t, res)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 || strings.Contains(c.Value, token) {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over http, a lifetime, not the token", c)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("/login Cache-Control %q, want no-store", cc)
	}

	apiAt := func(url string, cred ...string) int {
		res, _ := do(t, "GET", url+"/api/nothing", nil, cred...)
		return res.StatusCode // 404: let in, 401: not
	}
	api := func(cred ...string) int { return apiAt(srv.URL, cred...) }
	cookie := []string{"Cookie", sessionCookie + "=" + c.Value}
	if got := api(cookie...); got != http.StatusNotFound {
		t.Fatalf("API with the session cookie: %d, want to be let in", got)
	}
	if got := api("Authorization", "Bearer "+token); got != http.StatusNotFound {
		t.Fatalf("API with the bearer token: %d, want to be let in", got)
	}
	if got := api(with(cookie, "Authorization", "Bearer wrong")...); got != http.StatusUnauthorized {
		t.Fatalf("a wrong bearer beside a good cookie: %d, want 401", got)
	}

	// Still good just before it expires, not after.
	step(sessionTTL - time.Second)
	if got := api(cookie...); got != http.StatusNotFound {
		t.Errorf("cookie a second before it expires: %d", got)
	}
	step(time.Second)
	if got := api(cookie...); got != http.StatusUnauthorized {
		t.Errorf("expired cookie: %d, want 401", got)
	}

	// A console with a new token does not take the old token's sessions.
	renewed, s2 := testServerWith("tok-the-new-one-0123456789", nil)
	defer renewed.Close()
	s2.now = s.now
	step(-time.Hour)
	if got := api(cookie...); got != http.StatusNotFound {
		t.Fatalf("cookie an hour before it expires: %d", got)
	}
	if got := apiAt(renewed.URL, cookie...); got != http.StatusUnauthorized {
		t.Errorf("cookie of the old token: %d, want 401", got)
	}
}

// The page's form posts the token as JSON and gets the cookie; Log out
// clears it.
func TestLoginFormAndLogout(t *testing.T) {
	const token = "tok-0123456789abcdefghijkl"
	srv := testServer(token)
	defer srv.Close()
	cases := []struct {
		body string
		code int
	}{
		{`{"token":"wrong"}`, 401},
		{`{"token":""}`, 401},
		{`{}`, 401},
		{`{"token":"` + token + `","x":1}`, 400},
		{`not json`, 400},
		{`{"token":"` + strings.Repeat("x", maxLoginBytes) + `"}`, 400},
	}
	for _, c := range cases {
		res, body := do(t, "POST", srv.URL+"/api/login", strings.NewReader(c.body), jsonCT...)
		if res.StatusCode != c.code || len(res.Cookies()) != 0 {
			t.Errorf("POST /api/login %.40s: %s %s, want %d and no cookie", c.body, res.Status, body, c.code)
		}
	}
	res, body := do(t, "POST", srv.URL+"/api/login", strings.NewReader(`{"token":"`+token+`"}`), jsonCT...)
	if res.StatusCode != 200 {
		t.Fatalf("POST /api/login with the token: %s %s", res.Status, body)
	}
	c := sessionCookieOf(t, res)
	if res, _ := do(t, "GET", srv.URL+"/api/nothing", nil, "Cookie", sessionCookie+"="+c.Value); res.StatusCode != http.StatusNotFound {
		t.Fatalf("API with the form's cookie: %s, want to be let in", res.Status)
	}
	res, _ = do(t, "POST", srv.URL+"/api/logout", nil, with(jsonCT, "Cookie", sessionCookie+"="+c.Value)...)
	if gone := sessionCookieOf(t, res); res.StatusCode != 200 || gone.MaxAge >= 0 || gone.Value != "" {
		t.Errorf("POST /api/logout: %s, cookie %+v; want it cleared", res.Status, gone)
	}
}

// Over TLS the cookie is Secure.
func TestSessionCookieSecureOverTLS(t *testing.T) {
	const token = "tok-0123456789abcdefghijkl"
	cfg := config.Default()
	s := New(&cfg, nil, token)
	srv := httptest.NewTLSServer(s.Handler())
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Get(srv.URL + "/login?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if c := sessionCookieOf(t, res); !c.Secure {
		t.Errorf("cookie set over TLS: %+v, want Secure", c)
	}
}
