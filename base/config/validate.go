package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// topicName is what Kafka accepts as a topic name.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// hostName is a DNS name as console.hosts takes it.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$`)

// ValidTopic reports whether s is a name Kafka accepts for a topic.
func ValidTopic(s string) bool {
	return topicName.MatchString(s) && s != "." && s != ".."
}

// Validate checks every value and fills in defaults that depend on the host
// (agent.id). It does no network I/O. All problems are reported at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, value, reason string) {
		errs = append(errs, &Error{Key: key, Value: value, Reason: reason})
	}

	seen := map[string]bool{}
	if len(c.Brun.Roles) == 0 {
		bad("brun.roles", "", "names no role (use any of agent, transfer, console)")
	}
	for _, r := range c.Brun.Roles {
		switch r {
		case RoleAgent, RoleTransfer, RoleConsole:
		default:
			bad("brun.roles", r, "is not a role (use any of agent, transfer, console)")
		}
		if seen[r] {
			bad("brun.roles", r, "is named twice")
		}
		seen[r] = true
	}
	if c.Brun.DataDir == "" {
		bad("brun.data.dir", "", "must name a directory")
	}

	if c.Agent.ID == "" && c.HasRole(RoleAgent) {
		id, err := LocalIP()
		if err != nil {
			bad("agent.id", "", fmt.Sprintf("is empty and the local IP can't be found (%v); set it", err))
		}
		c.Agent.ID = id
	}
	if strings.ContainsAny(c.Agent.ID, "/ \t\n") {
		bad("agent.id", c.Agent.ID, "must not contain '/' or spaces (it is an etcd key segment)")
	}

	if c.EmbeddedEtcd() {
		// The embedded etcd is brun's own: other hosts get their jobs from
		// an etcd cluster (etcd.endpoints), never from one brun's.
		if err := checkHostPort(c.Etcd.EmbedListen, false); err != nil {
			bad("etcd.embed.listen", c.Etcd.EmbedListen, err.Error())
		} else if !IsLoopback(c.Etcd.EmbedListen) {
			bad("etcd.embed.listen", c.Etcd.EmbedListen, "must be a loopback address (127.0.0.1:port): the embedded etcd serves this host only; for other hosts run an etcd cluster and set etcd.endpoints")
		}
		// brun makes the embedded etcd's credentials itself and hands them
		// to every role; others set here would be ignored, or mistaken for
		// them. The password is not quoted back.
		if c.Etcd.Username != "" {
			bad("etcd.username", c.Etcd.Username, "must be empty when etcd.endpoints is empty: the embedded etcd's user is root, its password in data.dir/etcd/root.password")
		}
		if c.Etcd.Password != "" {
			bad("etcd.password", "***", "must be empty when etcd.endpoints is empty: the embedded etcd's root password lives in data.dir/etcd/root.password")
		}
	}
	for _, e := range c.Etcd.Endpoints {
		if err := checkHostPort(e, true); err != nil {
			bad("etcd.endpoints", e, err.Error())
		}
	}
	if !strings.HasPrefix(c.Etcd.Prefix, "/") || !strings.HasSuffix(c.Etcd.Prefix, "/") {
		bad("etcd.prefix", c.Etcd.Prefix, "must start and end with '/'")
	}

	// Without Kafka the agent hands its events to the transfer in this
	// process, so one runs only with the other.
	if c.InProcessKafka() && c.HasRole(RoleAgent) != c.HasRole(RoleTransfer) {
		bad("kafka.endpoints", "", "is empty, so the agent hands its events to the transfer in this process: brun.roles must hold both agent and transfer, or list the brokers' host:port addresses")
	}
	for _, e := range c.Kafka.Endpoints {
		if err := checkHostPort(e, false); err != nil {
			bad("kafka.endpoints", e, err.Error())
		}
	}

	for _, e := range c.ES.Endpoints {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("es.endpoints", Redacted(e), "is not an http:// or https:// URL")
		}
	}

	for _, t := range c.Transfer.Topics {
		if !ValidTopic(t) {
			bad("transfer.topics", t, "is not a valid Kafka topic name ([a-zA-Z0-9._-], at most 249)")
		}
	}
	if c.Transfer.Group == "" {
		bad("transfer.group", "", "must name a Kafka consumer group")
	}
	if d := c.Transfer.SessionTimeout; d < 6*time.Second || d > 30*time.Minute {
		bad("transfer.session.timeout", d.String(), "must be 6s to 30m (the brokers' group.min/max.session.timeout.ms); 45s is Kafka's default")
	}

	if err := checkHostPort(c.Console.Listen, false); err != nil {
		bad("console.listen", c.Console.Listen, err.Error())
	}
	for _, h := range c.Console.Hosts {
		if !hostName.MatchString(h) {
			bad("console.hosts", h, "is not a host name (e.g. logs.example.com; no scheme, port or path)")
		}
	}
	if u := c.Console.KibanaURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
			bad("console.kibana.url", u, "is not Kibana's address (http or https, a host, perhaps a port and a base path; no query)")
		}
	}
	if err := checkHostPort(c.Brun.MetricsListen, false); err != nil {
		bad("brun.metrics.listen", c.Brun.MetricsListen, err.Error())
	}
	for _, g := range c.Agent.Allow {
		if _, err := filepath.Match(g, "/"); err != nil || !filepath.IsAbs(g) {
			bad("agent.allow", g, "is not an absolute path glob")
		}
	}

	switch c.Kafka.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		bad("kafka.compression", c.Kafka.Compression, "is not one of none, gzip, snappy, lz4, zstd")
	}
	if c.Kafka.BatchBytes < MinBatchBytes {
		bad("kafka.batch.bytes", strconv.Itoa(c.Kafka.BatchBytes), fmt.Sprintf("is less than %d: it is also the largest record, which must hold an event's fields (up to 64 KiB) and some of its line", MinBatchBytes))
	}
	if c.Kafka.Replication > math.MaxInt16 {
		bad("kafka.replication", strconv.Itoa(c.Kafka.Replication), fmt.Sprintf("is more than %d", math.MaxInt16))
	}
	if c.Kafka.Partitions > math.MaxInt32 {
		bad("kafka.partitions", strconv.Itoa(c.Kafka.Partitions), fmt.Sprintf("is more than %d", math.MaxInt32))
	}
	switch c.Kafka.SASLMechanism {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		bad("kafka.sasl.mechanism", c.Kafka.SASLMechanism, "is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
	}
	if c.Kafka.SASLMechanism != "" && c.Kafka.SASLUsername == "" {
		bad("kafka.sasl.username", "", "is required when kafka.sasl.mechanism is set")
	}
	if !strings.Contains(c.ES.Index, "{topic}") {
		bad("es.index", c.ES.Index, "must contain {topic}")
	}
	if c.ES.Refresh != "-1" {
		if _, err := ParseDuration(c.ES.Refresh); err != nil {
			bad("es.refresh", c.ES.Refresh, "is not a refresh interval (e.g. 1s, 30s, or -1)")
		}
	}
	checkTLS := func(sec string, t TLS) {
		for _, f := range []struct{ key, path string }{{"tls.ca", t.CA}, {"tls.cert", t.Cert}, {"tls.key", t.Key}} {
			if f.path == "" {
				continue
			}
			if _, err := os.Stat(f.path); err != nil {
				bad(sec+"."+f.key, f.path, "can't be read: "+err.Error())
			}
		}
		if (t.Cert == "") != (t.Key == "") {
			bad(sec+".tls.cert", t.Cert, "and "+sec+".tls.key must be set together")
		}
	}
	checkTLS("etcd", c.Etcd.TLS)
	checkTLS("kafka", c.Kafka.TLS)
	checkTLS("es", c.ES.TLS)

	if c.Demo.Path != "" {
		abs, err := filepath.Abs(c.Demo.Path)
		if err != nil {
			bad("demo.path", c.Demo.Path, "can't be made absolute: "+err.Error())
		}
		c.Demo.Path = abs
	}
	if !ValidTopic(c.Demo.Topic) {
		bad("demo.topic", c.Demo.Topic, "is not a valid Kafka topic name ([a-zA-Z0-9._-], at most 249)")
	}

	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", c.Log.Format, "is not text or json")
	}
	if _, err := logrus.ParseLevel(c.Log.Level); err != nil {
		bad("log.level", c.Log.Level, "is not one of trace, debug, info, warn, error, fatal")
	}
	if c.Log.Dir != "" && c.LogFileName() == "" {
		bad("log.file.name", c.Log.FileName, "must name a file when log.dir is set")
	}
	if c.Log.RotationTime > c.Log.MaxAge {
		bad("log.rotation.time", c.Log.RotationTime.String(), "must not exceed log.max.age ("+c.Log.MaxAge.String()+")")
	}
	return errors.Join(errs...)
}

// Redacted returns an endpoint with the user and password of a URL
// (https://user:password@host) replaced by "***", for messages and
// reports. It works on text that is not a valid URL too.
func Redacted(endpoint string) string {
	scheme := strings.Index(endpoint, "://")
	at := strings.LastIndex(endpoint, "@")
	if scheme < 0 || at < scheme {
		return endpoint
	}
	return endpoint[:scheme+3] + "***" + endpoint[at:]
}

// checkHostPort accepts "host:port"; with allowScheme, also "http://host:port"
// as etcd's own tools do.
func checkHostPort(s string, allowScheme bool) error {
	if allowScheme {
		if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			s = u.Host
		}
	}
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		return errors.New("is not host:port")
	}
	return nil
}

// IsLoopback reports whether the host of a host:port address is a loopback
// address or "localhost".
func IsLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LocalIP returns the host's primary non-loopback IPv4 address, the agent's
// default id (as in the seed). It reads interface addresses only.
func LocalIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String(), nil
		}
	}
	// A host with loopback only (a container, a laptop offline) still needs a
	// stable id; its hostname is the next best thing.
	if h, err := os.Hostname(); err == nil && h != "" {
		return h, nil
	}
	return "", errors.New("no non-loopback IPv4 address")
}
