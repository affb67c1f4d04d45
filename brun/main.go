// Command brun is the log pipeline: one binary that runs the agent
// (files → Kafka), the transfer (Kafka → Elasticsearch) and the console
// (HTTP API), any or all of them, as [brun] roles says.
//
//	brun [-c conf/brun.ini]         run the configured roles until SIGINT/SIGTERM
//	brun check [-c conf/brun.ini]   print every problem of the file and its jobs
//	brun status [-c conf/brun.ini]  the agents in etcd and their jobs
//	brun version                    print the version, commit and Go version
//	brun help                       print the commands and flags
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/datadir"
	"brun/base/etcdx"
	"brun/base/logging"
	"brun/base/metrics"
	"brun/base/version"
	"brun/servers/agent"
	"brun/servers/console"
	"brun/servers/demo"
	"brun/servers/handoff"
	"brun/servers/transfer"
)

// handoffSize bounds the in-process queue from agent to transfer (besides
// the agent's own kafka.chanMsgSize channel and the transfer's
// es.chanSize one).
const handoffSize = 4096

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("brun", flag.ContinueOnError)
	path := fs.String("c", "conf/brun.ini", "configuration `file`")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `file` until brun stops")
	// Help asked for (-h, --help, help) goes to standard output with exit
	// status 0, as other tools do; help after a mistake goes to standard
	// error with 2. flag prints the mistake itself.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(os.Stdout, fs)
			return 0
		}
		usage(os.Stderr, fs)
		return 2
	}
	switch fs.Arg(0) {
	case "":
	case "help":
		usage(os.Stdout, fs)
		return 0
	case "version":
		fmt.Print(version.Get())
		return 0
	case "check":
		return check(fs.Args()[1:], *path, os.Stdout, os.Stderr)
	case "status":
		return statusCmd(fs.Args()[1:], *path, os.Stdout, os.Stderr)
	default:
		fmt.Fprintf(os.Stderr, "brun: unknown command %q\n", fs.Arg(0))
		usage(os.Stderr, fs)
		return 2
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "brun: -cpuprofile: %v\n", err)
			return 2
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	// SIGHUP never kills brun: from here on it reopens brun's log.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "brun: %v\n", err)
		return 2
	}
	// data.dir first: a second brun on it stops here, before it touches
	// the embedded etcd's files, the offsets or the log.
	dataDir, err := datadir.Open(cfg.Brun.DataDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "brun: %v\n", err)
		return 1
	}
	defer dataDir.Close()
	out, err := logging.Setup(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "brun: %v\n", err)
		return 2
	}
	defer out.Close()
	if dataDir.Loose != 0 {
		logrus.Warnf("brun.data.dir %s has mode %v: other local users may read the offsets, jobs and (in local mode) shipped log lines kept there; chmod 700 it", cfg.Brun.DataDir, dataDir.Loose)
	}
	// A copy: the reload goroutine keeps its own record of what is applied.
	info := version.Get()
	metrics.BuildInfo.WithLabelValues(info.Version, info.Commit, info.GoVersion).Set(1)
	running := *cfg
	reloaded := &reloads{}
	go reopenOnHUP(hup, out, &running, reloaded)

	if cfg.Log.Dir != "" {
		// The log file has everything; the terminal says where it is.
		fmt.Fprintf(os.Stderr, "brun %s: logging to %s\n", version.Version, filepath.Join(cfg.Log.Dir, cfg.LogFileName()+".log"))
	}
	if cfg.HasRole(config.RoleConsole) {
		token, generated, err := console.Token(cfg)
		if err != nil {
			logrus.Error(err)
			fmt.Fprintf(os.Stderr, "brun: %v\n", err)
			return 1
		}
		if generated {
			// The login URL holds the token: the terminal only, never brun's
			// log file, which other users may read.
			logrus.Infof("console: [console] token is empty; the token brun generated is in %s (mode 0600), and the login URL was printed on standard error", cfg.ConsoleTokenFile())
			fmt.Fprintf(os.Stderr, "brun %s: console on http://%s/login?token=%s\n", version.Version, cfg.Console.Listen, token)
		} else {
			fmt.Fprintf(os.Stderr, "brun %s: console on http://%s/ (log in with console.token)\n", version.Version, cfg.Console.Listen)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal while stopping gracefully means "now".
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, syscall.SIGINT, syscall.SIGTERM)
		<-again
		logrus.Warn("second signal: exiting without waiting")
		os.Exit(1)
	}()

	if err := runRoles(ctx, cfg, reloaded); err != nil {
		logrus.Error(err)
		fmt.Fprintf(os.Stderr, "brun: %v\n", err)
		return 1
	}
	return 0
}

// usage prints the commands and brun's flags.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: brun [-c FILE] [command]

commands:
  (none)    run the roles FILE configures, until SIGINT or SIGTERM
  check     print every problem of FILE and of the jobs in etcd; exit 1 if any
            (brun check -h for more)
  status    the agents in etcd and their jobs: state, files, lines, lag
            (brun status -h for more: -o json, -watch)
  version   print the version, the git commit, its date and the Go version
  help      print this help

flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// reopenOnHUP handles each SIGHUP: it reopens brun's log file (so a
// rotation tool can move it away) and reads the ini file again. What can
// change while brun runs is applied: log.level here, agent.allow by the
// agent, the bulk limits by the transfer (liveKeys). Every other key whose
// value changed is named in the log as waiting for a restart, at each
// SIGHUP until brun is restarted. A file that no longer loads changes
// nothing; its problems are logged.
func reopenOnHUP(hup <-chan os.Signal, out *logging.Output, running *config.Config, reloaded *reloads) {
	log := logging.For("main")
	for range hup {
		name, err := out.Reopen()
		switch {
		case err != nil:
			log.Errorf("SIGHUP: reopening the log file: %v", err)
		case name == "":
			log.Info("SIGHUP: logging to stderr, nothing to reopen")
		default:
			log.Infof("SIGHUP: log file reopened: %s", name)
		}
		next, err := config.Load(running.Path)
		if err != nil {
			log.Errorf("SIGHUP: %v; nothing changed, brun runs on as it started", err)
			continue
		}
		if next.Log.Level != running.Log.Level {
			if err := logging.SetLevel(next.Log.Level); err != nil {
				log.Errorf("SIGHUP: %v", err)
			} else {
				log.Infof("SIGHUP: log.level is now %s (was %s)", next.Log.Level, running.Log.Level)
				running.Log.Level = next.Log.Level
			}
		}
		log.Debugf("SIGHUP: %s read again: %d keys set", running.Path, len(next.Written))
		// The roles apply what they can change themselves.
		reloaded.publish(next)
		for _, key := range changedKeys(running.Written, next.Written) {
			if liveKeys[key] {
				continue
			}
			log.Warnf("SIGHUP: %s changed in %s; it takes effect when brun is restarted", key, running.Path)
		}
	}
}

// liveKeys change while brun runs, at a SIGHUP: log.level here, the rest
// in the roles (agent.Run, transfer.Run).
var liveKeys = map[string]bool{
	"log.level": true, "agent.allow": true,
	"es.bulk.actions": true, "es.bulk.bytes": true, "es.flush.interval": true,
}

// reloads hands each configuration read again at a SIGHUP to the roles
// that change part of what they do while running. Each subscriber has one
// place: a newer configuration replaces one it has not taken yet.
type reloads struct {
	mu   sync.Mutex
	subs []chan *config.Config
}

func (r *reloads) subscribe() <-chan *config.Config {
	c := make(chan *config.Config, 1)
	r.mu.Lock()
	r.subs = append(r.subs, c)
	r.mu.Unlock()
	return c
}

func (r *reloads) publish(cfg *config.Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.subs {
		select {
		case <-c:
		default:
		}
		c <- cfg
	}
}

// changedKeys returns, sorted, the keys set in one of a and b and not to
// the same value in the other.
func changedKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// runRoles starts every configured role and waits for all of them. When
// one fails, the others are stopped. Where no servers are configured it
// stands in for them first: an embedded etcd (etcd.endpoints empty), the
// in-process queue from agent to transfer (kafka.endpoints empty); the
// transfer itself writes local files when es.endpoints is empty.
func runRoles(parent context.Context, cfg *config.Config, reloaded *reloads) error {
	log := logging.For("main")
	log.WithField("roles", cfg.Brun.Roles).Infof("brun %s starting with %s", version.Version, cfg.Path)
	if cfg.EmbeddedEtcd() {
		m, err := etcdx.StartEmbedded(cfg.EmbeddedEtcdDir(), cfg.Etcd.EmbedListen)
		if err != nil {
			return err
		}
		defer m.Close() // after the client and the roles: deferred first
		cfg.Etcd.Endpoints = []string{m.Endpoint}
		cfg.Etcd.Username, cfg.Etcd.Password = m.Username, m.Password
		log.WithField("dir", m.Dir).Infof("etcd.endpoints is empty: embedded etcd serving on %s, as user %s only; for etcdctl: export ETCDCTL_ENDPOINTS=%s ETCDCTL_USER=%s:$(cat %s)",
			m.Endpoint, m.Username, m.Endpoint, m.Username, m.PasswordFile)
	}
	cli, err := etcdx.New(cfg.Etcd)
	if err != nil {
		return err
	}
	defer cli.Close()

	var q *handoff.Queue
	if cfg.InProcessKafka() && cfg.HasRole(config.RoleAgent) {
		q = handoff.New(handoffSize)
	}

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	roles := map[string]func(context.Context, *config.Config, *clientv3.Client) error{
		config.RoleAgent: func(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
			return agent.Run(ctx, cfg, cli, q, reloaded.subscribe())
		},
		config.RoleTransfer: func(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
			return transfer.Run(ctx, cfg, cli, q, reloaded.subscribe())
		},
		config.RoleConsole: console.Run,
	}
	var wg sync.WaitGroup
	if !cfg.HasRole(config.RoleConsole) {
		// Without the console, /metrics, /healthz and /readyz get their own
		// listener. A busy port is logged, not fatal: shipping logs matters
		// more than being scraped.
		ops := make(chan struct{})
		go func() {
			defer close(ops)
			if err := console.ServeOps(ctx, cfg, cli); err != nil {
				log.Warn(err)
			}
		}()
		defer func() { cancel(); <-ops }()
	}
	if cfg.Demo.Path != "" && cfg.HasRole(config.RoleAgent) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			demo.Run(ctx, cfg, cli)
		}()
	}
	errs := make([]error, len(cfg.Brun.Roles))
	for i, name := range cfg.Brun.Roles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := roles[name](ctx, cfg, cli); err != nil {
				errs[i] = fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	log.Info("brun stopped")
	return errors.Join(errs...)
}
