package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/gorustls/gorustls/internal/bench"
	"github.com/gorustls/gorustls/internal/bench/chart"
	"github.com/gorustls/gorustls/internal/bench/rustlsstack"
)

// benchChildFlag is the hidden flag with which bench re-executes itself as
// a child process (handshake server, idle-memory probe).
const benchChildFlag = "-bench-child"

func init() {
	register("bench", "compare gorustls with crypto/tls (throughput, latency, handshakes, memory, HTTPS servers)", runBench)
}

// benchStacks returns gorustls (with the named provider) and crypto/tls.
func benchStacks(provider string) ([]bench.Stack, error) {
	switch provider {
	case "", "default":
		return []bench.Stack{rustlsstack.Stack(), bench.GoTLS()}, nil
	case "ring-aes-gcm":
		return []bench.Stack{rustlsstack.RingAESGCMStack(), bench.GoTLS()}, nil
	}
	return nil, fmt.Errorf("-provider %q: want default or ring-aes-gcm", provider)
}

func runBench(args []string) error {
	if len(args) >= 1 && args[0] == benchChildFlag {
		prov := ""
		if len(args) == 2 {
			prov = args[1]
		}
		stacks, err := benchStacks(prov)
		if err != nil {
			return err
		}
		return bench.Child(context.Background(), os.Stdin, os.Stdout, stacks)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "short run (noisier figures)")
	plot := fs.String("plot", "", "draw the ratios into `FILE` (.png or .svg)")
	markdown := fs.String("markdown", "", "write the results as a Markdown table into `FILE`")
	oneProc := fs.Bool("one-process", false, "skip the measurements that need child processes")
	provider := fs.String("provider", "default", "gorustls's crypto provider: default (aws-lc-rs) or ring-aes-gcm (rustls.RingAESGCMProvider)")
	only := fs.String("only", "", "run only these comma-separated workload `groups` ("+strings.Join(bench.Groups, ", ")+")")
	reps := fs.Int("reps", 0, "alternating rounds per measurement, of which the median is reported (default 5, 3 with -quick)")
	httpTime := fs.Duration("http-time", 0, "length of each load generator run in the http group (default 2s, 1s with -quick; rounded up to whole seconds)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *plot != "" {
		if ext := strings.ToLower(filepath.Ext(*plot)); ext != ".png" && ext != ".svg" {
			return fmt.Errorf("-plot %s: the file name must end in .png or .svg", *plot)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	stacks, err := benchStacks(*provider)
	if err != nil {
		return err
	}
	if *reps < 0 || *httpTime < 0 {
		return errors.New("-reps and -http-time must not be negative")
	}
	opts := bench.Options{Stacks: stacks, Quick: *quick, Progress: os.Stderr, Reps: *reps, HTTPTime: *httpTime}
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	}
	if !*oneProc {
		opts.Spawn = func() *exec.Cmd {
			cmd := exec.Command(self, "bench", benchChildFlag, *provider)
			cmd.Stderr = os.Stderr
			return cmd
		}
		if *provider == "default" {
			// serve uses the default provider: compare it with the library
			// server on the same one.
			opts.ServeHTTPCmd = func() *exec.Cmd {
				return exec.Command(self, "serve", "-mode", "http", "-addr", "127.0.0.1:0")
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Println()
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	var errs []error
	if *markdown != "" {
		errs = append(errs, writeFile(*markdown, rep.WriteMarkdown))
	}
	if *plot != "" {
		errs = append(errs, chart.Save(rep, *plot))
	}
	return errors.Join(errs...)
}

func writeFile(name string, fn func(w io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
