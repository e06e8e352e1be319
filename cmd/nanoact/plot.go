package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// systemColor gives each system the same colour in every panel.
func systemColor(sys string) color.Color {
	switch sys {
	case sysNanoact:
		return color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	case sysMangos:
		return color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange
	}
	return color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff} // grey: C NNG
}

// writePlot draws the report as a grid of bar charts, one column per
// message size, latency on the top row and throughput below, the
// transports along each x axis and one bar per system, each labelled
// with its value. The format follows path's extension: png, svg, pdf
// (also jpg, tif, eps).
func writePlot(path string, r *report) error {
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if format == "" {
		return fmt.Errorf("%s: no extension to choose the format by (.png, .svg, .pdf)", path)
	}
	systems := r.systems()
	cols := len(r.Config.Sizes)
	grid := [][]*plot.Plot{make([]*plot.Plot, cols), make([]*plot.Plot, cols)}
	for j, size := range r.Config.Sizes {
		for i, kind := range []string{kindLat, kindThr} {
			p, err := r.panel(kind, size, systems, i == 0 && j == 0)
			if err != nil {
				return err
			}
			grid[i][j] = p
		}
	}

	titleH := vg.Length(36)
	if r.Config.Quick {
		titleH += 12
	}
	width, height := max(vg.Length(cols)*3.6, 7.5)*vg.Inch, 2*3.1*vg.Inch+titleH
	c, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return fmt.Errorf("%s: %w (use .png, .svg or .pdf)", path, err)
	}
	dc := draw.New(c)
	// A white background (png and jpg are transparent otherwise).
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	sty := text.Style{Font: font.From(plot.DefaultFont, 11), Handler: plot.DefaultTextHandler, XAlign: text.XCenter, YAlign: text.YTop, Color: color.Black}
	dc.FillText(sty, vg.Point{X: width / 2, Y: height - 6}, fmt.Sprintf("nanoact bench %s: %s %s/%s, %d CPUs, load %s; %s",
		r.Started.Format("2006-01-02 15:04Z"), r.Go, r.OS, r.Arch, r.CPUs, orDash(r.LoadBefore), versionsLine(r)))
	sty.Font = font.From(plot.DefaultFont, 9)
	dc.FillText(sty, vg.Point{X: width / 2, Y: height - 20},
		"top: req/rep round trip (lower is better; bars: Go median, C NNG mean; labels: median, p99 below it); bottom: push/pull throughput (higher is better)")
	if r.Config.Quick {
		sty.Color = color.RGBA{R: 0xc0, A: 0xff}
		dc.FillText(sty, vg.Point{X: width / 2, Y: height - 32}, quickNote)
	}

	tiles := draw.Tiles{Rows: 2, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: titleH, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j := range grid[i] {
			grid[i][j].Draw(canvases[i][j])
		}
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func versionsLine(r *report) string {
	var vs []string
	for _, s := range r.Config.Systems {
		if v, ok := r.Versions[s]; ok {
			vs = append(vs, displayName(s)+" "+v)
		}
	}
	return strings.Join(vs, ", ")
}

// panel draws one case kind at one size: the transports along x, one bar
// per system.
func (r *report) panel(kind string, size int, systems []string, legend bool) (*plot.Plot, error) {
	p := plot.New()
	p.X.Tick.Label.Font.Size = 9
	p.Y.Tick.Label.Font.Size = 8
	p.Title.TextStyle.Font.Size = 10
	p.Legend.TextStyle.Font.Size = 8
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(r.Config.Transports...)

	value := func(x *result) float64 { return x.MedianUS }
	unit, format := "µs", micros
	p.Title.Text = "req/rep round trip, " + sizeName(size)
	if kind == kindThr {
		p.Title.Text = "push/pull throughput, " + sizeName(size)
		if size <= 1<<10 {
			unit, format = "k msgs/s", func(v float64) string { return fmt.Sprintf("%.0f", v) }
			value = func(x *result) float64 { return x.MsgsPerS / 1e3 }
		} else {
			unit, format = "MB/s", func(v float64) string { return fmt.Sprintf("%.0f", v) }
			value = func(x *result) float64 { return x.MBPerS }
		}
	}
	p.Y.Label.Text = unit
	p.Y.Label.TextStyle.Font.Size = 9

	const barW = vg.Length(15)
	top := 0.0
	for k, sys := range systems {
		vals := make(plotter.Values, len(r.Config.Transports))
		labels := plotter.XYLabels{XYs: make(plotter.XYs, len(vals)), Labels: make([]string, len(vals))}
		for i, tr := range r.Config.Transports {
			labels.XYs[i].X = float64(i)
			labels.Labels[i] = "n/a"
			x := r.find(sys, kind, tr, size)
			if x == nil || x.Runs == 0 {
				continue
			}
			v := value(x)
			if kind == kindLat && meanOnly(sys) {
				v = x.MeanUS
			}
			vals[i], labels.XYs[i].Y, labels.Labels[i] = v, v, format(v)
			if kind == kindLat && !meanOnly(sys) && x.P99US > 0 {
				labels.Labels[i] += "\np99 " + format(x.P99US)
			}
			top = max(top, v)
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, err
		}
		off := (vg.Length(k) - vg.Length(len(systems)-1)/2) * barW
		bars.Offset = off
		bars.Color = systemColor(sys)
		bars.LineStyle.Width = 0
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		lb.Offset = vg.Point{X: off, Y: 2}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = 6.5
			if kind == kindLat {
				lb.TextStyle[i].Font.Size = 5.5 // two lines: the median, the p99
			}
			lb.TextStyle[i].XAlign = text.XCenter
		}
		p.Add(bars, lb)
		if legend {
			p.Legend.Add(displayName(sys), bars)
		}
	}
	p.Y.Tick.Marker = compactTicks{}
	p.Y.Min = 0
	p.Y.Max = max(top*1.3, 1e-9) // head room for the labels and the legend
	return p, nil
}

// compactTicks are plot.DefaultTicks labelled without trailing zeros
// ("250", not "250.00").
type compactTicks struct{}

func (compactTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', -1, 64)
		}
	}
	return ticks
}
