// Package esx makes brun's Elasticsearch client from [es]: the one the
// transfer writes with and the console reads and probes with, so both
// speak to the cluster with the same endpoints, credentials and TLS
// (es.tls.ca, es.tls.cert and es.tls.key, es.tls.insecureSkipVerify).
//
// It does no I/O: a client is only a description until used. Its clients
// never retry on their own; each caller decides (the bulk writers retry
// item by item, with backoff).
package esx

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"brun/base/config"
)

// ResponseTimeout bounds the wait for an answer's headers. A _bulk of
// es.bulk.bytes is answered well within it; a slower answer is a failure
// the caller retries.
const ResponseTimeout = 60 * time.Second

// New returns a client of endpoints (es.endpoints when none are given)
// with es.username/password or es.apikey and es.tls.*. It fails only
// for a TLS file it can't read or a malformed endpoint; the error names
// the key.
func New(c config.ES, endpoints ...string) (*elasticsearch.Client, error) {
	if len(endpoints) == 0 {
		endpoints = c.Endpoints
	}
	addrs := make([]string, len(endpoints))
	for i, e := range endpoints {
		addrs[i] = strings.TrimSuffix(e, "/") // paths are joined to it
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.MaxIdleConnsPerHost = max(c.Nums, 1) + 2
	tr.ResponseHeaderTimeout = ResponseTimeout
	// es has no tls.enabled: https:// endpoints turn TLS on.
	// insecureSkipVerify is honoured without a CA too.
	tc, err := c.TLS.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("es.%w", err)
	}
	if tc == nil && c.TLS.InsecureSkipVerify {
		tc = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig = tc
	ec := elasticsearch.Config{
		Addresses:    addrs,
		Transport:    tr,
		DisableRetry: true,
	}
	if c.APIKey != "" {
		ec.APIKey = c.APIKey
	} else {
		ec.Username, ec.Password = c.Username, c.Password
	}
	es, err := elasticsearch.NewClient(ec)
	if err != nil {
		return nil, fmt.Errorf("es.endpoints: %w", err)
	}
	return es, nil
}

// Do sends one request with es; body, when not nil, is JSON. The caller
// closes the answer's body.
func Do(ctx context.Context, es *elasticsearch.Client, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return es.Perform(req)
}
