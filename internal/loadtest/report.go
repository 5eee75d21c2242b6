package loadtest

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Report is what a run measured. Latencies are in milliseconds.
type Report struct {
	Server    string    `json:"server"`
	Started   time.Time `json:"started"`
	Duration  float64   `json:"duration_s"`  // first request sent to last answer received
	Rate      int       `json:"target_rate"` // requests per second; 0: as fast as the workers go
	Workers   int       `json:"workers"`
	Mix       string    `json:"mix"` // redirects:creates
	ZipfS     float64   `json:"zipf_s"`
	ZipfV     float64   `json:"zipf_v"`
	Codes     int       `json:"codes"`
	Total     Stats     `json:"total"`
	Kinds     []Stats   `json:"kinds"`
	Timeline  []Point   `json:"timeline"`
	Warnings  []string  `json:"warnings,omitempty"`
	Histogram []float64 `json:"histogram_bounds_ms"` // bucket lower bounds shared by every Stats.Histogram
}

// Stats summarises the requests of one kind, or of all.
type Stats struct {
	Kind       string  `json:"kind"`
	Requests   uint64  `json:"requests"`
	Succeeded  uint64  `json:"succeeded"` // answered 1xx, 2xx or 3xx
	Errors     uint64  `json:"errors"`    // no answer, or 4xx and 5xx
	Rate       float64 `json:"rate"`      // sent per second over the run
	Throughput float64 `json:"throughput"`
	Latency    Latency `json:"latency_ms"`
	// StatusCodes counts answers by status; "0" counts requests that got no
	// answer (refused, reset, timed out).
	StatusCodes map[string]uint64 `json:"status_codes"`
	// ErrorMessages counts errors by message, without the request URL.
	ErrorMessages map[string]uint64 `json:"error_messages,omitempty"`
	// Histogram counts requests by latency, in the buckets whose lower
	// bounds are Report.Histogram.
	Histogram []uint64 `json:"histogram"`
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Point is one second of one kind of request (or "total").
type Point struct {
	Second   int     `json:"second"`
	Kind     string  `json:"kind"`
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
}

// histogramBounds are the lower bounds of the latency histogram's buckets:
// about four a decade from 10µs, the last one open-ended.
var histogramBounds = func() vegeta.Buckets {
	b := vegeta.Buckets{0}
	for d := 10 * time.Microsecond; d <= 10*time.Second; d *= 10 {
		for _, m := range []float64{1, 1.5, 2, 3, 5, 7} {
			b = append(b, time.Duration(float64(d)*m))
		}
	}
	return b
}()

const maxErrorMessages = 50

type window struct {
	n, errs uint64
	lat     vegeta.LatencyMetrics
}

type kindRec struct {
	name string
	m    vegeta.Metrics
	errs map[string]uint64
	secs []*window
}

func newKindRec(name string) *kindRec {
	return &kindRec{name: name, m: vegeta.Metrics{Histogram: &vegeta.Histogram{Buckets: histogramBounds}}, errs: map[string]uint64{}}
}

func (k *kindRec) add(r *vegeta.Result, sec int) {
	k.m.Add(r)
	if r.Error != "" {
		msg := errorMessage(r)
		if _, ok := k.errs[msg]; !ok && len(k.errs) >= maxErrorMessages {
			msg = "other errors"
		}
		k.errs[msg]++
	}
	for len(k.secs) <= sec {
		k.secs = append(k.secs, &window{})
	}
	w := k.secs[sec]
	w.n++
	if r.Error != "" {
		w.errs++
	}
	w.lat.Add(r.Latency)
}

// errorMessage drops the method and URL that Go's client errors start with,
// so that one failure cause is one entry however many codes it hit.
func errorMessage(r *vegeta.Result) string {
	msg := r.Error
	prefix := r.Method + " \"" + r.URL + "\": "
	if strings.HasPrefix(msg, prefix) {
		msg = msg[len(prefix):]
	} else if m, rest, ok := strings.Cut(msg, " \""); ok && len(m) <= 7 {
		if _, after, ok := strings.Cut(rest, "\": "); ok {
			msg = after
		}
	}
	return msg
}

// recorder accumulates results; only the goroutine in Run touches it.
type recorder struct {
	o       Options
	began   time.Time
	stopped time.Time // when the run was cut short; zero: it ran its course
	total   *kindRec
	kinds   map[string]*kindRec

	lastAt time.Time
	lastN  uint64
}

func newRecorder(o Options) *recorder {
	now := time.Now()
	return &recorder{o: o, began: now, lastAt: now, total: newKindRec("total"), kinds: map[string]*kindRec{}}
}

func (rec *recorder) add(r *vegeta.Result) {
	sec := max(0, int(r.Timestamp.Sub(rec.began)/time.Second))
	rec.total.add(r, sec)
	name := kindOf(r)
	k := rec.kinds[name]
	if k == nil {
		k = newKindRec(name)
		rec.kinds[name] = k
	}
	k.add(r, sec)
}

// progress writes one line: elapsed time, requests so far, the rate since
// the last line, p99 so far and errors so far.
func (rec *recorder) progress(w io.Writer) {
	now := time.Now()
	n := rec.total.m.Requests
	rps := float64(n-rec.lastN) / now.Sub(rec.lastAt).Seconds()
	rec.lastAt, rec.lastN = now, n
	var errs uint64
	for _, c := range rec.total.errs {
		errs += c
	}
	p99 := "-"
	if n > 0 {
		p99 = formatMillis(ms(rec.total.m.Latencies.Quantile(0.99)))
	}
	fmt.Fprintf(w, "%6s  requests %s  rps %s  p99 %s  errors %s\n",
		now.Sub(rec.began).Round(time.Second), thousands(n), thousands(uint64(math.Round(rps))), p99, thousands(errs))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (rec *recorder) report() *Report {
	o := rec.o
	rep := &Report{
		Server: o.Server, Started: rec.began.UTC(), Rate: o.Rate, Workers: o.Workers,
		Mix:   strconv.Itoa(o.Redirects) + ":" + strconv.Itoa(o.Creates),
		ZipfS: o.ZipfS, ZipfV: o.ZipfV, Codes: len(o.Codes),
	}
	if o.ZipfS == 0 {
		rep.ZipfV = 0
	}
	for _, b := range histogramBounds {
		rep.Histogram = append(rep.Histogram, ms(b))
	}
	rec.total.m.Close()
	if rec.total.m.Requests > 0 {
		rep.Duration = rec.total.m.End.Sub(rec.total.m.Earliest).Seconds()
	}
	rep.Total = rec.total.stats(rep.Duration)
	rep.Timeline = append(rep.Timeline, rec.total.points()...)
	for _, name := range []string{KindRedirect, KindCreate} {
		k := rec.kinds[name]
		if k == nil {
			continue
		}
		k.m.Close()
		rep.Kinds = append(rep.Kinds, k.stats(rep.Duration))
		rep.Timeline = append(rep.Timeline, k.points()...)
	}
	for _, k := range rep.Kinds {
		if k.Kind == KindCreate && k.StatusCodes["429"] > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d of %d creates: %s.", k.StatusCodes["429"], k.Requests, rateLimitAdvice))
		}
		if k.Kind == KindRedirect && k.StatusCodes["404"] > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d of %d redirects answered 404: are the codes from this server's database?", k.StatusCodes["404"], k.Requests))
		}
	}
	if scheduled := rec.scheduled(); rep.Total.Requests < scheduled*95/100 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("sent %d of the %d requests scheduled (%d/s): the generator or the server could not keep up",
			rep.Total.Requests, scheduled, o.Rate))
	}
	return rep
}

