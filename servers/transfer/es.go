package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/base/retry"
	"brun/servers/indexname"
)

// Template names and priorities. Priorities are above the 100 of
// Elasticsearch's built-in logs-*-* and metrics-*-* templates, so an index
// such as "logs-app-2026.01.02" is a plain index and not a data stream;
// the dead-letter template outranks brun's, whose pattern also matches
// deadletter-YYYY.MM.DD.
const (
	templateName           = "brun"
	templatePriority       = 500
	deadLetterTemplateName = "brun-deadletter"
	deadLetterPriority     = 501
)

// setupES waits until Elasticsearch answers _cluster/health with yellow
// or green (GET / is not used: some distributions refuse it), then
// installs brun's index templates. It retries, with backoff, until that
// works or ctx ends; it returns ctx's error only.
func setupES(ctx context.Context, es *elasticsearch.Client, c config.ES, pattern *indexname.Pattern, log *logrus.Entry) error {
	err := retry.Do(ctx, retry.Backoff{Min: 500 * time.Millisecond, Max: maxBackoff}, func() error {
		if err := ready(ctx, es); err != nil {
			return err
		}
		if err := putTemplate(ctx, es, templateName, brunTemplate(c, pattern)); err != nil {
			return err
		}
		return putTemplate(ctx, es, deadLetterTemplateName, deadLetterTemplate(c))
	}, func(err error, _ int) { log.Warnf("es.endpoints: elasticsearch not ready, retrying: %v", err) })
	if err == nil {
		log.WithField("pattern", pattern.Wildcard()).Info("elasticsearch ready; index templates installed")
	}
	return err
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

// brunTemplate is the composable index template of brun's indices: ECS
// types for the fields the agent writes (host.ip an ip, the rest of its
// ECS fields keywords) and the transfer adds; any other
// string field (a job's parsed "json" fields among them) becomes a
// keyword, as ECS does, rather than text plus keyword.
func brunTemplate(c config.ES, pattern *indexname.Pattern) []byte {
	unindexed := props{"type": "keyword", "index": false, "doc_values": false}
	t := props{
		"index_patterns": []string{pattern.Wildcard()},
		"priority":       templatePriority,
		"_meta":          props{"managed_by": "brun", "es.index": pattern.String()},
		"template": props{
			"settings": settings(c, c.Shards),
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
		},
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
