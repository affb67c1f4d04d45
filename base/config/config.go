package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Role names accepted by [brun] roles.
const (
	RoleAgent    = "agent"
	RoleTransfer = "transfer"
	RoleConsole  = "console"
)

// Config is the whole of brun's configuration after defaults, the ini file
// and Validate have been applied. Field comments name the ini key.
type Config struct {
	// Path is the file the configuration was read from ("" for defaults only).
	Path string
	// Written is every key the file sets, section.key → its value after
	// ${VAR} expansion: what a reload compares to tell what changed. It
	// may hold secrets; it is never printed.
	Written map[string]string

	Brun     Brun
	Agent    Agent
	Etcd     Etcd
	Kafka    Kafka
	ES       ES
	Transfer Transfer
	Console  Console
	Log      Log
	Demo     Demo

	// SecretFiles maps each secret key (e.g. "es.password") whose *_file
	// twin is set to that file; Load has read the value from it.
	SecretFiles map[string]string
}

// Brun holds process-wide settings.
type Brun struct {
	Roles         []string // brun.roles: any of agent, transfer, console
	DataDir       string   // brun.data.dir: offsets and caches live here
	MetricsListen string   // brun.metrics.listen: /metrics, /healthz, /readyz when the console role is off
}

// Agent holds settings of the agent role.
type Agent struct {
	ID    string   // agent.id: the name under which jobs are looked up; default: local IP
	Allow []string // agent.allow: globs a job's path must match; empty allows every path
}

// Etcd holds the etcd client settings shared by every role.
type Etcd struct {
	Endpoints   []string      // etcd.endpoints
	DialTimeout time.Duration // etcd.dialTimeout: a bare number is milliseconds
	Prefix      string        // etcd.prefix: every brun key starts with it; ends with "/"
	EmbedListen string        // etcd.embed.listen: client address of the embedded etcd (endpoints empty)
	Username    string        // etcd.username
	Password    string        // etcd.password
	TLS         TLS           // etcd.tls.*
}

// TLS is a client's TLS settings: <section>.tls.enabled, tls.ca, tls.cert,
// tls.key, tls.insecureSkipVerify.
type TLS struct {
	Enabled            bool
	CA                 string // PEM file of the CAs to trust; empty: the system's
	Cert               string // PEM client certificate, with Key
	Key                string
	InsecureSkipVerify bool
}

// MinBatchBytes is the least kafka.batch.bytes: a batch must hold one
// record whole, and a record an event's fields and some of its line.
const MinBatchBytes = 128 << 10

// Kafka holds the producer and consumer connection settings.
type Kafka struct {
	Endpoints     []string      // kafka.endpoints
	ChanMsgSize   int           // kafka.chanMsgSize: bound of the agent's line channel
	Compression   string        // kafka.compression: none, gzip, snappy, lz4, zstd
	BatchBytes    int           // kafka.batch.bytes: a produce batch is sent at this size...
	BatchLinger   time.Duration // kafka.batch.linger: ...or this long after its first record
	Partitions    int           // kafka.partitions: partitions of a topic brun creates; 0: the broker's num.partitions
	Replication   int           // kafka.replication: replication factor of a topic brun creates; 0: the broker's default
	TLS           TLS           // kafka.tls.*
	SASLMechanism string        // kafka.sasl.mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; empty: none
	SASLUsername  string        // kafka.sasl.username
	SASLPassword  string        // kafka.sasl.password
}

// ES holds the Elasticsearch writer settings.
type ES struct {
	Endpoints   []string      // es.endpoints
	DialTimeout time.Duration // es.dialTimeout: a bare number is milliseconds
	ChanSize    int           // es.chanSize: bound of the transfer's document channel
	Nums        int           // es.nums: number of bulk workers

	BulkActions   int           // es.bulk.actions: a bulk is sent at this many documents...
	BulkBytes     int           // es.bulk.bytes: ...or this many bytes...
	FlushInterval time.Duration // es.flush.interval: ...or this long after its first document
	Index         string        // es.index: index name pattern, {topic} and {yyyy.MM.dd}
	Shards        int           // es.shards: number_of_shards of brun's index template
	Replicas      int           // es.replicas: number_of_replicas (0 allowed)
	Refresh       string        // es.refresh: refresh_interval, e.g. 1s, 30s, -1
	Username      string        // es.username
	Password      string        // es.password
	APIKey        string        // es.apikey: base64 id:key; overrides username/password
	TLS           TLS           // es.tls.ca, es.tls.insecureSkipVerify (https:// endpoints)
	LocalKeep     time.Duration // es.local.keep: how long local files are kept (endpoints empty)
	// Retention is es.retention: indices whose day is older are deleted
	// by the transfer; 0 keeps them forever.
	Retention time.Duration
}

// Transfer holds settings of the transfer role.
type Transfer struct {
	Topics []string // transfer.topics: empty means every topic named by a job in etcd
	Group  string   // transfer.group: Kafka consumer group id
	// SessionTimeout is transfer.session.timeout: how long the group
	// waits for a transfer that stopped heartbeating (killed, cut off)
	// before its partitions move to the others. Kafka's and franz-go's
	// default, 45 s; 6 s to 30 min (the brokers' default bounds).
	SessionTimeout time.Duration
}

