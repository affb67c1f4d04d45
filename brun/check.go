package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/kafkax"
	"brun/servers/console"
	"brun/servers/job"
)

// defaultCheckTimeout bounds how long `brun check` waits for etcd: long
// enough for a cluster across a network, short enough that a script
// running check on a host without etcd access is not held up.
const defaultCheckTimeout = 3 * time.Second

// minScrubbed is the shortest secret value check scrubs from its report.
// Nothing it prints is meant to hold a secret; the scrub is a second
// guard, and replacing one- to three-letter strings would garble the
// report for no gain.
const minScrubbed = 4

// check is `brun check [-c FILE] [-timeout D]`: it prints every problem of
// the ini file and, when etcd is reachable, of the jobs under etcd.prefix,
// then "ok" and a summary line, or the count of problems. It exits
//
//	0  no problem; possibly with a warning that the jobs were not checked
//	   (etcd.endpoints empty, or etcd not answering within the timeout):
//	   the ini itself is fine, and a host that can't reach etcd yet can
//	   still have its file checked, e.g. by a package's install script;
//	1  one or more problems;
//	2  bad arguments.
//
// It never prints a secret's value (config.SecretKeys).
func check(args []string, defaultPath string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("brun check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", defaultPath, "configuration `file` to check")
	timeout := fs.Duration("timeout", defaultCheckTimeout, "how long to wait for etcd before leaving the jobs unchecked")
	connect := fs.Bool("connect", false, "also reach each configured etcd, Kafka and Elasticsearch (authentication and TLS included); one that does not answer is a problem")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: brun check [-c FILE] [-timeout D] [-connect]\n\n%s\n\nflags:\n", checkHelp)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.Usage = func() {} // as in run: printed below, where it belongs
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "brun check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	r := &report{w: stdout}
	cfg, err := config.Load(*path)
	if err != nil {
		var le *config.LoadError
		if errors.As(err, &le) {
			r.line("config file " + le.Path + ":")
			for _, p := range le.Problems {
				r.problem("  " + p.Error())
			}
		} else {
			r.problem(err.Error())
		}
		r.line("jobs: not checked (the configuration file has problems)")
		return r.finish("")
	}
	// From here on the configuration holds the secrets' values; the
	// report is scrubbed of them in case one ever finds its way into a
	// message (an etcd error quoting a URL, say).
	r.secrets = cfg.SecretValues()
	r.line("config file " + cfg.Path + ": ok")

	jobsSummary := checkJobs(cfg, *timeout, r)
	if *connect {
		checkConnect(cfg, *timeout, r)
	}
	return r.finish(summary(cfg, jobsSummary))
}

// checkHelp says what check does, for `brun check -h`.
const checkHelp = `Prints every problem of FILE (each naming section.key, with "did you mean"
for a misspelt key or section) and of the jobs in etcd under etcd.prefix
(each naming its etcd key). Exits 0 and prints "ok" when there is none,
1 otherwise. When etcd.endpoints is empty (the embedded etcd) or etcd
does not answer within -timeout, the jobs are not checked: a warning
says so, and that alone does not make the exit status non-zero.
With -connect it also reaches each server the file names, as the roles
would (credentials and TLS included): etcd (a read under etcd.prefix),
every Kafka broker (franz-go's metadata request, after SASL) and every
Elasticsearch URL (GET /_cluster/health); each says "answered" or is a
problem naming its section.key. Servers brun stands in for (empty
endpoints) are not reached.
Secret values are never printed.`

// checkJobs reads every key under <prefix>job/ and reports each job that
// the agent would refuse, named by its etcd key. It returns a few words
// for the summary line.
func checkJobs(cfg *config.Config, timeout time.Duration, r *report) string {
	if cfg.EmbeddedEtcd() {
		r.warning("jobs: not checked: etcd.endpoints is empty, so the jobs live in the embedded etcd, which runs only inside brun (the console and brun's log show an invalid job)")
		return "embedded etcd (jobs not checked)"
	}
	endpoints := strings.Join(cfg.Etcd.Endpoints, ",")
	etcdCfg := cfg.Etcd
	etcdCfg.DialTimeout = min(etcdCfg.DialTimeout, timeout)
	cli, err := etcdx.New(etcdCfg)
	if err != nil {
		r.warning(fmt.Sprintf("jobs: not checked: etcd.endpoints %s: %v", endpoints, err))
		return "etcd " + endpoints + " (unreachable: jobs not checked)"
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	keys := etcdx.Keys{Prefix: cfg.Etcd.Prefix}
	resp, err := cli.Get(ctx, keys.AllJobs(), clientv3.WithPrefix())
	if err != nil {
		r.warning(fmt.Sprintf("jobs: not checked: etcd.endpoints %s did not answer within %v: %v", endpoints, timeout, err))
		return "etcd " + endpoints + " (unreachable: jobs not checked)"
	}
	bad := 0
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		if msgs := jobProblems(keys, key, kv.Value); len(msgs) > 0 {
			bad++
			r.line("job " + key + ":")
			for _, m := range msgs {
				r.problem("  " + m)
			}
		}
	}
	r.line(fmt.Sprintf("jobs: %d under %s, %d with problems", len(resp.Kvs), keys.AllJobs(), bad))
	return fmt.Sprintf("etcd %s (%d jobs)", endpoints, len(resp.Kvs))
}