// scheduled is how many requests the pacer was to send in the time the run
// had: at most that many are sent. Zero without a fixed rate.
func (rec *recorder) scheduled() uint64 {
	span := rec.o.Duration
	if !rec.stopped.IsZero() {
		span = min(span, rec.stopped.Sub(rec.began))
	}
	return uint64(float64(rec.o.Rate) * span.Seconds())
}

func (k *kindRec) stats(duration float64) Stats {
	m := &k.m
	s := Stats{Kind: k.name, Requests: m.Requests, StatusCodes: map[string]uint64{}, Histogram: slices.Clone(m.Histogram.Counts)}
	for code, n := range m.StatusCodes {
		s.StatusCodes[code] = uint64(n)
		if c, _ := strconv.Atoi(code); c >= 100 && c < 400 {
			s.Succeeded += uint64(n)
		}
	}
	for _, n := range k.errs {
		s.Errors += n
	}
	if len(k.errs) > 0 {
		s.ErrorMessages = k.errs
	}
	if len(s.Histogram) == 0 {
		s.Histogram = make([]uint64, len(histogramBounds))
	}
	if duration > 0 {
		s.Rate = float64(s.Requests) / duration
		s.Throughput = float64(s.Succeeded) / duration
	}
	if m.Requests > 0 {
		s.Latency = Latency{
			Mean: ms(m.Latencies.Mean),
			P50:  ms(m.Latencies.P50),
			P90:  ms(m.Latencies.P90),
			P99:  ms(m.Latencies.P99),
			P999: ms(m.Latencies.Quantile(0.999)),
			Max:  ms(m.Latencies.Max),
		}
	}
	return s
}

