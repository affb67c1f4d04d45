package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/sirupsen/logrus"

	"brun/base/esx"
	"brun/base/retry"
	"brun/servers/indexname"
)

// sweepEvery is how often the transfer looks for indices past
// es.retention.
const sweepEvery = time.Hour

// sweeper deletes the indices of brun's topics whose day is older than
// es.retention. The topics are those of brun's index templates in the
// cluster (every transfer's, not only this one's), and an index is
// deleted only when its name is exactly one es.index makes for one of
// them: by name, never by wildcard, and never an index of another
// topic, however alike, or of anyone else.
//
// It deletes by the day in the index's name rather than by an ILM policy
// counting from the index's creation: a replay of an old day recreates
// that day's index, and ILM would then keep it for a whole retention
// more; it also works on distributions without ILM. Several transfers
// sweeping at once is harmless: a second delete finds nothing.
type sweeper struct {
	es      *elasticsearch.Client
	pattern *indexname.Pattern
	keep    time.Duration
	log     *logrus.Entry
}

// run sweeps once ready is closed, then every sweepEvery, until ctx ends.
func (s *sweeper) run(ctx context.Context, ready <-chan struct{}, now func() time.Time) {
	select {
	case <-ready:
	case <-ctx.Done():
		return
	}
	var quiet retry.Quiet
	for {
		if _, err := s.sweep(ctx, now()); err != nil && ctx.Err() == nil {
			if say, _ := quiet.Failed(err); say {
				s.log.Warnf("es.retention: %v (trying again in %v)", err, sweepEvery)
			}
		} else {
			quiet.Recovered()
		}
		if !retry.Sleep(ctx, sweepEvery) {
			return
		}
	}
}

// sweep deletes every index of brun's topics whose whole day lies more
// than keep before now, and returns their names.
func (s *sweeper) sweep(ctx context.Context, now time.Time) (deleted []string, err error) {
	topics, err := s.topics(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := now.Add(-s.keep)
	for _, topic := range topics {
		names, err := s.indices(ctx, s.pattern.TopicWildcard(topic))
		if err != nil {
			return deleted, err
		}
		for _, name := range names {
			day, ok := s.pattern.Day(topic, name)
			if !ok || day.Add(24*time.Hour).After(cutoff) {
				continue
			}
			if err := s.delete(ctx, name); err != nil {
				return deleted, err
			}
			s.log.WithField("topic", topic).Infof("deleted index %s: its day is older than es.retention (%v)", name, s.keep)
			deleted = append(deleted, name)
		}
	}
	return deleted, nil
}

// topics lists the topics of brun's index templates (their _meta.topic).
func (s *sweeper) topics(ctx context.Context) ([]string, error) {
	var answer esx.Templates
	status, err := s.getJSON(ctx, "/_index_template/"+templatePrefix+"*", &answer)
	if err != nil || status == http.StatusNotFound {
		return nil, err
	}
	return answer.Topics(), nil
}

// indices lists the indices, open or closed, matching expr.
func (s *sweeper) indices(ctx context.Context, expr string) ([]string, error) {
	var answer struct {
		Indices []struct {
			Name string `json:"name"`
		} `json:"indices"`
	}
	if _, err := s.getJSON(ctx, "/_resolve/index/"+url.PathEscape(expr)+"?expand_wildcards=open,closed", &answer); err != nil {
		return nil, err
	}
	names := make([]string, len(answer.Indices))
	for i, ix := range answer.Indices {
		names[i] = ix.Name
	}
	return names, nil
}

func (s *sweeper) delete(ctx context.Context, name string) error {
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	res, err := esx.Do(rctx, s.es, http.MethodDelete, "/"+url.PathEscape(name), nil)
	if err != nil {
		return fmt.Errorf("delete index %s: %w", name, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 != 2 && res.StatusCode != http.StatusNotFound {
		return fmt.Errorf("delete index %s: %s: %.300s", name, res.Status, body)
	}
	return nil
}

// getJSON GETs path and decodes a 2xx answer into out; a 404 is returned
// as its status, with no error.
func (s *sweeper) getJSON(ctx context.Context, path string, out any) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := esx.Do(rctx, s.es, http.MethodGet, path, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	if res.StatusCode == http.StatusNotFound {
		return res.StatusCode, nil
	}
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("GET %s: %s: %.300s", path, res.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return res.StatusCode, fmt.Errorf("GET %s: %w", path, err)
	}
	return res.StatusCode, nil
}
