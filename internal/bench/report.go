package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) < 0.01:
		return fmt.Sprintf("%.1e", v) // rare events: allocations per op
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func formatRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", r)
}

func (r Result) targetCells() (target, met string) {
	if r.Target == nil {
		return "", ""
	}
	m, ok := r.Met()
	switch {
	case !ok:
		met = "?"
	case m:
		met = "yes"
	default:
		met = "NO"
	}
	return r.Target.String(), met
}

// header returns the table's column names.
func (rep *Report) header() []string {
	h := []string{"group", "scenario", "unit"}
	h = append(h, rep.Stacks...)
	return append(h, "ratio", "target", "met")
}

func (rep *Report) rows() [][]string {
	var rows [][]string
	for _, r := range rep.Results {
		row := []string{r.Group, r.Name, r.Unit}
		for _, v := range r.Values {
			row = append(row, formatValue(v))
		}
		t, m := r.targetCells()
		rows = append(rows, append(row, formatRatio(r.Ratio()), t, m))
	}
	return rows
}

// WriteTable writes the results as an aligned text table.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(rep.header(), "\t")+"\t")
	for _, row := range rep.rows() {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	m := rep.Machine
	_, err := fmt.Fprintf(w, "\nratio = %s / %s. %d CPUs, %s, Linux %s, %s. Load average before: %s, after: %s.\n",
		rep.Stacks[0], rep.Stacks[1], m.CPUs, m.CPUModel, m.Kernel, strings.Join(m.Stacks, ", "), m.LoadBefore, m.LoadAfter)
	return err
}

// WriteMarkdown writes the machine, the settings and the results as
// Markdown.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	m := rep.Machine
	var b strings.Builder
	kind := map[bool]string{true: "quick", false: "full"}[rep.Quick] + " run"
	if len(rep.Only) > 0 {
		kind += " of " + strings.Join(rep.Only, ", ")
	}
	fmt.Fprintf(&b, "Measured %s (%s, %s).\n\n", rep.Started.Format("2006-01-02 15:04 MST"), kind, rep.Elapsed.Round(1e9))
	fmt.Fprintf(&b, "Machine: %d CPUs (nproc), %s, Linux %s; %s", m.CPUs, m.CPUModel, m.Kernel, m.GoVersion)
	if m.RustVersion != "" {
		fmt.Fprintf(&b, ", %s", m.RustVersion)
	}
	fmt.Fprintf(&b, "; %s.", strings.Join(m.Stacks, "; "))
	if m.LoadBefore != "" {
		fmt.Fprintf(&b, " Load average before the run: %s, after: %s.", m.LoadBefore, m.LoadAfter)
	}
	b.WriteString("\n\n")
	h := rep.header()
	fmt.Fprintf(&b, "| %s |\n", strings.Join(h, " | "))
	sep := make([]string, len(h))
	for i := range sep {
		sep[i] = "---"
		if i >= 3 {
			sep[i] = "---:"
		}
	}
	fmt.Fprintf(&b, "| %s |\n", strings.Join(sep, " | "))
	for _, row := range rep.rows() {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}
	var notes []string
	for _, r := range rep.Results {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("- %s, %s: %s", r.Group, r.Name, r.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "\n%s\n", strings.Join(notes, "\n"))
	}
	fmt.Fprintf(&b, "\nRatio = %s / %s in the same run. How each figure is measured:\n\n", rep.Stacks[0], rep.Stacks[1])
	for _, s := range rep.Settings {
		fmt.Fprintf(&b, "- %s\n", s)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
