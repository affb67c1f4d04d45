package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"brun/base/testkit"
)

// writeFile writes an ini (or a log file) into dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// httpGet returns the status and body of GET url, or 0 when nothing answers.
func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// newBrowser starts headless Chromium (Debian's chromium) with a fresh
// profile; it is stopped when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (make test installs the Debian package): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// step runs actions with a bound, so a missing element fails the test
// instead of hanging it.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// text returns the textContent of the first element sel matches ("" when
// none does), without waiting.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	q, _ := json.Marshal(sel)
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s) || {}).textContent || ""`, q)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// TestBrowserAddsJobAndSeesItRun drives the real page in headless Chromium
// against a real brun (agent and console roles) with the real etcd and
// Kafka: the page asks for a login, refuses a wrong token, logs in with
// the right one and out again, and in again with the login URL; the agent
// is listed, a bad path is refused beside the field with nothing written,
// a good job is written to etcd, the agent runs it and its lines counter
// follows the file.
func TestBrowserAddsJobAndSeesItRun(t *testing.T) {
	testkit.Integration(t)
	run := testkit.Unique("console")
	dir := t.TempDir()
	prefix, agentID, topic, token := "/"+run+"/", "a-"+run, run, "tok-"+run
	listen := testkit.FreeAddr(t)
	ini := writeFile(t, dir, "brun.ini", fmt.Sprintf(`
[brun]
roles = agent,console
data.dir = %s/data
[agent]
id = %s
[etcd]
endpoints = %s
prefix = %s
[kafka]
endpoints = %s
[console]
listen = %s
token = %s
[log]
dir =
`, dir, agentID, testkit.EtcdAddr, prefix, testkit.KafkaAddr, listen, token))
	testkit.StartBrun(t, ini)
	base := "http://" + listen
	testkit.WaitFor(t, 30*time.Second, "the console's /healthz", func() bool { code, _ := httpGet(base + "/healthz"); return code == 200 })
	t.Cleanup(func() { testkit.Etcdctl(t, "del", "--prefix", prefix) })

	logFile := writeFile(t, dir, "app.log", "one\ntwo\nthree\n")
	ctx := newBrowser(t)
	agentSel := fmt.Sprintf(`article[data-agent=%q]`, agentID)
	rowSel := agentSel + ` tr[data-job="app"]`

	// Not logged in, the page shows its login form and no agent; a wrong
	// token is refused there.
	step(t, ctx, "open the page and enter a wrong token",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-token")),
		chromedp.SendKeys(chromedp.ID("login-token"), "not-"+token),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	testkit.WaitFor(t, 20*time.Second, "the wrong token refused", func() bool {
		return strings.Contains(text(t, ctx, "#login-error"), "not the console's token")
	})
	if got := text(t, ctx, agentSel+" h2"); got != "" {
		t.Fatalf("logged out, the page shows agent %q", got)
	}
	// The right token logs in: the live agent is listed. Log out shows the
	// form again.
	step(t, ctx, "log in with the form, then log out",
		chromedp.SetValue(chromedp.ID("login-token"), token),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(agentSel+" .badge.alive")),
		chromedp.Click(chromedp.ID("logout-button")),
		chromedp.WaitVisible(chromedp.ID("login-token")),
	)
	if got := text(t, ctx, agentSel+" h2"); got != "" {
		t.Fatalf("after Log out the page shows agent %q", got)
	}
	// The login URL, as brun prints it, logs in and leaves the address bar.
	step(t, ctx, "open the login URL",
		chromedp.Navigate(base+"/login?token="+token),
		chromedp.WaitVisible(chromedp.CSS(agentSel+" .badge.alive")),
	)
	if got := text(t, ctx, agentSel+" h2"); got != agentID {
		t.Fatalf("agent card title %q, want %q", got, agentID)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`)); err != nil || loc != base+"/" {
		t.Fatalf("after the login URL the page is at %q (%v), want %s/", loc, err, base)
	}

	// A relative path: the validator's message beside the path field, and
	// nothing in etcd.
	key := prefix + "job/" + agentID + "/app"
	step(t, ctx, "fill the form with a bad path",
		chromedp.Click(chromedp.CSS(agentSel+" button.add")),
		chromedp.WaitVisible(chromedp.ID("job-form")),
		chromedp.SendKeys(chromedp.ID("f-name"), "app"),
		chromedp.SendKeys(chromedp.ID("f-path"), "logs/app.log"),
		chromedp.SendKeys(chromedp.ID("f-topic"), topic),
		chromedp.Click(chromedp.ID("job-save")),
	)
	testkit.WaitFor(t, 20*time.Second, "the path error beside the field", func() bool {
		return strings.Contains(text(t, ctx, `.err[data-field="path"]`), "is not an absolute path")
	})
	if got := text(t, ctx, `.err[data-field="topic"]`); got != "" {
		t.Errorf("topic %q is valid but shows the error %q", topic, got)
	}
	if got := testkit.Etcdctl(t, "get", "--print-value-only", key); strings.TrimSpace(got) != "" {
		t.Fatalf("a job with a bad path was written: %q", got)
	}

	// The right path: written to etcd as the form built it.
	step(t, ctx, "correct the path and save",
		chromedp.SetValue(chromedp.ID("f-path"), logFile),
		chromedp.Click(chromedp.ID("job-save")),
	)
	want := fmt.Sprintf(`{"path":%q,"topic":%q}`, logFile, topic)
	testkit.WaitFor(t, 20*time.Second, "the job in etcd", func() bool {
		return strings.TrimSpace(testkit.Etcdctl(t, "get", "--print-value-only", key)) == want
	})

	// The agent runs it; the page shows running and the file's 3 lines.
	testkit.WaitFor(t, 60*time.Second, "state running and 3 lines on the page", func() bool {
		return text(t, ctx, rowSel+" .state") == "running" && text(t, ctx, rowSel+" td.lines") == "3"
	})
	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "four\nfive\nsix\nseven\n")
	f.Close()
	testkit.WaitFor(t, 60*time.Second, "the lines counter at 7", func() bool {
		return text(t, ctx, rowSel+" td.lines") == "7"
	})
	if got := text(t, ctx, rowSel+" td.error"); got != "" {
		t.Errorf("a running job shows the error %q", got)
	}

	// Keys that are no job show in their agent's card, or apart when they
	// name no agent, as invalid; Delete removes them by their key.
	odd, stray := prefix+"job/"+agentID+"/a/b", prefix+"job//x"
	testkit.Etcdctl(t, "put", odd, `{"path":"/var/log/x.log","topic":"x"}`)
	testkit.Etcdctl(t, "put", stray, `{}`)
	oddSel := fmt.Sprintf(`%s tr[data-key=%q]`, agentSel, odd)
	straySel := fmt.Sprintf(`#stray-keys tr[data-key=%q]`, stray)
	testkit.WaitFor(t, 20*time.Second, "the odd keys on the page", func() bool {
		return text(t, ctx, oddSel+" .state") == "invalid" && strings.Contains(text(t, ctx, oddSel+" td.error"), "holds a '/'") &&
			strings.Contains(text(t, ctx, straySel+" td.error"), "agent id is empty")
	})
	for _, c := range []struct{ sel, key string }{{oddSel, odd}, {straySel, stray}} {
		step(t, ctx, "delete "+c.key+" (two clicks)",
			chromedp.Click(chromedp.CSS(c.sel+" button.delete")),
			chromedp.WaitVisible(chromedp.CSS(c.sel+" button.delete.confirm")),
			chromedp.Click(chromedp.CSS(c.sel+" button.delete.confirm")),
		)
		testkit.WaitFor(t, 20*time.Second, c.key+" deleted from etcd", func() bool {
			return strings.TrimSpace(testkit.Etcdctl(t, "get", "--print-value-only", c.key)) == ""
		})
	}
	if got := strings.TrimSpace(testkit.Etcdctl(t, "get", "--print-value-only", key)); got != want {
		t.Fatalf("deleting the odd keys changed the job: %q", got)
	}

	// The same process exposes the agent's and the console's series.
	code, body := httpGet(base + "/metrics")
	for _, s := range []string{`brun_agent_lines_read_total{job="app"} 7`, `brun_agent_events_acked_total{topic="` + topic + `"}`, "brun_registered_agents", "brun_configured_jobs", "brun_agent_unacked_events"} {
		if code != 200 || !strings.Contains(body, s) {
			t.Errorf("/metrics (%d) has no %s", code, s)
		}
	}

	if out := os.Getenv("BRUN_CONSOLE_SCREENSHOT"); out != "" {
		screenshot(t, ctx, base, token, prefix, agentID, dir, out)
	}
}

