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
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"brun/base/testkit"
)

// searchPage drives the Search view in a browser.
type searchPage struct {
	t   *testing.T
	ctx context.Context
}

// eval evaluates a JavaScript expression into v's type.
func (p searchPage) eval(expr string, v any) {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		p.t.Fatalf("evaluate %s: %s: %v", expr, raw, err)
	}
}

// shown waits until the view the address names is on the page (the
// search answered) and cond holds.
func (p searchPage) shown(what, cond string) {
	p.t.Helper()
	testkit.WaitFor(p.t, 60*time.Second, what, func() bool {
		var ok bool
		p.eval(`(() => { const v = document.getElementById("search-view");
			return !v.hidden && v.dataset.state === "done" && v.dataset.shown === location.hash && !!(`+cond+`); })()`, &ok)
		return ok
	})
}

// until waits until the JavaScript condition cond holds.
func (p searchPage) until(what, cond string) {
	p.t.Helper()
	testkit.WaitFor(p.t, 60*time.Second, what, func() bool {
		var ok bool
		p.eval(`!!(`+cond+`)`, &ok)
		return ok
	})
}

// searchView is what the Search view shows.
type searchView struct {
	Hash, Total, Error string
	Count, BarSum      int
	PartSum            int
	Times, Levels      []string
	Msgs               []string
	Live               []bool
	Older              bool
	Facets             map[string]string
	LiveState          string
	Polls, Waiting     int
	LiveBox            bool
}

func (p searchPage) read() searchView {
	p.t.Helper()
	var v searchView
	p.eval(`(() => {
		const all = (s) => [...document.querySelectorAll(s)];
		const sum = (s) => all(s).reduce((n, e) => n + Number(e.dataset.count), 0);
		const facets = {};
		for (const b of all(".facet[data-facet=level] button.facet-value")) facets[b.dataset.value] = b.dataset.count + (b.classList.contains("on") ? " on" : "");
		const badge = document.getElementById("search-live-state"), paused = document.getElementById("search-live-paused");
		return { hash: location.hash, total: document.getElementById("search-total").textContent,
			count: Number(document.getElementById("search-total").dataset.count),
			error: document.getElementById("search-error").textContent,
			barSum: sum("svg.histogram g.bar"), partSum: sum("svg.histogram rect.part"),
			times: all("#search-results li.hit .time").map((e) => e.textContent),
			levels: all("#search-results li.hit").map((e) => e.dataset.level),
			msgs: all("#search-results li.hit .msg").map((e) => e.textContent),
			live: all("#search-results li.hit").map((e) => e.classList.contains("live")),
			older: !document.getElementById("search-older").hidden, facets,
			liveState: badge.hidden ? "" : badge.dataset.state, polls: Number(badge.dataset.polls || 0),
			waiting: paused.hidden ? -1 : Number(paused.dataset.new), liveBox: document.getElementById("search-live").checked };
	})()`, &v)
	return v
}

// loadAll clicks Load older until the button goes (at most 30 pages).
func (p searchPage) loadAll(what string) searchView {
	p.t.Helper()
	v := p.read()
	for i := 0; v.Older && i < 30; i++ {
		n := len(v.Times)
		step(p.t, p.ctx, "load older "+what, chromedp.Click(chromedp.ID("search-older")))
		p.shown("more "+what, fmt.Sprintf(`document.querySelectorAll("#search-results li.hit").length > %d || document.getElementById("search-older").hidden`, n))
		v = p.read()
	}
	return v
}

