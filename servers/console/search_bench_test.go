package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/base/testkit"
	"brun/servers/filestore"
)

// The search page's first request, over a million events in a 24-hour
// range: the first page and the histogram by level with facets. Loading
// the events takes minutes, so the benchmarks run only when asked:
//
//	BRUN_INTEGRATION=1 BRUN_BENCH_SEARCH=1 go test -run '^$' -bench SearchMillion -benchtime 10x -count 3 ./servers/console/
//
// The local files' one needs no server (BRUN_INTEGRATION unset, or
// -bench SearchMillionLocal).
//
// The Elasticsearch one keeps its index (bench-search-1m-2026.12.03,
// alias bench-search-1m) for the next run; DELETE it to start afresh.
const benchEvents = 1_000_000

var benchDay = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

// benchDoc is event i of the day: spread over 24 hours, 5 agents, levels
// as a busy service writes them.
func benchDoc(topic string, i int) []byte {
	levels := []string{"info", "info", "info", "info", "info", "info", "debug", "warn", "info", "error"}
	at := benchDay.Add(time.Duration(i) * (24 * time.Hour / benchEvents))
	return []byte(fmt.Sprintf(`{"@timestamp":%q,"message":"GET /api/orders/%d 200 %d ms user=u%d","agent":{"id":"10.0.0.%d"},"log":{"level":%q,"file":{"path":"/var/log/app/access.log"},"offset":%d},"event":{"id":"b-%07d","dataset":%q}}`,
		at.Format("2006-01-02T15:04:05.000Z"), i%5000, i%300, i%977, i%5, levels[i%len(levels)], int64(i)*120, i, topic))
}

func benchSearch(b *testing.B, h http.Handler, token string, v url.Values, exact bool) SearchAnswer {
	b.Helper()
	req := httptest.NewRequest("GET", "http://127.0.0.1:8080/api/search?"+v.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("search: %d %s", rec.Code, rec.Body.String())
	}
	var a SearchAnswer
	json.Unmarshal(rec.Body.Bytes(), &a)
	if exact && v.Get("q") == "" && v.Get("level") == "" && a.Total != benchEvents {
		b.Fatalf("total %d (exact %v), want %d; warnings %v", a.Total, a.TotalExact, benchEvents, a.Warnings)
	}
	return a
}

// benchCases runs the searches; exact: the total must be every event.
// Each reports the events it counted (events/op), which local mode's
// byte bound keeps below the million for a word search.
func benchCases(b *testing.B, h http.Handler, token string, exact bool) {
	day := url.Values{"from": {"2026-12-03T00:00:00Z"}, "to": {"2026-12-04T00:00:00Z"}}
	for _, c := range []struct {
		name  string
		extra url.Values
	}{
		{"All", nil},
		{"Errors", url.Values{"level": {"error"}}},
		{"Word", url.Values{"q": {"u42"}}},
	} {
		v := url.Values{}
		for k, x := range day {
			v[k] = x
		}
		for k, x := range c.extra {
			v[k] = x
		}
		b.Run(c.name, func(b *testing.B) {
			var a SearchAnswer
			for b.Loop() {
				a = benchSearch(b, h, token, v, exact)
			}
			b.ReportMetric(float64(a.Total), "events/op")
		})
	}
}