// screenshot adds a few more jobs (one waiting for its file, one with an
// invalid stored value) and an agent that never registered, waits for the
// page to show their states, shows a validation message in the editor, and
// writes a PNG of the page to out (doc/console.png).
func screenshot(t *testing.T, ctx context.Context, base, token, prefix, agentID, dir, out string) {
	put := func(agent, name, value string) {
		if code, body := putJob(t, base, token, agent, name, value); code/100 != 2 {
			t.Fatalf("PUT %s/%s: %d %s", agent, name, code, body)
		}
	}
	put(agentID, "nginx", `{"path":"/var/log/nginx/access.log","topic":"nginx","fields":{"env":"prod"}}`)
	put(agentID, "worker", fmt.Sprintf(`{"path":"%s/worker/*.log","topic":"worker","exclude":["*.gz"]}`, dir))
	put("10.0.0.9", "app", `{"path":"/srv/app/logs/*.log","topic":"app"}`)
	testkit.Etcdctl(t, "put", prefix+"job/"+agentID+"/legacy", `{"path":"/var/log/legacy.log","topic":"legacy","colour":"red"}`)
	rows := fmt.Sprintf(`article[data-agent=%q] tr[data-job=%q] .state`, agentID, "legacy")
	testkit.WaitFor(t, 60*time.Second, "every job's state on the page", func() bool {
		return text(t, ctx, rows) == "invalid" && text(t, ctx, fmt.Sprintf(`article[data-agent=%q] tr[data-job="worker"] .state`, agentID)) == "waiting"
	})
	testkit.WaitFor(t, 30*time.Second, "a lines/s figure for app", func() bool {
		v := text(t, ctx, fmt.Sprintf(`article[data-agent=%q] tr[data-job="app"] td.rate`, agentID))
		return v != "" && v != "…"
	})
	step(t, ctx, "open the editor on the nginx job",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`article[data-agent=%q] tr[data-job="nginx"] button.edit`, agentID))),
		chromedp.WaitVisible(chromedp.ID("job-form")),
		chromedp.SetValue(chromedp.ID("f-topic"), "nginx access"),
		chromedp.Click(chromedp.ID("job-save")),
	)
	testkit.WaitFor(t, 20*time.Second, "the topic error", func() bool {
		return text(t, ctx, `.err[data-field="topic"]`) != ""
	})
	saveScreenshot(t, ctx, out)
}

// saveScreenshot writes a PNG of the whole page to out.
func saveScreenshot(t *testing.T, ctx context.Context, out string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
}
