package loadtest

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
)

// kindColors give each kind the same colour in every chart.
var kindColors = map[string]string{KindRedirect: "#1f6feb", KindCreate: "#d9480f", "total": "#444"}

// series is one line or one set of bars in a chart.
type series struct {
	name  string
	color string
	dash  string // SVG stroke-dasharray; empty: solid
	width float64
	ys    []float64 // NaN: no value
}

// plot is the drawing area of a chart and its axes' mapping.
type plot struct {
	w, h                     float64
	left, right, top, bottom float64
	b                        strings.Builder
}

func newPlot(title string) *plot {
	p := &plot{w: 860, h: 300, left: 70, right: 150, top: 34, bottom: 44}
	fmt.Fprintf(&p.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" font-family="system-ui, sans-serif" font-size="12">`, p.w, p.h, p.w, p.h)
	fmt.Fprintf(&p.b, `<rect width="100%%" height="100%%" fill="#fff"/><text x="%g" y="20" font-size="14" font-weight="600">%s</text>`, p.left, template.HTMLEscapeString(title))
	return p
}

func (p *plot) innerW() float64 { return p.w - p.left - p.right }
func (p *plot) innerH() float64 { return p.h - p.top - p.bottom }

func (p *plot) text(x, y float64, anchor, s string) {
	fmt.Fprintf(&p.b, `<text x="%.1f" y="%.1f" text-anchor="%s" fill="#333">%s</text>`, x, y, anchor, template.HTMLEscapeString(s))
}

func (p *plot) line(x1, y1, x2, y2 float64, stroke string) {
	fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`, x1, y1, x2, y2, stroke)
}

func (p *plot) legend(ss []series) {
	for i, s := range ss {
		y := p.top + 10 + float64(i)*18
		x := p.w - p.right + 14
		dash := ""
		if s.dash != "" {
			dash = ` stroke-dasharray="` + s.dash + `"`
		}
		fmt.Fprintf(&p.b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="%g"%s/>`, x, y-4, x+22, y-4, s.color, max(s.width, 2), dash)
		p.text(x+28, y, "start", s.name)
	}
}

func (p *plot) finish() template.HTML {
	p.b.WriteString(`</svg>`)
	// Only numbers and escaped labels went in.
	return template.HTML(p.b.String())
}

// logTicks are 1-2-5 values from lo to hi.
func logTicks(lo, hi float64) []float64 {
	var out []float64
	for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v >= lo*0.9999 && v <= hi*1.0001 {
				out = append(out, v)
			}
		}
	}
	return out
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	d := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if d*m >= v {
			return d * m
		}
	}
	return 10 * d
}

// timeChart draws series over seconds; logY puts latencies on a log scale.
func timeChart(title, unit string, seconds int, ss []series, logY bool, format func(float64) string) template.HTML {
	p := newPlot(title)
	lo, hi := math.Inf(1), 0.0
	for _, s := range ss {
		for _, y := range s.ys {
			if !math.IsNaN(y) && y > 0 {
				lo, hi = min(lo, y), max(hi, y)
			}
		}
	}
	if hi == 0 {
		p.text(p.left+p.innerW()/2, p.top+p.innerH()/2, "middle", "no data")
		return p.finish()
	}
	var ticks []float64
	var yOf func(float64) float64
	if logY {
		lo = math.Pow(10, math.Floor(math.Log10(lo)))
		hi = math.Pow(10, math.Ceil(math.Log10(hi)))
		if hi <= lo {
			hi = lo * 10
		}
		ticks = logTicks(lo, hi)
		yOf = func(v float64) float64 {
			v = math.Max(v, lo)
			return p.top + p.innerH()*(1-(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo)))
		}
	} else {
		lo, hi = 0, niceMax(hi)
		for i := 0; i <= 5; i++ {
			ticks = append(ticks, hi*float64(i)/5)
		}
		yOf = func(v float64) float64 { return p.top + p.innerH()*(1-v/hi) }
	}
	span := float64(max(seconds-1, 1))
	xOf := func(s int) float64 { return p.left + p.innerW()*float64(s)/span }
	for _, t := range ticks {
		y := yOf(t)
		p.line(p.left, y, p.left+p.innerW(), y, "#e5e5e5")
		p.text(p.left-6, y+4, "end", format(t))
	}
	step := max(1, int(math.Ceil(span/10)))
	for s := 0; s < seconds; s += step {
		p.text(xOf(s), p.h-p.bottom+16, "middle", strconv.Itoa(s)+"s")
	}
	p.text(p.left+p.innerW()/2, p.h-6, "middle", "seconds into the run")
	p.text(14, p.top-10, "start", unit)
	p.line(p.left, p.top+p.innerH(), p.left+p.innerW(), p.top+p.innerH(), "#999")
	for _, s := range ss {
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				dash := ""
				if s.dash != "" {
					dash = ` stroke-dasharray="` + s.dash + `"`
				}
				fmt.Fprintf(&p.b, `<polyline fill="none" stroke="%s" stroke-width="%g"%s points="%s"/>`, s.color, s.width, dash, strings.Join(pts, " "))
			} else if len(pts) == 1 {
				var x, y float64
				fmt.Sscanf(pts[0], "%f,%f", &x, &y)
				fmt.Fprintf(&p.b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, x, y, s.color)
			}
			pts = pts[:0]
		}
		for i, y := range s.ys {
			if math.IsNaN(y) {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(i), yOf(y)))
		}
		flush()
	}
	p.legend(ss)
	return p.finish()
}