func BenchmarkSearchMillionElasticsearch(b *testing.B) {
	testkit.Integration(b)
	if os.Getenv("BRUN_BENCH_SEARCH") == "" {
		b.Skip("set BRUN_BENCH_SEARCH=1: it loads a million events into Elasticsearch")
	}
	const topic = "bench-search-1m"
	index := topic + "-2026.12.03"
	var have struct {
		Count int `json:"count"`
	}
	status, _ := httpGet(testkit.ESURL + "/" + index + "/_count")
	if status == 200 {
		testkit.ES(b, "GET", "/"+index+"/_count", "", &have)
	}
	if have.Count != benchEvents {
		testkit.ES(b, "DELETE", "/"+index+"?ignore_unavailable=true", "", nil)
		testkit.ES(b, "PUT", "/_index_template/brun-"+topic, fmt.Sprintf(`{"index_patterns":[%q],"priority":600,
			"_meta":{"managed_by":"brun","topic":%q},
			"template":{"aliases":{%q:{}},"settings":{"number_of_replicas":0,"refresh_interval":"-1"},"mappings":{"properties":{
				"@timestamp":{"type":"date"},"message":{"type":"text"},
				"agent":{"properties":{"id":{"type":"keyword"}}},"event":{"properties":{"id":{"type":"keyword"},"dataset":{"type":"keyword"}}},
				"log":{"properties":{"level":{"type":"keyword"},"offset":{"type":"long"},"file":{"properties":{"path":{"type":"keyword"}}}}}}}}}`, topic+"-*.*.*", topic, topic), nil)
		start := time.Now()
		var bulk strings.Builder
		for i := 0; i < benchEvents; i++ {
			fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":"b-%07d"}}`+"\n%s\n", index, i, benchDoc(topic, i))
			if (i+1)%20000 == 0 {
				var res struct {
					Errors bool `json:"errors"`
				}
				testkit.ES(b, "POST", "/_bulk", bulk.String(), &res)
				if res.Errors {
					b.Fatal("_bulk had errors")
				}
				bulk.Reset()
			}
		}
		testkit.ES(b, "PUT", "/"+index+"/_settings", `{"index":{"refresh_interval":"1s"}}`, nil)
		testkit.ES(b, "POST", "/"+index+"/_refresh", "", nil)
		testkit.ES(b, "POST", "/"+index+"/_forcemerge?max_num_segments=1", "", nil)
		b.Logf("loaded %d events in %v", benchEvents, time.Since(start).Round(time.Second))
	}
	cfg := config.Default()
	cfg.ES.Endpoints = []string{testkit.ESURL}
	cfg.Console.Token = "tok-0123456789abcdefghijkl"
	s := New(&cfg, nil, cfg.Console.Token)
	b.ResetTimer()
	benchCases(b, s.Handler(), cfg.Console.Token, true)
}

func BenchmarkSearchMillionLocal(b *testing.B) {
	if os.Getenv("BRUN_BENCH_SEARCH") == "" {
		b.Skip("set BRUN_BENCH_SEARCH=1: it writes a million events to local files")
	}
	cfg := config.Default()
	cfg.Brun.DataDir = b.TempDir()
	cfg.ES.Endpoints = nil
	cfg.Console.Token = "tok-0123456789abcdefghijkl"
	written := benchDay.Add(25 * time.Hour)
	store, err := filestore.Open(cfg.LocalESDir(), 7*24*time.Hour, written, logrus.NewEntry(logrus.New()))
	if err != nil {
		b.Fatal(err)
	}
	const topic = "bench"
	docs := make([]filestore.Doc, 0, 10000)
	for i := 0; i < benchEvents; i++ {
		docs = append(docs, filestore.Doc{Index: topic + "-2026.12.03", ID: fmt.Sprintf("b-%07d", i), Source: benchDoc(topic, i)})
		if len(docs) == cap(docs) {
			if _, err := store.Write(docs, written); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	store.Close()
	var data, index int64
	filepath.WalkDir(cfg.LocalESDir(), func(path string, d os.DirEntry, err error) error {
		if info, err := d.Info(); err == nil && !d.IsDir() {
			if strings.HasSuffix(path, filestore.IndexExt) {
				index += info.Size()
			} else {
				data += info.Size()
			}
		}
		return nil
	})
	b.Logf("%d MiB of documents, their index %d KiB", data>>20, index>>10)
	s := New(&cfg, nil, cfg.Console.Token)
	b.ResetTimer()
	benchCases(b, s.Handler(), cfg.Console.Token, true)
}
