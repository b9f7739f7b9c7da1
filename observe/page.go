package observe

// pageHTML is the status page: template "page" is the whole document,
// "main" the part that the page's script fetches again (?fragment=1) and
// swaps in every 2 seconds.
const pageHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>callguard status</title>
<link rel="icon" href="data:,">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .2em} h2{font-size:1.05em;margin:1.4em 0 .4em}
table{border-collapse:collapse;background:#fff;min-width:40em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600} td.n{text-align:right;font-variant-numeric:tabular-nums}
.state{font-weight:600;padding:0 .4em;border-radius:3px}
.s-closed{background:#d8f0d8;color:#185c18} .s-open{background:#f6d0d0;color:#8a1010} .s-half-open{background:#f8ecc4;color:#6b5000}
.s-forced-open{background:#e8a0a0;color:#600} .s-disabled{background:#e0e0e0;color:#444}
.summary span{margin-right:1.5em} .bad{color:#8a1010;font-weight:600}
.muted{color:#777} #live{float:right;color:#777}
.bar{display:inline-block;height:.7em;background:#5a8fd8;vertical-align:middle}
</style></head>
<body>
<span id="live">refreshes every 2 s</span>
<h1>callguard status</h1>
<main id="main">{{template "main" .}}</main>
<script>
"use strict";
(function () {
  var main = document.getElementById("main"), live = document.getElementById("live"), n = 0;
  function refresh() {
    fetch(location.pathname + "?fragment=1", {cache: "no-store"}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    }).then(function (html) {
      main.innerHTML = html;
      main.setAttribute("data-refreshes", String(++n));
      live.textContent = "refreshes every 2 s";
    }).catch(function () {
      live.textContent = "not connected; retrying";
    });
  }
  setInterval(refresh, 2000);
})();
</script>
</body></html>
{{define "main"}}
<p class="summary" data-time="{{.Time.UTC.Format "2006-01-02T15:04:05.000Z07:00"}}">
<span>at {{clock .Time}} UTC</span>
<span {{if .OpenBreakers}}class="bad"{{end}} id="open-breakers">{{.OpenBreakers}} open breaker{{if ne .OpenBreakers 1}}s{{end}}</span>
<span>{{.TotalRefusals}} refusals</span></p>

{{if .Probes}}<h2>Synthetic probes</h2>
<table id="probes"><tr><th>prober</th><th>runs</th><th>failed</th><th>last run</th><th>request id</th><th>steps: outcome, latency</th><th>last failure</th></tr>
{{range .Probes}}<tr data-kind="probe" data-name="{{.Name}}"{{with .Probe.Last}} data-ok="{{.OK}}"{{end}}>
<td>{{.Name}}</td><td class="n">{{.Calls}}</td><td class="n">{{.Failures}}</td>
{{with .Probe.Last}}<td><span class="state {{if .OK}}s-closed{{else}}s-open{{end}}">{{if .OK}}ok{{else}}failed{{end}}</span> {{$.Ago .Time}}, {{sec .Duration}}</td><td>{{.RequestID}}</td>
<td>{{range .Steps}}<span data-step="{{.Name}}" data-outcome="{{.Outcome}}">{{.Name}}: {{.Outcome}}{{if ne .Outcome "skipped"}} {{sec .Duration}}{{end}}{{with .Err}} ({{.}}){{end}}</span><br>{{end}}</td>{{else}}<td></td><td></td><td></td>{{end}}
<td>{{with .Probe.LastFailure}}{{clock .Time}} <span class="muted">({{$.Ago .Time}})</span> {{.RequestID}}{{end}}</td></tr>
{{end}}</table>{{end}}

<h2>Breakers</h2>
{{if .Breakers}}<table id="breakers"><tr><th>name</th><th>state</th><th>since</th><th>next probe</th><th>transitions</th><th>calls</th><th>refused</th><th>window: requests / failures / consecutive failures</th></tr>
{{range .Breakers}}<tr data-kind="breaker" data-name="{{.Name}}" data-state="{{.Breaker.State}}">
<td>{{.Name}}</td><td><span class="state s-{{.Breaker.State}}">{{.Breaker.State}}</span></td>
<td>{{$.Ago .Breaker.Since}}</td><td>{{$.In .Breaker.OpenUntil}}</td><td class="n">{{.Breaker.Transitions}}</td>
<td class="n">{{.Calls}}</td><td class="n">{{index .Refusals "open"}}</td>
<td class="n">{{.Breaker.Counts.Requests}} / {{.Breaker.Counts.TotalFailures}} / {{.Breaker.Counts.ConsecutiveFailures}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none named</p>{{end}}

<h2>Load shedding: adaptive limiters</h2>
{{if .Limiters}}<table id="limiters"><tr><th>name</th><th>limit</th><th>in flight</th><th>queued</th><th>shed critical</th><th>shed default</th><th>shed sheddable</th><th>refused for deadline</th><th>calls</th></tr>
{{range .Limiters}}<tr data-kind="limiter" data-name="{{.Name}}">
<td>{{.Name}}</td><td class="n">{{.Limiter.Limit}}</td><td class="n">{{.Limiter.InFlight}}</td><td class="n">{{.Limiter.Queued}}</td>
<td class="n">{{index .Shed "critical"}}</td><td class="n">{{index .Shed "default"}}</td><td class="n">{{index .Shed "sheddable"}}</td>
<td class="n">{{.Limiter.DeadlineRejects}}</td><td class="n">{{.Calls}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none named</p>{{end}}

<h2>Bulkheads</h2>
{{if .Bulkheads}}<table id="bulkheads"><tr><th>name</th><th>in flight</th><th>limit</th><th>use</th><th>calls</th><th>refused (full)</th></tr>
{{range .Bulkheads}}<tr data-kind="bulkhead" data-name="{{.Name}}">
<td>{{.Name}}</td><td class="n">{{.Bulkhead.InFlight}}</td><td class="n">{{.Bulkhead.Limit}}</td>
<td><span class="bar" style="width:{{usage .Bulkhead.InFlight .Bulkhead.Limit}}px"></span></td>
<td class="n">{{.Calls}}</td><td class="n">{{index .Refusals "full"}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none named</p>{{end}}

<h2>Retries</h2>
{{if .Retries}}<table id="retries"><tr><th>name</th><th>calls</th><th>attempts</th><th>retries</th><th>gave up</th><th>failed</th></tr>
{{range .Retries}}<tr data-kind="retry" data-name="{{.Name}}">
<td>{{.Name}}</td><td class="n">{{.Calls}}</td><td class="n">{{.Retry.Attempts}}</td><td class="n">{{.Retry.Retries}}</td><td class="n">{{.Retry.GiveUps}}</td><td class="n">{{.Failures}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none named</p>{{end}}

{{if .Hedges}}<h2>Hedging</h2>
<table id="hedges"><tr><th>name</th><th>delay</th><th>calls</th><th>attempts</th><th>hedges</th><th>failed</th></tr>
{{range .Hedges}}<tr data-kind="hedge" data-name="{{.Name}}">
<td>{{.Name}}</td><td class="n">{{sec .Hedge.Delay}}</td><td class="n">{{.Calls}}</td><td class="n">{{.Hedge.Attempts}}</td><td class="n">{{.Hedge.Hedges}}</td><td class="n">{{.Failures}}</td></tr>
{{end}}</table>{{end}}

<h2>Retry budgets</h2>
{{if .Budgets}}<table id="budgets"><tr><th>name</th><th>tokens left</th><th>capacity</th><th>left</th></tr>
{{range .Budgets}}<tr data-kind="budget" data-name="{{.Name}}">
<td>{{.Name}}</td><td class="n">{{printf "%.1f" .Budget.Tokens}}</td><td class="n">{{printf "%.0f" .Budget.Capacity}}</td>
<td class="n">{{printf "%.0f" (pct .Budget.Tokens .Budget.Capacity)}}%</td></tr>
{{end}}</table>{{else}}<p class="muted">none named</p>{{end}}

{{if .Others}}<h2>Other policies</h2>
<table id="others"><tr><th>kind</th><th>name</th><th>calls</th><th>failed</th><th>refused, by reason</th><th>shed, by priority</th><th>throttle: rejection probability</th></tr>
{{range .Others}}<tr data-kind="{{.Kind}}" data-name="{{.Name}}">
<td>{{.Kind}}</td><td>{{.Name}}</td><td class="n">{{.Calls}}</td><td class="n">{{.Failures}}</td>
<td>{{range $r, $n := .Refusals}}{{$r}}: {{$n}} {{end}}</td><td>{{range $p, $n := .Shed}}{{$p}}: {{$n}} {{end}}</td>
<td>{{with .Throttle}}{{range $p, $v := .Probability}}{{$p}}: {{printf "%.0f" (pct $v 1)}}% {{end}}{{end}}</td></tr>
{{end}}</table>{{end}}

<h2>Recent breaker transitions</h2>
{{if .Transitions}}<table id="transitions"><tr><th>time (UTC)</th><th>breaker</th><th>from</th><th>to</th></tr>
{{range .Transitions}}<tr data-event="transition">
<td>{{clock .Time}} <span class="muted">({{$.Ago .Time}})</span></td><td>{{.Name}}</td>
<td><span class="state s-{{.From}}">{{.From}}</span></td><td><span class="state s-{{.To}}">{{.To}}</span></td></tr>
{{end}}</table>{{else}}<p class="muted">none yet</p>{{end}}

<h2>Recent refusals and give-ups</h2>
{{if .Recent}}<table id="recent"><tr><th>time (UTC)</th><th>policy</th><th>event</th><th>reason</th><th>request id</th><th>error</th></tr>
{{range .Recent}}<tr data-event="{{.Type}}">
<td>{{clock .Time}}</td><td>{{.Kind}} {{.Name}}</td><td>{{.Type}}</td>
<td>{{.Reason}}{{if .Priority}} ({{.Priority}}){{end}}</td>
<td>{{.RequestID}}</td><td>{{if .Err}}{{.Err.Error}}{{end}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none yet</p>{{end}}
{{end}}`
