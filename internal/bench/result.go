package bench

import (
	"fmt"
	"math"
	"time"
)

// Target is the goal for a result: a bound on the ratio of the first
// stack's value to the second's, or (Absolute) on the first stack's value.
type Target struct {
	Max      bool    // the ratio or value must be <= Value (else >=)
	Value    float64 // the bound
	Absolute bool    // bound the first stack's value rather than the ratio
}

// String renders the target, e.g. ">= 1.3x", "<= 0.5x" or "<= 0".
func (t Target) String() string {
	op := ">="
	if t.Max {
		op = "<="
	}
	if t.Absolute {
		return fmt.Sprintf("%s %g", op, t.Value)
	}
	return fmt.Sprintf("%s %gx", op, t.Value)
}

// Result is one compared figure.
type Result struct {
	Group  string    // bulk, latency, handshake, handshake-2proc, memory, costs
	Name   string    // scenario, e.g. "TLS1.3 AES-128-GCM, 64 KiB writes"
	Unit   string    // MB/s, us, handshakes/s, KiB/endpoint, allocs/op, calls/op
	Values []float64 // one per stack, in Options.Stacks order; NaN: not applicable
	Target *Target   // nil: informational
	Note   string
}

// Ratio returns Values[0] / Values[1] (NaN when undefined).
func (r Result) Ratio() float64 {
	if len(r.Values) < 2 || math.IsNaN(r.Values[0]) || math.IsNaN(r.Values[1]) || r.Values[1] == 0 {
		return math.NaN()
	}
	return r.Values[0] / r.Values[1]
}

// Met reports whether the target is met; ok is false when there is no
// target or it cannot be evaluated.
func (r Result) Met() (met, ok bool) {
	if r.Target == nil || len(r.Values) == 0 {
		return false, false
	}
	v := r.Ratio()
	if r.Target.Absolute {
		v = r.Values[0]
	}
	if math.IsNaN(v) {
		return false, false
	}
	if r.Target.Max {
		return v <= r.Target.Value, true
	}
	return v >= r.Target.Value, true
}

// Machine describes where a report was measured.
type Machine struct {
	CPUs        int
	CPUModel    string
	Kernel      string
	GoVersion   string
	RustVersion string
	Stacks      []string // "name: version" per stack
	// LoadBefore and LoadAfter are /proc/loadavg at the start and the end
	// of the run: other work on the machine skews wall-clock figures.
	LoadBefore, LoadAfter string
}

// Report is the outcome of Run.
type Report struct {
	Stacks   []string // stack names, in Options.Stacks order
	Machine  Machine
	Started  time.Time
	Elapsed  time.Duration
	Quick    bool
	Only     []string `json:",omitempty"` // workload groups run, when not all
	Results  []Result
	Settings []string // how the figures were measured, one line each
}
