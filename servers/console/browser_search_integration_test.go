package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"brun/base/testkit"
)

// searchFixture is the log file the test's job ships: n lines, one every
// 15 s from base, with levels and messages the assertions count.
type searchFixture struct {
	base time.Time
	n    int
}

func (f searchFixture) at(i int) time.Time { return f.base.Add(time.Duration(i) * 15 * time.Second) }

func (f searchFixture) level(i int) string {
	switch {
	case i%10 == 3 || i%10 == 7:
		return "error"
	case i%5 == 1:
		return "warn"
	case i%6 == 0:
		return "debug"
	}
	return "info"
}

func (f searchFixture) message(i int) string {
	if i%8 == 5 {
		return fmt.Sprintf("disk full on /data seq=%d", i)
	}
	return fmt.Sprintf("request handled seq=%d user=u%d", i, i%4)
}

func (f searchFixture) file() string {
	var b strings.Builder
	for i := 0; i < f.n; i++ {
		fmt.Fprintf(&b, "%s %s [worker-%d] %s\n", f.at(i).Format("2006-01-02T15:04:05.000Z07:00"), strings.ToUpper(f.level(i)), i%3, f.message(i))
	}
	return b.String()
}

// count is how many lines in [from, to) pass keep.
func (f searchFixture) count(from, to time.Time, keep func(i int) bool) int {
	n := 0
	for i := 0; i < f.n; i++ {
		if !f.at(i).Before(from) && f.at(i).Before(to) && (keep == nil || keep(i)) {
			n++
		}
	}
	return n
}

