package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/base/esx"
	"brun/base/retry"
	"brun/servers/indexname"
)

// Template names and priorities. Each topic has its own template,
// "brun-<topic>", whose pattern names exactly that topic's indices
// (indexname.TopicWildcard), so an index someone else creates, such as
// logstash-2026.12.03, gets none of brun's settings. Priorities are above
// the 100 of Elasticsearch's built-in logs-*-* and metrics-*-* templates,
// so "logs-app-2026.01.02" is a plain index and not a data stream. A
// topic's priority grows with its length: "app-*.*.*" also matches the
// indices of topic "app-x", whose own template must win, and Elasticsearch
// refuses two overlapping templates of one priority. (Two topics of one
// length never overlap: their patterns start, or end, with different
// fixed text.) The dead-letter template outranks them all.
const (
	templatePrefix         = esx.TemplatePrefix
	templatePriority       = 500 // plus the topic's length
	deadLetterTemplateName = "brun-deadletter"
	deadLetterPriority     = 1000 // above 500 + the longest topic, 249
	// legacyTemplateName is the one template, of pattern "*-*.*.*", that
	// earlier versions installed for every topic; it caught unrelated
	// daily indices and is deleted at start.
	legacyTemplateName = "brun"
)

// setupES waits until Elasticsearch answers _cluster/health with yellow
// or green (GET / is not used: some distributions refuse it), then
// installs the dead-letter template and removes the legacy one. Each
// topic's template is installed before its first document is written
// (templates.ensure). It retries, with backoff, until that works or ctx
// ends; it returns ctx's error only.
//
// Where the cluster has ILM and es.retention is set, it also installs the
// ILM policy the topic templates then attach (ilm.go).
func setupES(ctx context.Context, es *elasticsearch.Client, c config.ES, tmpl *templates, log *logrus.Entry) error {
	ilm := false
	err := retry.Do(ctx, retry.Backoff{Min: 500 * time.Millisecond, Max: maxBackoff}, func() error {
		if err := ready(ctx, es); err != nil {
			return err
		}
		if err := putTemplate(ctx, es, deadLetterTemplateName, deadLetterTemplate(c)); err != nil {
			return err
		}
		if err := deleteLegacyTemplate(ctx, es); err != nil {
			return err
		}
		var err error
		ilm, err = setupILM(ctx, es, c)
		return err
	}, func(err error, _ int) { log.Warnf("es.endpoints: elasticsearch not ready, retrying: %v", err) })
	if err == nil {
		tmpl.setILM(ilm)
		if ilm {
			log.Infof("elasticsearch ready; its ILM deletes brun's indices es.retention (%v) after their creation (policy %s)", c.Retention, ilmPolicy)
		} else {
			log.Info("elasticsearch ready")
		}
	}
	return err
}

// deleteLegacyTemplate deletes the template earlier versions installed
// for every topic, if it is there and brun's.
func deleteLegacyTemplate(ctx context.Context, es *elasticsearch.Client) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := esx.Do(rctx, es, "GET", "/_index_template/"+legacyTemplateName, nil)
	if err != nil {
		return fmt.Errorf("index template %s: %w", legacyTemplateName, err)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if res.StatusCode == 404 || !strings.Contains(string(body), `"managed_by":"brun"`) {
		return nil
	}
	res, err = esx.Do(rctx, es, "DELETE", "/_index_template/"+legacyTemplateName, nil)
	if err != nil {
		return fmt.Errorf("delete index template %s: %w", legacyTemplateName, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 && res.StatusCode != 404 {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return fmt.Errorf("delete index template %s: %s: %.500s", legacyTemplateName, res.Status, body)
	}
	return nil
}

// templates installs each topic's index template once, before the
// topic's first document is written. Every writer shares one.
type templates struct {
	es      *elasticsearch.Client
	cfg     config.ES
	pattern *indexname.Pattern
	log     *logrus.Entry

	mu        sync.Mutex
	installed map[string]bool // lower-cased topic → its template is in Elasticsearch
	ilm       bool            // attach ilmPolicy (set once, before the writers start)
}

func (t *templates) setILM(on bool) {
	t.mu.Lock()
	t.ilm = on
	t.mu.Unlock()
}

func newTemplates(es *elasticsearch.Client, c config.ES, pattern *indexname.Pattern, log *logrus.Entry) *templates {
	return &templates{es: es, cfg: c, pattern: pattern, log: log, installed: map[string]bool{}}
}

// ensure installs the template of each topic of batch that has none yet.
// An error means a template could not be installed: the batch is not
// sent (its index would be created without brun's mappings), and is
// retried.
func (t *templates) ensure(ctx context.Context, batch []*document) error {
	var last *partition // a batch is mostly runs of one partition's documents
	for _, d := range batch {
		if d.deadLetter || d.part == last {
			continue
		}
		last = d.part
		topic := strings.ToLower(d.part.topic)
		t.mu.Lock()
		done := t.installed[topic]
		t.mu.Unlock()
		if done {
			continue
		}
		t.mu.Lock()
		ilm := t.ilm
		t.mu.Unlock()
		if err := putTemplate(ctx, t.es, templatePrefix+topic, topicTemplate(t.cfg, t.pattern, topic, ilm)); err != nil {
			return err
		}
		t.mu.Lock()
		t.installed[topic] = true
		t.mu.Unlock()
		t.log.WithField("topic", topic).Infof("index template %s%s installed for %s", templatePrefix, topic, t.pattern.TopicWildcard(topic))
	}
	return nil
}

// topics returns the topics whose templates are installed.
func (t *templates) topics() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.installed))
	for topic := range t.installed {
		out = append(out, topic)
	}
	sort.Strings(out)
	return out
}