// histogramChart draws each kind's share of requests per latency bucket.
func histogramChart(rep *Report) template.HTML {
	p := newPlot("Latency histogram (share of each kind's requests)")
	first, last := len(rep.Histogram), -1
	for _, s := range rep.Kinds {
		for i, n := range s.Histogram {
			if n > 0 {
				first, last = min(first, i), max(last, i)
			}
		}
	}
	if last < 0 {
		p.text(p.left+p.innerW()/2, p.top+p.innerH()/2, "middle", "no data")
		return p.finish()
	}
	first = max(0, first-1)
	last = min(len(rep.Histogram)-1, last+1)
	nb := last - first + 1
	top := 0.0
	for _, s := range rep.Kinds {
		for i := first; i <= last; i++ {
			if s.Requests > 0 {
				top = max(top, float64(s.Histogram[i])/float64(s.Requests)*100)
			}
		}
	}
	top = niceMax(top)
	slot := p.innerW() / float64(nb)
	barW := slot * 0.8 / float64(len(rep.Kinds))
	for i := 0; i <= 5; i++ {
		v := top * float64(i) / 5
		y := p.top + p.innerH()*(1-v/top)
		p.line(p.left, y, p.left+p.innerW(), y, "#e5e5e5")
		p.text(p.left-6, y+4, "end", strconv.FormatFloat(v, 'g', 3, 64)+"%")
	}
	var legend []series
	for k, s := range rep.Kinds {
		legend = append(legend, series{name: s.Kind, color: kindColors[s.Kind], width: 8})
		if s.Requests == 0 {
			continue
		}
		for i := first; i <= last; i++ {
			share := float64(s.Histogram[i]) / float64(s.Requests) * 100
			h := p.innerH() * share / top
			x := p.left + slot*float64(i-first) + slot*0.1 + barW*float64(k)
			fmt.Fprintf(&p.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s (%.2f%%)</title></rect>`,
				x, p.top+p.innerH()-h, barW, h, kindColors[s.Kind], s.Kind, template.HTMLEscapeString(bucketLabel(rep.Histogram, i)), thousands(s.Histogram[i]), share)
		}
	}
	every := max(1, (nb+7)/8)
	for i := first; i <= last; i += every {
		p.text(p.left+slot*float64(i-first), p.h-p.bottom+16, "middle", formatMillis(rep.Histogram[i]))
	}
	p.line(p.left, p.top+p.innerH(), p.left+p.innerW(), p.top+p.innerH(), "#999")
	p.text(p.left+p.innerW()/2, p.h-6, "middle", "latency (bucket lower bound, log scale)")
	p.legend(legend)
	return p.finish()
}

func bucketLabel(bounds []float64, i int) string {
	if i+1 < len(bounds) {
		return formatMillis(bounds[i]) + "–" + formatMillis(bounds[i+1])
	}
	return "≥ " + formatMillis(bounds[i])
}

// timeSeries collects one field of the timeline for a kind.
func (rep *Report) timeSeries(kind string, field func(Point) float64) []float64 {
	n := 0
	for _, pt := range rep.Timeline {
		n = max(n, pt.Second+1)
	}
	ys := make([]float64, n)
	for i := range ys {
		ys[i] = math.NaN()
	}
	for _, pt := range rep.Timeline {
		if pt.Kind == kind && pt.Requests > 0 {
			ys[pt.Second] = field(pt)
		}
	}
	return ys
}

// seconds is how many whole seconds the run covered: the last, partial
// second holds only the stragglers and would look like a collapse.
func (rep *Report) seconds() int {
	n := 0
	for _, pt := range rep.Timeline {
		n = max(n, pt.Second+1)
	}
	return max(1, min(n, int(rep.Duration)))
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":    formatMillis,
	"count": thousands,
	"rate":  func(v float64) string { return thousands(uint64(math.Round(v))) },
	"codes": countList,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shortlinks load test, {{.R.Started.Format "2006-01-02 15:04:05Z"}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:900px;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0}th,td{padding:.3rem .7rem;text-align:right;border-bottom:1px solid #ddd}
th:first-child,td:first-child{text-align:left}.warn{background:#fff3cd;padding:.5rem 1rem;border-radius:4px}
figure{margin:1.5rem 0}svg{max-width:100%;height:auto}code{background:#f3f3f3;padding:0 .2rem}
</style></head><body>
<h1>Shortlinks load test</h1>
<p>{{.Summary}}</p>
{{range .R.Warnings}}<p class="warn">{{.}}</p>{{end}}
<table>
<tr><th>kind</th><th>requests</th><th>sent/s</th><th>ok/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th></tr>
{{range .Rows}}<tr><td>{{.Kind}}</td><td>{{count .Requests}}</td><td>{{rate .Rate}}</td><td>{{rate .Throughput}}</td><td>{{ms .Latency.P50}}</td><td>{{ms .Latency.P90}}</td><td>{{ms .Latency.P99}}</td><td>{{ms .Latency.P999}}</td><td>{{ms .Latency.Max}}</td><td>{{count .Errors}}</td></tr>
{{end}}</table>
{{range .R.Kinds}}<p><b>{{.Kind}}</b> status codes: {{codes .StatusCodes}}{{if .ErrorMessages}}; errors: {{codes .ErrorMessages}}{{end}}</p>
{{end}}
{{range .Charts}}<figure>{{.}}</figure>
{{end}}
</body></html>
`))

// WriteHTML writes the report as a self-contained HTML page: the summary
// table, then charts of throughput and latency over time and a latency
// histogram, drawn as inline SVG with nothing fetched from elsewhere.
func (rep *Report) WriteHTML(w io.Writer) error {
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		return err
	}
	summary, _, _ := strings.Cut(text.String(), "\n")
	n := rep.seconds()
	var thr, lat []series
	cut := func(ys []float64) []float64 { return ys[:min(len(ys), n)] }
	for _, k := range rep.Kinds {
		c := kindColors[k.Kind]
		thr = append(thr, series{name: k.Kind, color: c, width: 2, ys: cut(rep.timeSeries(k.Kind, func(p Point) float64 { return float64(p.Requests) }))})
		lat = append(lat,
			series{name: k.Kind + " p50", color: c, width: 1.5, dash: "4 3", ys: cut(rep.timeSeries(k.Kind, func(p Point) float64 { return p.P50 }))},
			series{name: k.Kind + " p99", color: c, width: 2.5, ys: cut(rep.timeSeries(k.Kind, func(p Point) float64 { return p.P99 }))},
			series{name: k.Kind + " max", color: c, width: 1, dash: "1 3", ys: cut(rep.timeSeries(k.Kind, func(p Point) float64 { return p.Max }))},
		)
	}
	count := func(v float64) string { return thousands(uint64(math.Round(v))) }
	charts := []template.HTML{
		timeChart("Requests per second", "req/s", n, thr, false, count),
		timeChart("Latency per second (log scale)", "latency", n, lat, true, formatMillis),
		histogramChart(rep),
	}
	return pageTemplate.Execute(w, map[string]any{
		"R": rep, "Summary": summary, "Rows": append(append([]Stats(nil), rep.Kinds...), rep.Total), "Charts": charts,
	})
}
