package main

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
)

// The HTML report is one self-contained page: a summary table with ratios, the tool's
// ceiling, and per case a detail table, a throughput-over-time chart and a latency
// histogram, both inline SVG (no script, no external file).

var brokerColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

type chartSeries struct {
	Name  string
	Color string
	Pts   [][2]float64
}

// svgChart draws line series on linear or logarithmic x axes, y from 0.
func svgChart(series []chartSeries, xLabel, yLabel string, logX bool, yFmt func(float64) string) template.HTML {
	const W, H, L, R, T, B = 560.0, 260.0, 64.0, 12.0, 12.0, 40.0
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	tx := func(x float64) float64 {
		if logX {
			return math.Log10(math.Max(x, 1e-3))
		}
		return x
	}
	for _, s := range series {
		for _, p := range s.Pts {
			xmin, xmax, ymax = math.Min(xmin, tx(p[0])), math.Max(xmax, tx(p[0])), math.Max(ymax, p[1])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`, W, H, W, H)
	if math.IsInf(xmin, 0) || ymax == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">no data</text></svg>`, W/2, H/2)
		return template.HTML(b.String())
	}
	if logX {
		xmin, xmax = math.Floor(xmin), math.Ceil(xmax)
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	ymax *= 1.08
	px := func(x float64) float64 { return L + (tx(x)-xmin)/(xmax-xmin)*(W-L-R) }
	py := func(y float64) float64 { return H - B - y/ymax*(H-T-B) }
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#fafafa" stroke="#ccc"/>`, L, T, W-L-R, H-T-B)
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`,
			L, W-R, py(y), py(y), L-4, py(y)+4, template.HTMLEscapeString(yFmt(y)))
	}
	if logX {
		for e := xmin; e <= xmax; e++ {
			x := L + (e-xmin)/(xmax-xmin)*(W-L-R)
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#e4e4e4"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`,
				x, x, T, H-B, x, H-B+14, template.HTMLEscapeString(fmtUS(math.Pow(10, e))))
		}
	} else {
		for i := 0; i <= 5; i++ {
			v := xmin + (xmax-xmin)*float64(i)/5
			x := L + float64(i)/5*(W-L-R)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%.3g</text>`, x, H-B+14, v)
		}
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`, L+(W-L-R)/2, H-6, template.HTMLEscapeString(xLabel))
	fmt.Fprintf(&b, `<text transform="translate(12 %.0f) rotate(-90)" text-anchor="middle">%s</text>`, T+(H-T-B)/2, template.HTMLEscapeString(yLabel))
	for i, s := range series {
		if len(s.Pts) == 0 {
			continue
		}
		var pts []string
		for _, p := range s.Pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`, s.Color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="10" height="10" fill="%s"/><text x="%.0f" y="%d">%s</text>`,
			W-R-110, int(T)+6+i*15, s.Color, W-R-96, int(T)+15+i*15, template.HTMLEscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

type htmlCase struct {
	suiteCase
	Summary []htmlRow
	Details []*Result
	Rate    template.HTML
	Lat     template.HTML
}

type htmlRow struct {
	Figure string
	Values []string
	Ratios []htmlRatio
}

type htmlRatio struct {
	Text  string
	Class string // good, bad or empty
}

func throughputChart(rs []*Result, names []string) template.HTML {
	var ss []chartSeries
	for i, r := range rs {
		if r == nil {
			continue
		}
		s := chartSeries{Name: names[i], Color: brokerColors[i%len(brokerColors)]}
		for _, p := range r.Series {
			s.Pts = append(s.Pts, [2]float64{p.T, p.RecvRate})
		}
		ss = append(ss, s)
	}
	return svgChart(ss, "seconds", "received msg/s", false, human)
}

func latencyChart(rs []*Result, names []string) template.HTML {
	var ss []chartSeries
	for i, r := range rs {
		if r == nil || r.Latency.Count == 0 {
			continue
		}
		s := chartSeries{Name: names[i], Color: brokerColors[i%len(brokerColors)]}
		total := float64(r.Latency.Count)
		for _, b := range r.Histogram {
			s.Pts = append(s.Pts, [2]float64{math.Sqrt(b[0] * b[1]), 100 * b[2] / total})
		}
		sort.Slice(s.Pts, func(a, b int) bool { return s.Pts[a][0] < s.Pts[b][0] })
		ss = append(ss, s)
	}
	return svgChart(ss, "end-to-end latency (log scale)", "% of messages", true, func(v float64) string { return fmt.Sprintf("%.1f%%", v) })
}

// ratioClass colours a ratio cell: good where ours is better by more than 2 %, bad where
// worse by more than 2 %, nothing in between or where a value is missing.
func ratioClass(ours, peer float64, ok, higher bool) string {
	if !ok || (ours == 0 && peer == 0) {
		return ""
	}
	if !higher {
		ours, peer = peer, ours // lower is better: compare the other way round
	}
	switch {
	case peer == 0 || ours > peer*1.02:
		return "good"
	case ours < peer*0.98:
		return "bad"
	}
	return ""
}

func writeHTML(w io.Writer, rep *SuiteReport) error {
	var cases []htmlCase
	for _, c := range rep.Cases {
		rs := rep.Results[c.Name]
		hc := htmlCase{suiteCase: c, Rate: throughputChart(rs, rep.Brokers), Lat: latencyChart(rs, rep.Brokers)}
		for _, r := range rs {
			if r != nil {
				hc.Details = append(hc.Details, r)
			}
		}
		for _, m := range c.Metrics {
			_, unit, higher := metricValue(m, &Result{})
			row := htmlRow{Figure: unit}
			vals := make([]float64, len(rs))
			for i, r := range rs {
				if r == nil {
					row.Values = append(row.Values, "—")
					continue
				}
				vals[i], _, _ = metricValue(m, r)
				row.Values = append(row.Values, fmtNum(vals[i], unit))
			}
			for i := 1; i < len(rs); i++ {
				ok := rs[0] != nil && rs[i] != nil
				hr := htmlRatio{Text: ratio(vals[0], vals[i], ok, higher)}
				hr.Class = ratioClass(vals[0], vals[i], ok, higher)
				row.Ratios = append(row.Ratios, hr)
			}
			hc.Summary = append(hc.Summary, row)
		}
		cases = append(cases, hc)
	}
	data := struct {
		*SuiteReport
		HTMLCases []htmlCase
		Peers     []string
	}{rep, cases, nil}
	if len(rep.Brokers) > 1 {
		data.Peers = rep.Brokers[1:]
	}
	return reportTmpl.Execute(w, data)
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"human": human, "us": fmtUS, "bytes": bytesHuman,
	"f2": func(v float64) string { return fmt.Sprintf("%.2f", v) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emqgo bench {{.Started}}</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 16px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:13px}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
.good{background:#e3f6e3}.bad{background:#fbe3e3}
.charts{display:flex;flex-wrap:wrap;gap:12px}
h2{margin-top:32px;border-bottom:1px solid #ccc}
small{color:#666}
</style></head><body>
<h1>emqgo <code>make bench</code> — {{.Started}}</h1>
<p><small>{{range $k, $v := .Host}}{{$k}}: {{$v}} · {{end}}brokers in alternating order per case, each started fresh for each run.</small></p>
<h2>Summary</h2>
<table><tr><th>case</th><th>figure</th>{{range .Brokers}}<th>{{.}}</th>{{end}}{{range .Peers}}<th>ours/{{.}}</th>{{end}}</tr>
{{range .HTMLCases}}{{$c := .}}{{range $i, $r := .Summary}}<tr><td>{{if eq $i 0}}<a href="#{{$c.Name}}">{{$c.Name}}</a>{{end}}</td><td>{{$r.Figure}}</td>{{range $r.Values}}<td>{{.}}</td>{{end}}{{range $r.Ratios}}<td class="{{.Class}}">{{.Text}}</td>{{end}}</tr>
{{end}}{{end}}</table>
<p><small>Ratios are ours/peer. ↓ marks figures where lower is better; green: ours is better.</small></p>
{{if .Ceiling}}<h2>Tool ceiling (against its own sink)</h2>
<table><tr><th>run</th><th>sent msg/s</th><th>received msg/s</th><th>tool CPU µs/msg</th><th>p99</th></tr>
{{range .Ceiling}}<tr><td>{{.Label}}</td><td>{{human .SentRate}}</td><td>{{human .RecvRate}}</td><td>{{f2 .ToolCPUPerMsg}}</td><td>{{us .Latency.P99}}</td></tr>{{end}}</table>{{end}}
{{range .HTMLCases}}<h2 id="{{.Name}}">{{.Title}}</h2>
<table><tr><th>broker</th><th>sent/s</th><th>received/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>lost</th><th>dup</th><th>out of order</th><th>broker CPU µs/msg</th><th>broker RSS</th><th>RSS/conn</th><th>conns</th></tr>
{{range .Details}}<tr><td>{{.Broker}}</td><td>{{human .SentRate}}</td><td>{{human .RecvRate}}</td><td>{{us .Latency.P50}}</td><td>{{us .Latency.P90}}</td><td>{{us .Latency.P99}}</td><td>{{us .Latency.P999}}</td><td>{{us .Latency.Max}}</td><td>{{.Lost}}/{{.Expected}}</td><td>{{.Duplicates}}</td><td>{{.OutOfOrder}}</td><td>{{f2 .BrokerCPUPerMs}}</td><td>{{bytes .BrokerRSS}}</td><td>{{if .RSSPerConn}}{{printf "%.0f B" .RSSPerConn}}{{end}}</td><td>{{.Connected}}</td></tr>
{{end}}</table>
<div class="charts">{{.Rate}}{{.Lat}}</div>
{{end}}
{{if .Failures}}<h2>Failures</h2><ul>{{range $k, $v := .Failures}}<li>{{$k}}: {{$v}}</li>{{end}}</ul>{{end}}
</body></html>
`))