func ready(ctx context.Context, es *elasticsearch.Client) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := es.Cluster.Health(es.Cluster.Health.WithContext(rctx),
		es.Cluster.Health.WithWaitForStatus("yellow"), es.Cluster.Health.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("_cluster/health: %w", err)
	}
	return check("_cluster/health", res)
}

func putTemplate(ctx context.Context, es *elasticsearch.Client, name string, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := es.Indices.PutIndexTemplate(name, strings.NewReader(string(body)), es.Indices.PutIndexTemplate.WithContext(rctx))
	if err != nil {
		return fmt.Errorf("index template %s: %w", name, err)
	}
	return check("index template "+name, res)
}

// check closes res and turns a non-2xx answer into an error naming what.
func check(what string, res *esapi.Response) error {
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.IsError() {
		return fmt.Errorf("%s: %s: %.500s", what, res.Status(), body)
	}
	return nil
}

// settings are the index settings of both templates, from [es].
func settings(c config.ES, shards int) map[string]any {
	return map[string]any{
		"number_of_shards":   shards,
		"number_of_replicas": c.Replicas,
		"refresh_interval":   c.Refresh,
	}
}

type props = map[string]any

func field(typ string) props { return props{"type": typ} }

func object(fields props) props { return props{"properties": fields} }

// topicTemplate is the composable index template of one topic's indices:
// their exact pattern, an alias named after the topic (so that
// "GET /app/_search" searches every day of topic app), and ECS
// types for the fields the agent writes (host.ip an ip, the rest of its
// ECS fields keywords) and the transfer adds; any other
// string field (a job's parsed "json" fields among them) becomes a
// keyword, as ECS does, rather than text plus keyword.
//
// With ilm, the indices get ilmPolicy as their lifecycle.
func topicTemplate(c config.ES, pattern *indexname.Pattern, topic string, ilm bool) []byte {
	unindexed := props{"type": "keyword", "index": false, "doc_values": false}
	st := settings(c, c.Shards)
	if ilm {
		st["index.lifecycle.name"] = ilmPolicy
	}
	body := props{
		"settings": st,
		"mappings": props{
			"dynamic_templates": []props{{"strings_as_keyword": props{
				"match_mapping_type": "string",
				"mapping":            props{"type": "keyword", "ignore_above": 1024},
			}}},
			"properties": props{
				"@timestamp": field("date"),
				"message":    field("text"),
				"host": object(props{
					"name":     field("keyword"),
					"hostname": field("keyword"),
					"ip":       field("ip"),
				}),
				"agent": object(props{
					"id":      field("keyword"),
					"type":    field("keyword"),
					"name":    field("keyword"),
					"version": field("keyword"),
				}),
				"ecs":   object(props{"version": field("keyword")}),
				"input": object(props{"type": field("keyword")}),
				"log": object(props{
					"file":   object(props{"path": field("keyword")}),
					"level":  field("keyword"),
					"offset": field("long"),
					"flags":  field("keyword"),
				}),
				"event": object(props{
					"id":       field("keyword"),
					"created":  field("date"),
					"dataset":  field("keyword"),
					"timezone": field("keyword"),
					"original": unindexed,
				}),
			},
		},
	}
	if alias, ok := indexname.Alias(topic); pattern.HasDate() && ok {
		// Without a date the index is named as the topic: no alias then.
		body["aliases"] = props{alias: props{}}
	}
	t := props{
		"index_patterns": []string{pattern.TopicWildcard(topic)},
		"priority":       templatePriority + len(topic),
		"_meta":          props{"managed_by": "brun", "es.index": pattern.String(), "topic": topic},
		"template":       body,
	}
	b, _ := json.Marshal(t)
	return b
}

// deadLetterTemplate maps the dead-letter documents (see toDeadLetter).
func deadLetterTemplate(c config.ES) []byte {
	t := props{
		"index_patterns": []string{"deadletter-*"},
		"priority":       deadLetterPriority,
		"_meta":          props{"managed_by": "brun"},
		"template": props{
			"settings": settings(c, 1),
			"mappings": props{
				"dynamic": false,
				"properties": props{
					"@timestamp": field("date"),
					"message":    field("text"),
					"event":      object(props{"original": props{"type": "keyword", "index": false, "doc_values": false}}),
					"error":      object(props{"type": field("keyword"), "message": field("text")}),
					"kafka":      object(props{"topic": field("keyword"), "partition": field("integer"), "offset": field("long")}),
					"brun":       object(props{"index": field("keyword"), "original_bytes": field("long")}),
				},
			},
		},
	}
	b, _ := json.Marshal(t)
	return b
}
