package console

import (
	"net/url"
	"strings"
	"time"
)

// kibanaDataView is the id of the data view doc/kibana/brun-data-views.ndjson
// creates: Discover links open on it.
const kibanaDataView = "brun-logs"

// discoverURL is the Kibana Discover address (base: console.kibana.url)
// showing what req shows: its range, and its query and filters as one
// Lucene query; with id, only that event (its _id). "" without base.
func discoverURL(base string, req searchRequest, id string) string {
	if base == "" {
		return ""
	}
	var terms []string
	if req.query != "" {
		terms = append(terms, "("+req.query+")")
	}
	for _, f := range facetFields {
		if values := req.filters[f.field]; len(values) > 0 {
			quoted := make([]string, len(values))
			for i, v := range values {
				quoted[i] = luceneQuote(v)
			}
			terms = append(terms, f.field+":("+strings.Join(quoted, " OR ")+")")
		}
	}
	if id != "" {
		terms = append(terms, "_id:"+luceneQuote(id))
	}
	g := "(time:(from:" + risonString(req.from.UTC().Format(time.RFC3339Nano)) + ",to:" + risonString(req.to.UTC().Format(time.RFC3339Nano)) + "))"
	a := "(dataSource:(dataViewId:" + risonString(kibanaDataView) + ",type:dataView),query:(language:lucene,query:" + risonString(strings.Join(terms, " AND ")) + "))"
	return base + "/app/discover#/?_g=" + url.PathEscape(g) + "&_a=" + url.PathEscape(a)
}

// luceneQuote writes s as a Lucene phrase.
func luceneQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// risonString writes s as a Rison string, the notation of Kibana's URL
// state: quoted, with ' and ! escaped by !.
func risonString(s string) string {
	return "'" + strings.NewReplacer("!", "!!", "'", "!'").Replace(s) + "'"
}
