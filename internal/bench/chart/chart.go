// Package chart draws a bench.Report's ratios (gorustls / crypto/tls) as a
// horizontal bar chart with gonum.org/v1/plot.
package chart

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gorustls/gorustls/internal/bench"
)

var (
	colMet     = color.RGBA{R: 0x2e, G: 0x8b, B: 0x57, A: 0xff}
	colMissed  = color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
	colNoGoal  = color.RGBA{R: 0x95, G: 0xa5, B: 0xa6, A: 0xff}
	colTarget  = color.RGBA{A: 0xff}
	colParity  = color.RGBA{R: 0x44, G: 0x44, B: 0x44, A: 0xff}
	barWidth   = vg.Points(9)
	rowHeight  = vg.Points(15)
	plotMargin = vg.Inch * 1.6
)

// clip is the largest ratio drawn to scale; longer bars are cut there and
// labelled with their value.
const clip = 4.0

// Plot builds the chart: one bar per result that has a ratio (green: target
// met, red: missed, grey: no target), in report order from the top, each
// labelled with its ratio; the target as a black triangle and a dashed line
// at 1x (parity). Results whose target bounds an absolute value
// (allocations, C calls) are left out: they have no meaningful ratio.
func Plot(rep *bench.Report) (*plot.Plot, error) {
	var rows []bench.Result
	for _, r := range rep.Results {
		ratio := r.Ratio()
		if math.IsNaN(ratio) || math.IsInf(ratio, 0) || (r.Target != nil && r.Target.Absolute) {
			continue
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("chart: no ratios to draw")
	}
	n := len(rows)
	names := make([]string, n)
	met, missed, none := make(plotter.Values, n), make(plotter.Values, n), make(plotter.Values, n)
	var targets plotter.XYs
	var labels plotter.XYLabels
	for k, r := range rows {
		i := n - 1 - k // first result at the top
		names[i] = fmt.Sprintf("%s: %s", r.Group, r.Name)
		ratio := r.Ratio()
		drawn := math.Min(ratio, clip)
		m, ok := r.Met()
		switch {
		case !ok:
			none[i] = drawn
		case m:
			met[i] = drawn
		default:
			missed[i] = drawn
		}
		if r.Target != nil {
			targets = append(targets, plotter.XY{X: r.Target.Value, Y: float64(i)})
		}
		text := fmt.Sprintf("%.2fx", ratio)
		if ratio > clip {
			text += " (cut)"
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: drawn + 0.04, Y: float64(i)})
		labels.Labels = append(labels.Labels, text)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s / %s, same run (throughput, handshakes, requests: higher is better; latency, memory, CPU per request: lower is better)", rep.Stacks[0], rep.Stacks[1])
	p.X.Label.Text = "ratio"
	p.X.Min, p.X.Max = 0, clip+0.9
	for _, set := range []struct {
		v   plotter.Values
		col color.Color
		lbl string
	}{{met, colMet, "target met"}, {missed, colMissed, "target missed"}, {none, colNoGoal, "no target"}} {
		bars, err := plotter.NewBarChart(set.v, barWidth)
		if err != nil {
			return nil, err
		}
		bars.Horizontal = true
		bars.Color = set.col
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.Legend.Add(set.lbl, bars)
	}
	if len(targets) > 0 {
		sc, err := plotter.NewScatter(targets)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Shape = draw.TriangleGlyph{}
		sc.GlyphStyle.Color = colTarget
		sc.GlyphStyle.Radius = vg.Points(3)
		p.Add(sc)
		p.Legend.Add("target", sc)
	}
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].Font.Size = vg.Points(8)
		lab.TextStyle[i].YAlign = -0.5
	}
	p.Add(lab)
	parity, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(n) - 0.5}})
	if err != nil {
		return nil, err
	}
	parity.Color = colParity
	parity.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(parity)
	p.NominalY(names...)
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

// Save draws the chart into file; the format follows the extension (.png
// or .svg).
func Save(rep *bench.Report, file string) error {
	p, err := Plot(rep)
	if err != nil {
		return err
	}
	n := 0
	for _, r := range rep.Results {
		if ratio := r.Ratio(); !math.IsNaN(ratio) && (r.Target == nil || !r.Target.Absolute) {
			n++
		}
	}
	return p.Save(11*vg.Inch, vg.Length(n)*rowHeight+plotMargin, file)
}
