package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"brun/base/config"
	"brun/base/esx"
)

// ilmPolicy is the index lifecycle policy brun's topic templates attach
// where the cluster has ILM: delete an index es.retention after it was
// created. It backs up the transfer's own sweep (retention.go), which
// deletes by the day in the index's name and also runs where ILM does
// not exist; of the two, the sweep is the one that also catches a day's
// index recreated by a replay.
const ilmPolicy = "brun-retention"

// setupILM installs ilmPolicy when the cluster has ILM and es.retention is
// set; it reports whether the templates should attach it. A cluster
// without ILM (it answers _ilm/status with 404 or 405, as the
// integ-test-zip distribution does) is not an error.
func setupILM(ctx context.Context, es *elasticsearch.Client, c config.ES) (bool, error) {
	if c.Retention <= 0 {
		return false, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := esx.Do(rctx, es, http.MethodGet, "/_ilm/status", nil)
	if err != nil {
		return false, fmt.Errorf("_ilm/status: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed || res.StatusCode == http.StatusBadRequest {
		return false, nil
	}
	if res.StatusCode/100 != 2 {
		return false, fmt.Errorf("_ilm/status: %s", res.Status)
	}
	res, err = esx.Do(rctx, es, http.MethodPut, "/_ilm/policy/"+ilmPolicy, ilmPolicyBody(c.Retention))
	if err != nil {
		return false, fmt.Errorf("ILM policy %s: %w", ilmPolicy, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return false, fmt.Errorf("ILM policy %s: %s: %.300s", ilmPolicy, res.Status, body)
	}
	return true, nil
}

// ilmPolicyBody deletes an index keep after its creation, in whole hours.
func ilmPolicyBody(keep time.Duration) []byte {
	b, _ := json.Marshal(props{"policy": props{
		"_meta": props{"managed_by": "brun", "es.retention": keep.String()},
		"phases": props{
			"hot":    props{"min_age": "0ms", "actions": props{}},
			"delete": props{"min_age": fmt.Sprintf("%dh", int64(keep/time.Hour)), "actions": props{"delete": props{}}},
		},
	}})
	return b
}
