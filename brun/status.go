package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/servers/console"
	"brun/servers/status"
)

// statusHelp says what status does, for `brun status -h`.
const statusHelp = `Prints the agents registered in etcd (alive or not, version, started) and
their jobs as each agent last reported them (state, files, lines read and
acknowledged, bytes not yet acknowledged, last error), read from etcd as
the console reads it. With etcd.endpoints empty it reads the embedded etcd
of the brun running with FILE on this host (as root: its password is in
data.dir/etcd/root.password). -watch refreshes every 5 s, the agents'
status interval, and shows each job's lines/s since the refresh before;
-o json prints {"agents": [...], "jobs": [...]}.`

// statusCmd is `brun status`: 0 when etcd answered, 1 when not, 2 for
// bad arguments.
func statusCmd(args []string, defaultPath string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("brun status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", defaultPath, "configuration `file` naming the etcd to read")
	out := fs.String("o", "table", "output: table or json")
	watch := fs.Bool("watch", false, "refresh every 5 s until interrupted")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: brun status [-c FILE] [-o table|json] [-watch]\n\n%s\n\nflags:\n", statusHelp)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return 2
	}
	if fs.NArg() > 0 || (*out != "table" && *out != "json") {
		usage(stderr)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "brun status: %v\n", err)
		return 1
	}
	etcdCfg := cfg.Etcd
	if cfg.EmbeddedEtcd() {
		// The embedded etcd of the brun running with this file: on its
		// listen address, as its root user.
		pw, err := os.ReadFile(filepath.Join(cfg.EmbeddedEtcdDir(), etcdx.PasswordFile))
		if err != nil {
			fmt.Fprintf(stderr, "brun status: etcd.endpoints is empty, so the jobs are in the embedded etcd of a running brun, and its password can't be read: %v\n", err)
			return 1
		}
		etcdCfg.Endpoints = []string{cfg.Etcd.EmbedListen}
		etcdCfg.Username, etcdCfg.Password = "root", strings.TrimSpace(string(pw))
	}
	cli, err := etcdx.New(etcdCfg)
	if err != nil {
		fmt.Fprintf(stderr, "brun status: etcd.endpoints %s: %v\n", strings.Join(etcdCfg.Endpoints, ","), err)
		return 1
	}
	defer cli.Close()
	keys := etcdx.Keys{Prefix: cfg.Etcd.Prefix}
	var prev map[string]sample // with -watch: the last refresh's, for lines/s
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		agents, jobs, err := console.Fleet(ctx, cli, keys)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "brun status: etcd.endpoints %s: %v\n", strings.Join(etcdCfg.Endpoints, ","), err)
			return 1
		}
		if *out == "json" {
			json.NewEncoder(stdout).Encode(struct {
				Agents []console.Agent `json:"agents"`
				Jobs   []console.Job   `json:"jobs"`
			}{agents, jobs})
		} else {
			if *watch {
				fmt.Fprint(stdout, "\033[H\033[2J") // clear the terminal
			}
			prev = printStatus(stdout, agents, prev, time.Now())
		}
		if !*watch {
			return 0
		}
		time.Sleep(5 * time.Second)
	}
}

// sample is a job's line count as its agent last reported it.
type sample struct {
	lines int64
	at    time.Time
}

// printStatus writes the agents table, then the jobs table. Lines/s is
// the rate between prev (the samples of the refresh before, with -watch)
// and now, "-" without one; it returns this refresh's samples.
func printStatus(w io.Writer, agents []console.Agent, prev map[string]sample, now time.Time) map[string]sample {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tALIVE\tVERSION\tHOST\tSTARTED\tJOBS\tREPORTED")
	for _, a := range agents {
		started, reported := "-", "-"
		if !a.StartedAt.IsZero() {
			started = a.StartedAt.Format(time.RFC3339)
		}
		if a.Status != nil {
			reported = now.Sub(a.Status.Updated).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", a.ID, yesNo(a.Alive), dash(a.Version), dash(a.Hostname), started, a.Jobs, reported)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tJOB\tSTATE\tFILES\tLINES\tLINES/S\tACKED\tLAG BYTES\tTOPIC\tERROR")
	next := map[string]sample{}
	for _, a := range agents {
		if a.Status == nil {
			continue
		}
		for _, j := range a.Status.Jobs {
			key := a.ID + "/" + j.Name
			next[key] = sample{lines: j.Lines, at: a.Status.Updated}
			rate := "-"
			if p, ok := prev[key]; ok && a.Status.Updated.After(p.at) && j.Lines >= p.lines {
				rate = fmt.Sprintf("%.0f", float64(j.Lines-p.lines)/a.Status.Updated.Sub(p.at).Seconds())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%d\t%d\t%s\t%s\n", a.ID, j.Name, j.State, len(j.Files), j.Lines, rate, j.Acked, lag(j), dash(j.Topic), dash(j.Error))
		}
	}
	tw.Flush()
	return next
}

// lag is the bytes of the job's files not yet acknowledged.
func lag(j status.Job) int64 {
	var n int64
	for _, f := range j.Files {
		n += f.Lag
	}
	return n
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