func (k *kindRec) points() []Point {
	var out []Point
	for i, w := range k.secs {
		p := Point{Second: i, Kind: k.name, Requests: w.n, Errors: w.errs}
		if w.n > 0 {
			p.P50 = ms(w.lat.Quantile(0.5))
			p.P99 = ms(w.lat.Quantile(0.99))
			p.Max = ms(w.lat.Max)
		}
		out = append(out, p)
	}
	return out
}

// WriteText writes the report for people.
func (rep *Report) WriteText(w io.Writer) error {
	pace := fmt.Sprintf("at %s requests/s", thousands(uint64(rep.Rate)))
	if rep.Rate == 0 {
		pace = fmt.Sprintf("flat out with %d workers", rep.Workers)
	}
	dist := "uniform"
	if rep.ZipfS != 0 {
		dist = fmt.Sprintf("Zipf s=%g v=%g", rep.ZipfS, rep.ZipfV)
	}
	fmt.Fprintf(w, "Shortlinks load test of %s: %.1fs %s, mix %s (redirects:creates), %s over %s codes\n\n",
		rep.Server, rep.Duration, pace, rep.Mix, dist, thousands(uint64(rep.Codes)))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\trequests\tsent/s\tok/s\tp50\tp90\tp99\tp99.9\tmax\terrors\t")
	for _, s := range append(slices.Clone(rep.Kinds), rep.Total) {
		l := s.Latency
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Kind, thousands(s.Requests),
			thousands(uint64(math.Round(s.Rate))), thousands(uint64(math.Round(s.Throughput))),
			formatMillis(l.P50), formatMillis(l.P90), formatMillis(l.P99), formatMillis(l.P999), formatMillis(l.Max),
			thousands(s.Errors))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, s := range rep.Kinds {
		fmt.Fprintf(w, "%s status codes: %s\n", s.Kind, countList(s.StatusCodes))
	}
	for _, s := range rep.Kinds {
		if len(s.ErrorMessages) > 0 {
			fmt.Fprintf(w, "%s errors: %s\n", s.Kind, countList(s.ErrorMessages))
		}
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	return nil
}

// countList writes counts as "302 ×1,234, 404 ×5", largest first.
func countList(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		label := k
		if k == "0" {
			label = "no answer"
		}
		parts[i] = label + " ×" + thousands(m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// formatMillis writes a latency with three significant digits in a unit
// that suits it.
func formatMillis(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1:
		return strconv.FormatFloat(v*1000, 'f', digits(v*1000), 64) + "µs"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', digits(v), 64) + "ms"
	default:
		return strconv.FormatFloat(v/1000, 'f', digits(v/1000), 64) + "s"
	}
}

func digits(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	default:
		return 2
	}
}

// thousands writes n with comma separators.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}