// jobProblems lists why the agent would refuse the job at key: a key that
// is not <prefix>job/<agent-id>/<name>, a bad name, or the field errors of
// job.Parse (with its "did you mean" for a misspelt field).
func jobProblems(keys etcdx.Keys, key string, value []byte) []string {
	rest := strings.TrimPrefix(key, keys.AllJobs())
	agentID, name, found := strings.Cut(rest, "/")
	if !found || agentID == "" {
		return []string{"is not a job key (" + keys.AllJobs() + "<agent-id>/<job-name>): no agent reads it"}
	}
	if msg := job.NameError(name); msg != "" {
		return []string{msg}
	}
	_, err := job.Parse(value)
	if err == nil {
		return nil
	}
	var je *job.Error
	if !errors.As(err, &je) {
		return []string{err.Error()}
	}
	msgs := make([]string, len(je.Fields))
	for i, f := range je.Fields {
		msgs[i] = f.Field + ": " + f.Reason
	}
	return msgs
}

// summary is the line after "ok": what this file makes brun do.
func summary(cfg *config.Config, jobs string) string {
	redacted := func(list []string) string {
		out := make([]string, len(list))
		for i, e := range list {
			out[i] = config.Redacted(e)
		}
		return strings.Join(out, ",")
	}
	parts := []string{"roles " + strings.Join(cfg.Brun.Roles, ",")}
	parts = append(parts, jobs)
	if cfg.InProcessKafka() {
		parts = append(parts, "kafka in process")
	} else {
		parts = append(parts, "kafka "+redacted(cfg.Kafka.Endpoints))
	}
	if cfg.LocalES() {
		parts = append(parts, "es local files in "+cfg.LocalESDir())
	} else {
		parts = append(parts, "es "+redacted(cfg.ES.Endpoints))
	}
	if cfg.HasRole(config.RoleConsole) {
		parts = append(parts, "console on "+cfg.Console.Listen)
	}
	if len(cfg.SecretFiles) > 0 {
		var from []string
		for k := range cfg.SecretFiles {
			from = append(from, k)
		}
		sort.Strings(from)
		parts = append(parts, "read from files: "+strings.Join(from, ","))
	}
	return strings.Join(parts, "; ")
}

// report writes check's output, counting problems, and scrubs every line
// of the configuration's secret values.
type report struct {
	w        io.Writer
	secrets  []string
	problems int
}

func (r *report) line(s string) {
	for _, v := range r.secrets {
		if len(v) >= minScrubbed {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	fmt.Fprintln(r.w, s)
}

func (r *report) problem(s string) { r.problems++; r.line(s) }

func (r *report) warning(s string) { r.line("warning: " + s) }

// finish prints the verdict and returns the exit status.
func (r *report) finish(summary string) int {
	if r.problems > 0 {
		r.line(fmt.Sprintf("%d problem(s)", r.problems))
		return 1
	}
	r.line("ok: " + summary)
	return 0
}

// checkConnect reaches each server the configuration names, within
// timeout each, and reports which answered.
func checkConnect(cfg *config.Config, timeout time.Duration, r *report) {
	if !cfg.EmbeddedEtcd() {
		endpoints := strings.Join(cfg.Etcd.Endpoints, ",")
		etcdCfg := cfg.Etcd
		etcdCfg.DialTimeout = min(etcdCfg.DialTimeout, timeout)
		err := func() error {
			cli, err := etcdx.New(etcdCfg)
			if err != nil {
				return err
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_, err = cli.Get(ctx, cfg.Etcd.Prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
			return err
		}()
		if err != nil {
			r.problem(fmt.Sprintf("connect: etcd.endpoints %s: %v", endpoints, err))
		} else {
			r.line("connect: etcd.endpoints " + endpoints + ": answered")
		}
	}
	if !cfg.InProcessKafka() {
		for _, broker := range cfg.Kafka.Endpoints {
			k := cfg.Kafka
			k.Endpoints = []string{broker}
			err := func() error {
				opts, err := kafkax.Options(k, "brun-check")
				if err != nil {
					return err
				}
				cl, err := kgo.NewClient(append(opts, kgo.DialTimeout(timeout), kgo.RequestRetries(0))...)
				if err != nil {
					return err
				}
				defer cl.Close()
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				return cl.Ping(ctx)
			}()
			if err != nil {
				r.problem(fmt.Sprintf("connect: kafka.endpoints %s: %v", broker, err))
			} else {
				r.line("connect: kafka.endpoints " + broker + ": answered")
			}
		}
	}
	if !cfg.LocalES() {
		for _, base := range cfg.ES.Endpoints {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := console.ProbeES(ctx, base, cfg.ES)
			cancel()
			where := config.Redacted(base)
			if err != nil {
				r.problem(fmt.Sprintf("connect: es.endpoints %s: %v", where, err))
			} else {
				r.line("connect: es.endpoints " + where + ": answered")
			}
		}
	}
}
