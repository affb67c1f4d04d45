package console

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"brun/base/testkit"
)

// appendLines appends a line to path at perSecond(elapsed) lines a second
// until ctx ends, each line stamped with the time it is written.
func appendLines(t *testing.T, ctx context.Context, path string, perSecond func(time.Duration) float64) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() {
		defer f.Close()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		owed := 0.0
		for n := 0; ; {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				owed += perSecond(now.Sub(start)) / 20
				for ; owed >= 1; owed-- {
					n++
					fmt.Fprintf(f, "%s INFO [worker-%d] handled request id=%d in %d ms\n", now.UTC().Format("2006-01-02T15:04:05.000Z"), n%4, n, 3+n%40)
				}
			}
		}
	}()
}

// TestBrowserOverview drives the Overview of a local-mode brun (embedded
// etcd, in-process hand-off, local files) with one agent and three jobs:
// one whose file the test writes, one waiting for its file, one outside
// agent.allow. The overview shows a lines/s chart and a non-zero rate for
// the first, 0 for the second, the error of the third; the first's row
// opens the Search view filtered on its agent and topic over the last
// hour, which finds its lines. Nothing breaks the page's CSP.
//
// With BRUN_CONSOLE_OVERVIEW_SCREENSHOT=<file.png> it also writes lines
// at a varying rate for BRUN_CONSOLE_OVERVIEW_SCREENSHOT_WAIT (a
// duration; default 2m), then saves a PNG of the overview there.
func TestBrowserOverview(t *testing.T) {
	localIntegration(t)
	dir := t.TempDir()
	listen, token := testkit.FreeAddr(t), "tok-"+testkit.Unique("overview")
	ini := writeFile(t, dir, "brun.ini", fmt.Sprintf(`
[brun]
data.dir = %s/data
metrics.listen = %s
[agent]
id = laptop
allow = %s/*.log
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
token = %s
[demo]
path =
[log]
dir =
`, dir, testkit.FreeAddr(t), dir, testkit.FreeAddr(t), listen, token))
	testkit.StartBrun(t, ini)
	base := "http://" + listen
	testkit.WaitFor(t, 60*time.Second, "the console's /healthz", func() bool { code, _ := httpGet(base + "/healthz"); return code == 200 })
	put := func(name, value string) {
		if code, body := putJob(t, base, token, "laptop", name, value); code/100 != 2 {
			t.Fatalf("PUT job %s: %d %s", name, code, body)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	shot := os.Getenv("BRUN_CONSOLE_OVERVIEW_SCREENSHOT")
	appRate := func(time.Duration) float64 { return 20 }
	if shot != "" { // a rate that moves, for the picture
		appRate = func(d time.Duration) float64 { return 30 + 20*math.Sin(d.Seconds()/40) }
	}
	appendLines(t, ctx, dir+"/app.log", appRate)
	put("app", fmt.Sprintf(`{"path":%q,"topic":"app"}`, dir+"/app.log"))
	put("idle", fmt.Sprintf(`{"path":%q,"topic":"idle"}`, dir+"/idle.log"))
	put("audit", `{"path":"/var/log/audit/audit.log","topic":"audit"}`)
	if shot != "" {
		appendLines(t, ctx, dir+"/nginx.log", func(d time.Duration) float64 {
			if int(d.Seconds())%90 < 25 {
				return 60 // a burst
			}
			return 5
		})
		put("nginx", fmt.Sprintf(`{"path":%q,"topic":"nginx"}`, dir+"/nginx.log"))
	}

	browser := newBrowser(t)
	step(t, browser, "log in, recording what the CSP blocks",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `window.cspViolations = []; document.addEventListener("securitypolicyviolation",
					(e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber));`,
			})
			return err
		}),
		chromedp.Navigate(base+"/login?token="+token),
		chromedp.WaitVisible(chromedp.CSS(`article[data-agent="laptop"]`)),
	)
	step(t, browser, "open the Overview tab",
		chromedp.Click(chromedp.ID("tab-overview")),
		chromedp.WaitVisible(chromedp.CSS(`#overview-view article[data-agent="laptop"]`)),
	)
	if !strings.Contains(text(t, browser, "#tab-overview"), "Overview") || location(t, browser) != "#overview" {
		t.Fatalf("the Overview tab leads to %q", location(t, browser))
	}

	row := func(job string) string {
		return `#overview-view article[data-agent="laptop"] tr[data-job="` + job + `"]`
	}
	type jobView struct {
		Rate, Now, State, Lag, Errors, LastError, Href string
		Points                                         int
		Lines                                          int
	}
	read := func(job string) jobView {
		t.Helper()
		q, _ := json.Marshal(row(job))
		raw, err := chromedp.Run(browser, chromedp.Evaluate[json.RawMessage](fmt.Sprintf(`(() => {
			const r = document.querySelector(%s);
			if (!r) return {};
			const txt = (s) => (r.querySelector(s) || {}).textContent || "";
			const svg = r.querySelector("svg.spark");
			return { rate: r.dataset.rate, now: txt("td.rate"), state: txt(".state"), lag: txt("td.lag"),
				errors: txt("td.errors"), lastError: txt("td.error"), href: (r.querySelector("a.search-link") || {}).hash || "",
				points: svg ? Number(svg.dataset.points) : -1, lines: svg ? svg.querySelectorAll("polyline.line").length : -1 };
		})()`, q)))
		if err != nil {
			t.Fatalf("read the row of %s: %v", job, err)
		}
		var v jobView
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("read the row of %s: %s: %v", job, raw, err)
		}
		return v
	}
	var app jobView
	testkit.WaitFor(t, 90*time.Second, "a lines/s chart and a non-zero rate for app", func() bool {
		app = read("app")
		r, err := strconv.ParseFloat(app.Rate, 64)
		return err == nil && r > 0 && app.Points >= 2 && app.Lines >= 1
	})
	if r, _ := strconv.ParseFloat(app.Rate, 64); r < 5 || r > 60 || app.State != "running" || app.Errors != "0" {
		t.Errorf("app: %+v; want about 20 lines/s, running, no error", app)
	}
	if app.Href != "#search?range=1h&agent=laptop&topic=app" {
		t.Errorf("app links to %q", app.Href)
	}
	testkit.WaitFor(t, 30*time.Second, "idle waiting at 0 lines/s, audit forbidden with its error", func() bool {
		idle, audit := read("idle"), read("audit")
		return idle.State == "waiting" && idle.Now == "0.0" && idle.Errors == "0" &&
			audit.State == "forbidden" && audit.Errors == "1" && strings.Contains(audit.LastError, "outside agent.allow")
	})

	if shot != "" {
		wait := 2 * time.Minute
		if v := os.Getenv("BRUN_CONSOLE_OVERVIEW_SCREENSHOT_WAIT"); v != "" {
			if d, err := time.ParseDuration(v); err == nil {
				wait = d
			}
		}
		// The chart fills at a point per 10 to 15 s (one report in two or
		// three is kept); the page redraws every 10 s.
		points := int(wait / (15 * time.Second))
		testkit.WaitFor(t, wait+2*time.Minute, fmt.Sprintf("%d points in the charts", points), func() bool {
			return read("nginx").Points >= points && read("app").Points >= points
		})
		saveScreenshot(t, browser, shot)
	}

	step(t, browser, "click the app job's row",
		chromedp.Click(chromedp.CSS(row("app")+" td.topic")),
		chromedp.WaitVisible(chromedp.ID("search-view")),
	)
	want := "#search?range=1h&agent=laptop&topic=app"
	testkit.WaitFor(t, 60*time.Second, "the search of app's lines in the last hour", func() bool {
		ok, err := chromedp.Run(browser, chromedp.Evaluate[bool](`(() => {
			const v = document.getElementById("search-view");
			const on = (f) => [...document.querySelectorAll(".facet[data-facet=" + f + "] button.facet-value.on")].map((b) => b.dataset.value).join();
			return !v.hidden && v.dataset.state === "done" && v.dataset.shown === location.hash &&
				document.getElementById("search-range").value === "1h" && on("agent") === "laptop" && on("topic") === "app" &&
				Number(document.getElementById("search-total").dataset.count) > 0 &&
				[...document.querySelectorAll("#search-results li.hit .msg")].every((m) => m.textContent.includes("handled request"));
		})()`))
		return err == nil && ok && location(t, browser) == want
	})
	if !isHidden(t, browser, "overview-view") {
		t.Errorf("the overview is still shown beside the search")
	}
	if blocked, err := chromedp.Run(browser, chromedp.Evaluate[[]string](`window.cspViolations`)); err != nil || len(blocked) > 0 {
		t.Errorf("the CSP blocked: %v (%v)", blocked, err)
	}
}

// localIntegration skips t unless BRUN_INTEGRATION=1. Unlike
// testkit.Integration it needs no server of the stack: a local-mode brun
// brings its own.
func localIntegration(t *testing.T) {
	t.Helper()
	if os.Getenv("BRUN_INTEGRATION") != "1" {
		t.Skip("integration test: set BRUN_INTEGRATION=1 and BRUN_BIN (make build)")
	}
}

// location returns the page's location.hash.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`))
	if err != nil {
		t.Fatalf("read location.hash: %v", err)
	}
	return v
}

// isHidden reports whether the element with id is hidden.
func isHidden(t *testing.T, ctx context.Context, id string) bool {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById(`+strconv.Quote(id)+`).hidden`))
	if err != nil {
		t.Fatalf("read %s.hidden: %v", id, err)
	}
	return v
}
