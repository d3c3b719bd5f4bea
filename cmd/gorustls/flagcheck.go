package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
)

// rejectRepeats fails when args (already parsed by fs without error) give
// a single-valued flag more than once: the flag package keeps the last
// value and silently drops the others. Repeatable flags (listFlag) may
// repeat.
func rejectRepeats(fs *flag.FlagSet, args []string) error {
	counts := map[string]int{}
	check := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	check.SetOutput(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		_, list := f.Value.(*listFlag)
		check.Var(&countValue{name: f.Name, counts: counts, list: list, isBool: isBoolFlag(f.Value)}, f.Name, "")
	})
	if err := check.Parse(args); err != nil {
		return err
	}
	var repeated []string
	for name, n := range counts {
		if n > 1 {
			repeated = append(repeated, name)
		}
	}
	if len(repeated) == 0 {
		return nil
	}
	sort.Strings(repeated)
	return fmt.Errorf("-%s given %d times: give it once (only the last value would count)", repeated[0], counts[repeated[0]])
}

func isBoolFlag(v flag.Value) bool {
	b, ok := v.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// countValue counts how often a flag is set.
type countValue struct {
	name         string
	counts       map[string]int
	list, isBool bool
}

func (c *countValue) String() string { return "" }
func (c *countValue) Set(string) error {
	if !c.list {
		c.counts[c.name]++
	}
	return nil
}
func (c *countValue) IsBoolFlag() bool { return c.isBool }