// Console holds settings of the console role.
type Console struct {
	Listen string // console.listen: host:port of the HTTP server
	// Token is console.token: the credential every /api call needs. Empty:
	// brun generates one into data.dir/console.token (mode 0600) and prints
	// a login URL at start.
	Token string
	// Hosts are console.hosts: host names, besides loopback names and IP
	// addresses, that the console answers to in the Host header (DNS
	// rebinding defence), e.g. the name operators reach it by.
	Hosts []string
	// KibanaURL is console.kibana.url: Kibana's address (http or https,
	// e.g. https://kibana.example.com:5601). When set, the search view
	// links each event and the view itself to Kibana Discover. Empty: no
	// links.
	KibanaURL string
}

// Log holds brun's own logging settings.
type Log struct {
	Dir           string        // log.dir: empty logs to stderr
	FileName      string        // log.file.name: "${app.name}" stands for "brun"
	MaxAge        time.Duration // log.max.age: rotated files older than this are removed
	RotationTime  time.Duration // log.rotation.time: a new file is started this often
	Level         string        // log.level: trace, debug, info, warn, error
	EnableLineLog bool          // log.enableLineLog: add the caller's file:line
	Format        string        // log.format: text, or json (one object per line)
}

// Demo is the demo log brun writes for a first run: [demo].
type Demo struct {
	Path  string // demo.path: the file brun appends demo lines to; empty: no demo
	Rate  int    // demo.rate: lines per second
	Topic string // demo.topic: topic of the demo job
}

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		Brun: Brun{
			Roles:         []string{RoleAgent, RoleTransfer, RoleConsole},
			DataDir:       "./data",
			MetricsListen: "127.0.0.1:9108",
		},
		Etcd: Etcd{
			DialTimeout: 5 * time.Second,
			Prefix:      "/logagent/",
			EmbedListen: "127.0.0.1:2379",
		},
		Kafka: Kafka{
			ChanMsgSize: 10000,
			Compression: "lz4",
			BatchBytes:  1 << 20,
			BatchLinger: 50 * time.Millisecond,
		},
		ES: ES{
			DialTimeout:   5 * time.Second,
			ChanSize:      10000,
			Nums:          4,
			BulkActions:   5000,
			BulkBytes:     5 << 20,
			FlushInterval: time.Second,
			Index:         "{topic}-{yyyy.MM.dd}",
			Shards:        1,
			Replicas:      1,
			Refresh:       "1s",
			LocalKeep:     7 * 24 * time.Hour,
			Retention:     30 * 24 * time.Hour,
		},
		Transfer: Transfer{
			Group:          "brun-transfer",
			SessionTimeout: 45 * time.Second,
		},
		Console: Console{
			Listen: "127.0.0.1:8080",
		},
		Log: Log{
			Dir:          "./logs",
			FileName:     "brun",
			MaxAge:       7 * 24 * time.Hour,
			RotationTime: 24 * time.Hour,
			Level:        "info",
			Format:       "text",
		},
		Demo: Demo{
			Rate:  10,
			Topic: "demo",
		},
	}
}

// HasRole reports whether the process runs the named role.
func (c *Config) HasRole(role string) bool {
	for _, r := range c.Brun.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// EmbeddedEtcd reports whether brun runs etcd itself: etcd.endpoints is
// empty.
func (c *Config) EmbeddedEtcd() bool { return len(c.Etcd.Endpoints) == 0 }

// InProcessKafka reports whether the agent hands its events to the
// transfer in this process instead of Kafka: kafka.endpoints is empty.
func (c *Config) InProcessKafka() bool { return len(c.Kafka.Endpoints) == 0 }

// LocalES reports whether the transfer writes NDJSON files under
// LocalESDir instead of Elasticsearch: es.endpoints is empty.
func (c *Config) LocalES() bool { return len(c.ES.Endpoints) == 0 }

// LocalESDir is where the transfer keeps its documents when es.endpoints
// is empty, and where the console reads them.
func (c *Config) LocalESDir() string { return filepath.Join(c.Brun.DataDir, "es") }

// ConsoleTokenFile is where brun keeps the console token it generated when
// console.token is empty.
func (c *Config) ConsoleTokenFile() string { return filepath.Join(c.Brun.DataDir, "console.token") }

// EmbeddedEtcdDir is the data directory of the embedded etcd.
func (c *Config) EmbeddedEtcdDir() string { return filepath.Join(c.Brun.DataDir, "etcd") }

// ClientConfig builds the crypto/tls configuration these settings describe,
// reading the CA and key files. It returns nil when TLS is off.
func (t TLS) ClientConfig() (*tls.Config, error) {
	if !t.Enabled && t.CA == "" && t.Cert == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca %s: %w", t.CA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca %s: no PEM certificate in it", t.CA)
		}
		c.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert %s / tls.key %s: %w", t.Cert, t.Key, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