// countOf is how many results hold s.
func (v searchView) countOf(s string) int {
	n := 0
	for _, m := range v.Msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// liveLine appends a line (its time now) to the log file and returns its
// message, unique to the test.
func liveLine(t *testing.T, logFile, level, what string) string {
	t.Helper()
	msg := fmt.Sprintf("%s %s", what, testkit.Unique("live"))
	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s [worker-9] %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), strings.ToUpper(level), msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

// followLive turns Live on in the view the page shows, writes a line
// into logFile and waits for it at the top of the results, marked live;
// after two more polls (each window overlaps the last) it is there once.
func (p searchPage) followLive(logFile string) {
	p.t.Helper()
	step(p.t, p.ctx, "tick Live", chromedp.Click(chromedp.ID("search-live")))
	p.shown("the view followed", `location.hash.includes("live=1") && document.getElementById("search-live-state").dataset.state === "following"`)
	msg := liveLine(p.t, logFile, "error", "disk full (live tail)")
	testkit.WaitFor(p.t, 90*time.Second, "the line written at the top of the results", func() bool {
		v := p.read()
		return len(v.Msgs) > 0 && strings.Contains(v.Msgs[0], msg)
	})
	polls := p.read().Polls
	p.until("two more polls", fmt.Sprintf(`Number(document.getElementById("search-live-state").dataset.polls) >= %d`, polls+2))
	if v := p.read(); v.countOf(msg) != 1 || !v.Live[0] || v.Levels[0] != "error" || v.LiveState != "following" || !v.LiveBox {
		p.t.Errorf("live: %q shown %d times (want once), first result live %v level %q; state %q, box %v", msg, v.countOf(msg), v.Live[0], v.Levels[0], v.LiveState, v.LiveBox)
	}
}

// TestBrowserSearchElasticsearch drives the Search view of a brun that
// runs the agent, the transfer and the console against the real etcd,
// Kafka and Elasticsearch, in headless Chromium: a link with the view in
// its hash shows the total, a histogram whose bars and levels sum to it
// and the level facet's counts; a word and an Elasticsearch query_string
// (log.level:error AND message:disk) narrow it; the error facet filters;
// Load older pages to the end; dragging on the histogram zooms; the lines
// around an event come from its file; Live brings a line written during
// the test to the top once, pauses when scrolled away ("paused, 1 new")
// and resumes; a reload of the address shows the same view, following.
func TestBrowserSearchElasticsearch(t *testing.T) {
	testkit.Integration(t)
	dir := t.TempDir()
	run := testkit.Unique("btail")
	prefix, agentID, topic, token := "/"+run+"/", "a-"+run, run, "tok-"+run
	listen := testkit.FreeAddr(t)
	ini := writeFile(t, dir, "brun.ini", fmt.Sprintf(`
[brun]
roles = agent,transfer,console
data.dir = %s/data
metrics.listen = %s
[agent]
id = %s
[etcd]
endpoints = %s
prefix = %s
[kafka]
endpoints = %s
[es]
endpoints = %s
retention =
flush.interval = 200ms
[transfer]
group = %s
[console]
listen = %s
token = %s
[demo]
path =
[log]
dir =
`, dir, testkit.FreeAddr(t), agentID, testkit.EtcdAddr, prefix, testkit.KafkaAddr, testkit.ESURL, run, listen, token))
	t.Cleanup(func() {
		testkit.Etcdctl(t, "del", "--prefix", prefix)
		// Elasticsearch deletes indices by exact name only.
		var indices []struct {
			Index string `json:"index"`
		}
		testkit.ES(t, "GET", "/_cat/indices/"+topic+"-*?format=json&h=index", "", &indices)
		for _, ix := range indices {
			testkit.ES(t, "DELETE", "/"+ix.Index, "", nil)
		}
		testkit.ES(t, "DELETE", "/_index_template/brun-"+topic, "", nil)
	})
	testkit.StartBrun(t, ini)
	base := "http://" + listen
	testkit.WaitFor(t, 60*time.Second, "the console's /healthz", func() bool { code, _ := httpGet(base + "/healthz"); return code == 200 })

	fx := searchFixture{base: time.Now().UTC().Truncate(time.Minute).Add(-90 * time.Minute), n: 120}
	last := fx.n - 1
	from, to := fx.base, fx.base.Add(30*time.Minute)
	logFile := writeFile(t, dir, "app.log", fx.file())
	apiCall := func(method, path, body string) (int, []byte) { return consoleCall(t, base, token, method, path, body) }
	if code, body := apiCall("PUT", "/api/agents/"+agentID+"/jobs/app", fmt.Sprintf(`{"path":%q,"topic":%q,"start":"beginning"}`, logFile, topic)); code/100 != 2 {
		t.Fatalf("PUT the job: %d %s", code, body)
	}
	rangeQuery := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "topic": {topic}}.Encode()
	testkit.WaitFor(t, 120*time.Second, "the lines in Elasticsearch", func() bool {
		code, body := apiCall("GET", "/api/search?size=1&"+rangeQuery, "")
		var a SearchAnswer
		return code == 200 && json.Unmarshal(body, &a) == nil && a.Total == int64(fx.n)
	})

	ctx := newBrowser(t)
	p := searchPage{t, ctx}
	step(t, ctx, "log in",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `window.cspViolations = []; document.addEventListener("securitypolicyviolation",
					(e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber));`,
			})
			return err
		}),
		chromedp.Navigate(base+"/login?token="+token),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`article[data-agent=%q]`, agentID))),
		chromedp.Navigate("about:blank"),
	)
	utc := func(i int) string { return fx.at(i).UTC().Format("2006-01-02 15:04:05.000") + "Z" }

	// The link: the fixture's half hour of this test's topic, in UTC,
	// five results a page.
	step(t, ctx, "open the search link", chromedp.Navigate(base+"/#search?"+rangeQuery+"&size=5&utc=1"))
	p.shown("the first page", `document.querySelectorAll("#search-results li.hit").length === 5`)
	v := p.read()
	if v.Total != fmt.Sprintf("%d events", fx.n) || v.Count != fx.n || v.BarSum != fx.n || v.PartSum != fx.n {
		t.Errorf("total %q (data-count %d), histogram bars sum to %d, their levels to %d; want %d each", v.Total, v.Count, v.BarSum, v.PartSum, fx.n)
	}
	if want := []string{utc(last), utc(last - 1), utc(last - 2), utc(last - 3), utc(last - 4)}; strings.Join(v.Times, ",") != strings.Join(want, ",") {
		t.Errorf("first page times %q, want the newest five %q", v.Times, want)
	}
	for _, level := range []string{"error", "warn", "info", "debug"} {
		if got, want := v.Facets[level], fmt.Sprint(fx.count(from, to, func(i int) bool { return fx.level(i) == level })); got != want {
			t.Errorf("level facet %s: %q, want %q (facets %v)", level, got, want, v.Facets)
		}
	}

	// Load older pages to the end: every line once, newest first.
	v = p.loadAll("of the whole range")
	if len(v.Times) != fx.n || v.Older {
		t.Errorf("after Load older to the end: %d results, button %v; want %d and no button", len(v.Times), v.Older, fx.n)
	} else {
		for i, tm := range v.Times {
			if tm != utc(last-i) {
				t.Errorf("result %d at %s, want %s", i, tm, utc(last-i))
				break
			}
		}
	}

	// A word, then Elasticsearch's query_string with fields.
	isDisk := func(i int) bool { return strings.Contains(fx.message(i), "disk") }
	isDiskError := func(i int) bool { return isDisk(i) && fx.level(i) == "error" }
	for _, c := range []struct {
		q    string
		keep func(int) bool
	}{
		{"disk", isDisk},
		{"log.level:error AND message:disk", isDiskError},
		{`"request handled" AND NOT log.level:info`, func(i int) bool { return !isDisk(i) && fx.level(i) != "info" }},
	} {
		step(t, ctx, "search "+c.q, chromedp.SetValue(chromedp.ID("search-q"), c.q), chromedp.Click(chromedp.ID("search-submit")))
		p.shown("the answer to "+c.q, `document.getElementById("search-q").value === `+fmt.Sprintf("%q", c.q)+` && location.hash.includes("q=")`)
		want := fx.count(from, to, c.keep)
		if v = p.loadAll(c.q); v.Count != want || v.BarSum != want || len(v.Msgs) != want {
			t.Errorf("q=%s: total %d, bars %d, %d results; want %d", c.q, v.Count, v.BarSum, len(v.Msgs), want)
		}
	}

	// The error facet filters (with the query cleared).
	step(t, ctx, "clear the query", chromedp.Evaluate[chromedp.Void](`document.getElementById("search-q").value = ""`), chromedp.Click(chromedp.ID("search-submit")))
	p.shown("every line again", fmt.Sprintf(`document.getElementById("search-total").dataset.count === "%d"`, fx.n))
	nErr := fx.count(from, to, func(i int) bool { return fx.level(i) == "error" })
	step(t, ctx, "click the level facet error", chromedp.Click(chromedp.CSS(`.facet[data-facet=level] button[data-value="error"]`)))
	p.shown("errors only", `location.hash.includes("level=error")`)
	v = p.loadAll("errors")
	if v.Count != nErr || v.BarSum != nErr || len(v.Levels) != nErr || v.Facets["error"] != fmt.Sprint(nErr)+" on" {
		t.Errorf("filtered to errors: total %d, bars %d, %d results, facet %q; want %d and the facet on", v.Count, v.BarSum, len(v.Levels), v.Facets["error"], nErr)
	}
	for i, l := range v.Levels {
		if l != "error" {
			t.Errorf("filtered to errors, result %d is %q", i, l)
		}
	}
	step(t, ctx, "back to every level", chromedp.Evaluate[chromedp.Void](`history.back()`))
	p.shown("every level again", fmt.Sprintf(`document.getElementById("search-total").dataset.count === "%d"`, fx.n))

	// Dragging across the middle half of the histogram searches that span.
	var box struct{ X, Y, W, H float64 }
	p.eval(`(() => { const r = document.querySelector("svg.histogram").getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })()`, &box)
	y := box.Y + box.H/2
	step(t, ctx, "drag across the histogram",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box.X+box.W/4, y),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, box.X+box.W/4, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box.X+box.W/2, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box.X+box.W*3/4, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, box.X+box.W*3/4, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	p.shown("the zoomed range", `!location.hash.includes("from=`+url.QueryEscape(from.Format(time.RFC3339))+`")`)
	v = p.read()
	zoom, _ := url.ParseQuery(strings.TrimPrefix(v.Hash, "#search?"))
	zFrom, err1 := time.Parse(time.RFC3339, zoom.Get("from"))
	zTo, err2 := time.Parse(time.RFC3339, zoom.Get("to"))
	if err1 != nil || err2 != nil || zFrom.Sub(from) < 6*time.Minute || zFrom.Sub(from) > 9*time.Minute ||
		to.Sub(zTo) < 6*time.Minute || to.Sub(zTo) > 9*time.Minute {
		t.Errorf("dragging from a quarter to three quarters of %s..%s searched %q", from, to, v.Hash)
	} else if want := fx.count(zFrom, zTo, nil); v.Count != want || v.BarSum != want {
		t.Errorf("zoomed to %s..%s: total %d, bars %d; want %d", zFrom, zTo, v.Count, v.BarSum, want)
	}

	// The lines around the newest event of the zoomed range, in its file.
	step(t, ctx, "expand the newest event", chromedp.Click(chromedp.CSS(`#search-results li.hit button.hit-head`)))
	step(t, ctx, "show its surrounding lines", chromedp.Click(chromedp.CSS(`#search-results li.hit.open .surrounding-button`)))
	var around struct {
		Hit    string   `json:"hit"`
		This   string   `json:"this"`
		Before []string `json:"before"`
		After  []string `json:"after"`
	}
	testkit.WaitFor(t, 30*time.Second, "the surrounding lines", func() bool {
		p.eval(`(() => { const li = document.querySelector("#search-results li.hit.open");
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

	// Live on a zoomed (custom) range follows the last 15 minutes: a line
	// written now comes to the top, once.
	p.followLive(logFile)
	if v = p.read(); !strings.Contains(v.Hash, "range=15m") || strings.Contains(v.Hash, "from=") {
		t.Errorf("Live on a custom range: %q, want the last 15 minutes", v.Hash)
	}

	// The last 24 hours, 50 a page, live: scrolled down it pauses; a line
	// written then waits behind "paused, 1 new" until Resume.
	step(t, ctx, "open the last 24 hours, live", chromedp.Evaluate[chromedp.Void](`location.hash = "#search?range=24h&topic=`+topic+`&size=50&live=1&utc=1"`))
	p.shown("the last 24 hours, followed", `document.querySelectorAll("#search-results li.hit").length === 50 && document.getElementById("search-live-state").dataset.state === "following"`)
	step(t, ctx, "scroll to the bottom", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.body.scrollHeight)`))
	p.until("paused", `document.getElementById("search-live-state").dataset.state === "paused" && !document.getElementById("search-live-paused").hidden`)
	paused := liveLine(t, logFile, "warn", "line while paused")
	p.until("paused, 1 new", `document.getElementById("search-live-paused").dataset.new === "1"`)
	if v = p.read(); v.countOf(paused) != 0 || !strings.Contains(text(t, ctx, "#search-live-paused"), "Paused, 1 new") || len(v.Msgs) != 50 {
		t.Errorf("paused: the line is shown %d times (want 0), %d results, the button says %q", v.countOf(paused), len(v.Msgs), text(t, ctx, "#search-live-paused"))
	}
	step(t, ctx, "resume", chromedp.Click(chromedp.ID("search-live-paused")))
	p.until("following again", `document.getElementById("search-live-state").dataset.state === "following" && document.getElementById("search-live-paused").hidden`)
	var top float64
	p.eval(`document.getElementById("search-results").getBoundingClientRect().top`, &top)
	if v = p.read(); len(v.Msgs) != 51 || !strings.Contains(v.Msgs[0], paused) || v.countOf(paused) != 1 || top < 0 {
		t.Errorf("resumed: %d results, first %q (want %q, once), the newest scrolled to %v", len(v.Msgs), v.Msgs[0], paused, top)
	}

	// The address reproduces the view: a reload shows it again, following.
	before := p.read()
	step(t, ctx, "reload", chromedp.Reload())
	p.shown("the view after the reload", `document.getElementById("search-live-state").dataset.state === "following"`)
	v = p.read()
	if v.Hash != before.Hash || !v.LiveBox || v.Count < before.Count || len(v.Msgs) != 50 || !strings.Contains(v.Msgs[0], paused) || v.Times[0] != before.Times[0] {
		t.Errorf("after the reload: %q, box %v, total %d, first %q at %s; before: %q total %d first %q at %s",
			v.Hash, v.LiveBox, v.Count, v.Msgs[0], v.Times[0], before.Hash, before.Count, before.Msgs[0], before.Times[0])
	}
	// Live off: out of the address, nothing followed.
	step(t, ctx, "untick Live", chromedp.Click(chromedp.ID("search-live")))
	p.shown("live off", `!location.hash.includes("live=1")`)
	if v = p.read(); v.LiveState != "" || v.LiveBox {
		t.Errorf("Live off: state %q, box %v", v.LiveState, v.LiveBox)
	}

	var blocked []string
	p.eval(`window.cspViolations`, &blocked)
	if len(blocked) > 0 {
		t.Errorf("the CSP blocked %q", blocked)
	}
	if out := os.Getenv("BRUN_CONSOLE_TAIL_SCREENSHOT"); out != "" {
		step(t, ctx, "open the last 24 hours, live", chromedp.Evaluate[chromedp.Void](`location.hash = "#search?range=24h&topic=`+topic+`&size=12&live=1"`))
		p.shown("the last 24 hours, followed", `document.getElementById("search-live-state").dataset.state === "following"`)
		liveLine(t, logFile, "error", "disk full on /data, written while the view follows")
		p.until("the line followed", `document.querySelector("#search-results li.hit.live")`)
		saveScreenshot(t, ctx, out)
	}
}
