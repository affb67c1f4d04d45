package console

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"brun/base/testkit"
)

// TestBrowserLocalModeShowsEvents drives the page of a brun that runs with
// no server at all (embedded etcd, in-process hand-off, local files, the
// demo log), as `make run` starts it: the login URL brun prints (its
// generated token) logs the browser in, the demo job runs, and its Events
// panel lists the demo lines, newest first, narrowed by the filter.
func TestBrowserLocalModeShowsEvents(t *testing.T) {
	testkit.Integration(t)
	dir := t.TempDir()
	listen, etcdAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	ini := writeFile(t, dir, "brun.ini", fmt.Sprintf(`
[brun]
data.dir = %s/data
metrics.listen = %s
[agent]
id = laptop
[etcd]
endpoints =
embed.listen = %s
[kafka]
endpoints =
[es]
endpoints =
flush.interval = 200ms
[console]
listen = %s
[demo]
path = %s/data/demo/app.log
rate = 40
[log]
dir =
`, dir, testkit.FreeAddr(t), etcdAddr, listen, dir))
	p := testkit.StartBrun(t, ini)
	base := "http://" + listen
	testkit.WaitFor(t, 60*time.Second, "the console's /healthz", func() bool { code, _ := httpGet(base + "/healthz"); return code == 200 })
	p.WaitLog(10*time.Second, "/login?token=")
	loginURL := regexp.MustCompile(`console on (http://\S+/login\?token=[A-Za-z0-9_-]+)\n`).FindStringSubmatch(p.Logs.String())
	token, err := os.ReadFile(filepath.Join(dir, "data", "console.token"))
	if loginURL == nil || err != nil || loginURL[1] != base+"/login?token="+strings.TrimSpace(string(token)) {
		t.Fatalf("brun printed the login URL %q; data/console.token holds %q (%v)", loginURL, token, err)
	}

	ctx := newBrowser(t)
	rowSel := `article[data-agent="laptop"] tr[data-job="demo"]`
	step(t, ctx, "open the login URL", chromedp.Navigate(loginURL[1]), chromedp.WaitVisible(chromedp.CSS(rowSel)))
	testkit.WaitFor(t, 60*time.Second, "the demo job running", func() bool {
		return text(t, ctx, rowSel+" .state") == "running"
	})

	step(t, ctx, "open the demo job's events",
		chromedp.Click(chromedp.CSS(rowSel+" button.events")),
		chromedp.WaitVisible(chromedp.ID("events")),
	)
	testkit.WaitFor(t, 30*time.Second, "demo lines in the events panel", func() bool {
		return strings.Contains(text(t, ctx, "#events-list li .msg"), "c.e.api.Handler")
	})
	if src := text(t, ctx, "#events-source"); !strings.Contains(src, "local files") {
		t.Errorf("events source %q does not say local files", src)
	}

	step(t, ctx, "filter on WARN",
		chromedp.SendKeys(chromedp.ID("events-q"), "warn slow"),
		chromedp.Click(chromedp.ID("events-apply")),
	)
	testkit.WaitFor(t, 30*time.Second, "only slow WARN lines listed", func() bool {
		msgs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#events-list li .msg")].map(e => e.textContent)`))
		if err != nil || len(msgs) == 0 {
			return false
		}
		for _, m := range msgs {
			if !strings.Contains(m, "WARN") || !strings.Contains(m, "slow request") {
				return false
			}
		}
		return true
	})

	if out := os.Getenv("BRUN_CONSOLE_EVENTS_SCREENSHOT"); out != "" {
		step(t, ctx, "clear the filter",
			chromedp.Evaluate[chromedp.Void](`document.getElementById("events-q").value = ""`),
			chromedp.Click(chromedp.ID("events-apply")))
		time.Sleep(2 * time.Second)
		saveScreenshot(t, ctx, out)
	}
}