// TestBrowserSearch drives the Search view of a local-mode brun (embedded
// etcd, in-process hand-off, local files) in headless Chromium whose zone
// is Asia/Kolkata: a link with the view in its hash shows the total, a
// histogram whose bars sum to it, pages of results newest first in the
// browser's zone; a level facet filters, a word narrows, "Load older"
// pages to the end, the UTC box switches the times, dragging on the
// histogram zooms, a refused query is explained beside the box, a reload
// shows the same view again, a quick range stays relative in the link,
// and Live brings a line written during the test to the top.
func TestBrowserSearch(t *testing.T) {
	testkit.Integration(t)
	dir := t.TempDir()
	listen, token := testkit.FreeAddr(t), "tok-"+testkit.Unique("search")
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
token = %s
[demo]
path =
[log]
dir =
`, dir, testkit.FreeAddr(t), testkit.FreeAddr(t), listen, token))
	testkit.StartBrun(t, ini)
	base := "http://" + listen
	testkit.WaitFor(t, 60*time.Second, "the console's /healthz", func() bool { code, _ := httpGet(base + "/healthz"); return code == 200 })

	// An hour and a half ago, 120 lines over 30 minutes: a fixed range, so
	// every count below is exact.
	fx := searchFixture{base: time.Now().UTC().Truncate(time.Minute).Add(-90 * time.Minute), n: 120}
	last := fx.n - 1
	from, to := fx.base, fx.base.Add(30*time.Minute)
	logFile := writeFile(t, dir, "app.log", fx.file())
	apiCall := func(method, path, body string) (int, []byte) { return consoleCall(t, base, token, method, path, body) }
	if code, body := apiCall("PUT", "/api/agents/laptop/jobs/app", fmt.Sprintf(`{"path":%q,"topic":"app","start":"beginning"}`, logFile)); code/100 != 2 {
		t.Fatalf("PUT the job: %d %s", code, body)
	}
	rangeQuery := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	testkit.WaitFor(t, 60*time.Second, "the lines in the local files", func() bool {
		code, body := apiCall("GET", "/api/search?size=1&"+rangeQuery, "")
		var a SearchAnswer
		return code == 200 && json.Unmarshal(body, &a) == nil && a.Total == int64(fx.n)
	})

	ctx := newBrowser(t)
	kolkata := time.FixedZone("IST", 5*3600+1800)
	step(t, ctx, "log in in a browser on Asia/Kolkata time",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"}); err != nil {
				return err
			}
			// Every page records what the CSP blocks (an inline style, say).
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `window.cspViolations = []; document.addEventListener("securitypolicyviolation",
					(e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber));`,
			})
			return err
		}),
		chromedp.Navigate(base+"/login?token="+token),
		chromedp.WaitVisible(chromedp.CSS(`article[data-agent="laptop"]`)),
		chromedp.Navigate("about:blank"),
	)

	// evalJS evaluates a JavaScript expression into v's type.
	evalJS := func(expr string, v any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("evaluate %s: %s: %v", expr, raw, err)
		}
	}
	// shown waits until the view the address names is on the page (the
	// search answered) and cond holds.
	shown := func(what, cond string) {
		t.Helper()
		testkit.WaitFor(t, 30*time.Second, what, func() bool {
			var ok bool
			evalJS(`(() => { const v = document.getElementById("search-view");
				return !v.hidden && v.dataset.state === "done" && v.dataset.shown === location.hash && !!(`+cond+`); })()`, &ok)
			return ok
		})
	}
	type view struct {
		Hash, Total, Error string
		Count, BarSum      int
		PartSum            int
		Times, Levels      []string
		Msgs               []string
		Older              bool
		Facets             map[string]string
	}
	read := func() view {
		t.Helper()
		var v view
		evalJS(`(() => {
			const all = (s) => [...document.querySelectorAll(s)];
			const sum = (s) => all(s).reduce((n, e) => n + Number(e.dataset.count), 0);
			const facets = {};
			for (const b of all(".facet[data-facet=level] button.facet-value")) facets[b.dataset.value] = b.dataset.count + (b.classList.contains("on") ? " on" : "");
			return { hash: location.hash, total: document.getElementById("search-total").textContent,
				count: Number(document.getElementById("search-total").dataset.count),
				error: document.getElementById("search-error").textContent,
				barSum: sum("svg.histogram g.bar"), partSum: sum("svg.histogram rect.part"),
				times: all("#search-results li.hit .time").map((e) => e.textContent),
				levels: all("#search-results li.hit").map((e) => e.dataset.level),
				msgs: all("#search-results li.hit .msg").map((e) => e.textContent),
				older: !document.getElementById("search-older").hidden, facets };
		})()`, &v)
		return v
	}
	// loadAll clicks Load older until the button goes (at most 10 pages).
	loadAll := func(what string) view {
		t.Helper()
		v := read()
		for i := 0; v.Older && i < 10; i++ {
			n := len(v.Times)
			step(t, ctx, "load older "+what, chromedp.Click(chromedp.ID("search-older")))
			shown("more "+what, fmt.Sprintf(`document.querySelectorAll("#search-results li.hit").length > %d || document.getElementById("search-older").hidden`, n))
			v = read()
		}
		return v
	}
	local := func(i int) string { return fx.at(i).In(kolkata).Format("2006-01-02 15:04:05.000") }
	utc := func(i int) string { return fx.at(i).UTC().Format("2006-01-02 15:04:05.000") + "Z" }

	// The link: a custom range, five results a page.
	link := base + "/#search?" + rangeQuery + "&size=5"
	step(t, ctx, "open the search link", chromedp.Navigate(link))
	shown("the first page", `document.querySelectorAll("#search-results li.hit").length === 5`)
	v := read()
	if v.Total != fmt.Sprintf("%d events", fx.n) || v.Count != fx.n || v.BarSum != fx.n || v.PartSum != fx.n {
		t.Errorf("total %q (data-count %d), histogram bars sum to %d, their levels to %d; want %d each", v.Total, v.Count, v.BarSum, v.PartSum, fx.n)
	}
	if want := []string{local(last), local(last - 1), local(last - 2), local(last - 3), local(last - 4)}; strings.Join(v.Times, ",") != strings.Join(want, ",") {
		t.Errorf("first page times %q, want the newest five in Asia/Kolkata %q", v.Times, want)
	}
	nErr := fx.count(from, to, func(i int) bool { return fx.level(i) == "error" })
	if got, want := v.Facets["error"], fmt.Sprint(nErr); got != want {
		t.Errorf("level facet error: %q, want %q (facets %v)", got, want, v.Facets)
	}

	// Load older appends the next five, still newest first.
	step(t, ctx, "load older", chromedp.Click(chromedp.ID("search-older")))
	shown("ten results", `document.querySelectorAll("#search-results li.hit").length === 10`)
	if v = read(); v.Times[5] != local(last-5) || v.Times[9] != local(last-9) || !v.Older {
		t.Errorf("after Load older: times %q, Load older shown %v; want %s..%s and the button", v.Times, v.Older, local(last-5), local(last-9))
	}

	// Dragging across the middle half of the histogram searches that span.
	var box struct{ X, Y, W, H float64 }
	evalJS(`(() => { const r = document.querySelector("svg.histogram").getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })()`, &box)
	y := box.Y + box.H/2
	step(t, ctx, "drag across the histogram",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box.X+box.W/4, y),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, box.X+box.W/4, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box.X+box.W/2, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box.X+box.W*3/4, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, box.X+box.W*3/4, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	shown("the zoomed range", `!location.hash.includes("from=`+url.QueryEscape(from.Format(time.RFC3339))+`")`)
	v = read()
	zoom, _ := url.ParseQuery(strings.TrimPrefix(v.Hash, "#search?"))
	zFrom, err1 := time.Parse(time.RFC3339, zoom.Get("from"))
	zTo, err2 := time.Parse(time.RFC3339, zoom.Get("to"))
	if err1 != nil || err2 != nil || zFrom.Sub(from) < 6*time.Minute || zFrom.Sub(from) > 9*time.Minute ||
		to.Sub(zTo) < 6*time.Minute || to.Sub(zTo) > 9*time.Minute || zoom.Get("size") != "5" {
		t.Errorf("dragging from a quarter to three quarters of %s..%s searched %q", from, to, v.Hash)
	} else if want := fx.count(zFrom, zTo, nil); v.Count != want || v.BarSum != want {
		t.Errorf("zoomed to %s..%s: total %d, bars %d; want %d", zFrom, zTo, v.Count, v.BarSum, want)
	}
	step(t, ctx, "back to the whole range", chromedp.Evaluate[chromedp.Void](`history.back()`))
	shown("the whole range again", `document.getElementById("search-total").dataset.count === "`+fmt.Sprint(fx.n)+`"`)

	// The error facet filters to errors; Load older pages to the end.
	step(t, ctx, "click the level facet error", chromedp.Click(chromedp.CSS(`.facet[data-facet=level] button[data-value="error"]`)))
	shown("errors only", `location.hash.includes("level=error")`)
	v = loadAll("errors")
	if v.Count != nErr || v.BarSum != nErr || len(v.Levels) != nErr || v.Older || v.Facets["error"] != fmt.Sprint(nErr)+" on" {
		t.Errorf("filtered to errors: total %d, bars %d, %d results, Load older %v, facet %q; want %d, all of them, no button, the facet on",
			v.Count, v.BarSum, len(v.Levels), v.Older, v.Facets["error"], nErr)
	}
	for i, l := range v.Levels {
		if l != "error" || (i > 0 && v.Times[i] >= v.Times[i-1]) {
			t.Errorf("filtered to errors, result %d is %q at %s (after %v)", i, l, v.Times[i], v.Times[:i])
		}
	}

	// A word narrows the errors: Enter submits.
	isDisk := func(i int) bool { return fx.level(i) == "error" && strings.Contains(fx.message(i), "disk") }
	nDisk, lastDisk := fx.count(from, to, isDisk), last
	for !isDisk(lastDisk) {
		lastDisk--
	}
	step(t, ctx, "search disk", chromedp.SendKeys(chromedp.ID("search-q"), "disk\r"))
	shown("the disk errors", `location.hash.includes("q=disk")`)
	if v = loadAll("disk errors"); v.Count != nDisk || len(v.Msgs) != nDisk || v.Older {
		t.Errorf("q=disk level=error: total %d, results %q; want %d", v.Count, v.Msgs, nDisk)
	}
	for _, m := range v.Msgs {
		if !strings.Contains(m, "disk full") {
			t.Errorf("q=disk shows %q", m)
		}
	}

	// UTC: the same times with a Z, and the box in the link.
	step(t, ctx, "tick UTC", chromedp.Click(chromedp.ID("search-utc")))
	shown("times in UTC", `location.hash.includes("utc=1")`)
	if v = read(); len(v.Times) == 0 || v.Times[0] != utc(lastDisk) {
		t.Errorf("UTC times %q, want %s first", v.Times, utc(lastDisk))
	}

	// A query local mode refuses is explained beside the box.
	step(t, ctx, "search disk OR full", chromedp.SetValue(chromedp.ID("search-q"), "disk OR full"), chromedp.Click(chromedp.ID("search-submit")))
	testkit.WaitFor(t, 30*time.Second, "the refusal beside the query box", func() bool {
		return strings.HasPrefix(text(t, ctx, "#search-error"), "q: OR needs Elasticsearch")
	})
	step(t, ctx, "back to disk", chromedp.Evaluate[chromedp.Void](`history.back()`))
	shown("the disk errors again", `location.hash.includes("q=disk&")`)

	// Nothing the page did broke its CSP.
	var blocked []string
	evalJS(`window.cspViolations`, &blocked)
	if len(blocked) > 0 {
		t.Errorf("the CSP blocked %q", blocked)
	}

	// A reload shows the same view.
	before := read()
	step(t, ctx, "reload", chromedp.Reload())
	shown("the view after the reload", `document.getElementById("search-q").value === "disk"`)
	v = read()
	var utcBox bool
	evalJS(`document.getElementById("search-utc").checked`, &utcBox)
	if v.Hash != before.Hash || v.Count != nDisk || strings.Join(v.Times, ",") != strings.Join(before.Times, ",") ||
		v.Facets["error"] != fmt.Sprint(nDisk)+" on" || !utcBox {
		t.Errorf("after the reload: %+v (UTC box %v); before: %+v", v, utcBox, before)
	}

	// A quick range stays relative in the link.
	step(t, ctx, "choose Last 24 hours", chromedp.Evaluate[chromedp.Void](
		`(() => { const s = document.getElementById("search-range"); s.value = "24h"; s.dispatchEvent(new Event("change")); })()`))
	shown("the last 24 hours", `location.hash.includes("range=24h")`)
	if v = read(); strings.Contains(v.Hash, "from=") || v.Count != nDisk || !strings.Contains(v.Hash, "q=disk") {
		t.Errorf("Last 24 hours: %q, total %d; want range=24h, the same query and %d", v.Hash, v.Count, nDisk)
	}

	// The lines around the newest disk error, in its file: the ten before
	// it, itself marked, and those after it.
	step(t, ctx, "expand the newest disk error", chromedp.Click(chromedp.CSS(`#search-results li.hit button.hit-head`)))
	step(t, ctx, "show its surrounding lines", chromedp.Click(chromedp.CSS(`#search-results li.hit.open .surrounding-button`)))
	var around struct {
		Hit    string   `json:"hit"`
		This   string   `json:"this"`
		Before []string `json:"before"`
		After  []string `json:"after"`
	}
	testkit.WaitFor(t, 30*time.Second, "the surrounding lines", func() bool {
		evalJS(`(() => { const li = document.querySelector("#search-results li.hit.open");
			const l = li && li.querySelector(".surrounding[data-state=done]");
			const msgs = sel => l ? [...l.querySelectorAll(sel + " .msg")].map(e => e.textContent) : [];
			return { hit: li ? li.querySelector(".hit-head .msg").textContent : "", this: msgs("li.this")[0] || "",
				before: msgs("li.before"), after: msgs("li.after") }; })()`, &around)
		return around.This != ""
	})
	var seq int
	fmt.Sscanf(around.Hit[strings.Index(around.Hit, "seq=")+4:], "%d", &seq)
	if around.This != around.Hit || len(around.Before) != min(10, seq) || len(around.After) != min(9, fx.n-1-seq) {
		t.Errorf("around seq=%d (%q): this %q, %d before, %d after", seq, around.Hit, around.This, len(around.Before), len(around.After))
	}
	for k, m := range around.Before {
		if want := fmt.Sprintf("seq=%d ", seq-len(around.Before)+k); !strings.Contains(m+" ", want) {
			t.Errorf("before[%d] = %q, want %s", k, m, want)
		}
	}
	for k, m := range around.After {
		if want := fmt.Sprintf("seq=%d ", seq+1+k); !strings.Contains(m+" ", want) {
			t.Errorf("after[%d] = %q, want %s", k, m, want)
		}
	}

	// Live: the same view followed; a disk error written now comes to the
	// top, once.
	searchPage{t, ctx}.followLive(logFile)
	evalJS(`window.cspViolations`, &blocked)
	if len(blocked) > 0 {
		t.Errorf("the CSP blocked %q", blocked)
	}

	if out := os.Getenv("BRUN_CONSOLE_SEARCH_SCREENSHOT"); out != "" {
		step(t, ctx, "open the whole range, 12 a page", chromedp.Evaluate[chromedp.Void](`location.hash = "#search?`+rangeQuery+`&size=12"`))
		shown("the whole range", `document.querySelectorAll("#search-results li.hit").length === 12`)
		step(t, ctx, "expand an error", chromedp.Click(chromedp.CSS(`#search-results li.hit[data-level="error"] button.hit-head`)))
		saveScreenshot(t, ctx, out)
	}
}
