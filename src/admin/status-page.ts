import { createHash } from 'node:crypto';

/**
 * The status page served at `GET /` (and `/status`) on the admin port: one
 * self-contained HTML document (inline CSS and JS, no external assets) that
 * polls `backends` (relative, so it also works behind a path prefix) every
 * 2 s and renders listeners and backends. One `<table>` per listener that
 * turns into cards on narrow screens. Every value goes through `esc()`
 * before it reaches `innerHTML`, and a hash-pinned Content-Security-Policy
 * forbids any other script, inline handler or outside request.
 */

const CSS = `
:root{--bg:#f6f7f9;--fg:#1d2330;--mu:#5f6b7a;--card:#fff;--ln:#dde2e8;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--info:#0969da;--off:#6e7781;--ej:#8250df}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mu:#9aa7b4;--card:#161b22;--ln:#30363d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--info:#58a6ff;--off:#8b949e;--ej:#bc8cff}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline;padding:10px 16px;background:var(--card);border-bottom:1px solid var(--ln)}
h1{font-size:18px;margin:0}
h2{font-size:16px;margin:0 8px 0 0;display:inline}
main{padding:12px 16px;max-width:1600px;margin:0 auto}
.mu{color:var(--mu)}
#err{margin:0;padding:8px 16px;background:var(--bad);color:#fff;font-weight:600}
#err[hidden]{display:none}
section{background:var(--card);border:1px solid var(--ln);border-radius:8px;padding:12px;margin:0 0 16px}
dl{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0}
dt,dd{display:inline;margin:0}
dt{color:var(--mu)}
dt:after{content:": "}
dd{word-break:break-all}
table{width:100%;border-collapse:collapse}
th,td{padding:6px 8px;border-top:1px solid var(--ln);text-align:right;vertical-align:top;white-space:nowrap}
th{color:var(--mu);font-weight:600;font-size:12px;white-space:normal}
td.h{white-space:normal;min-width:12em}
.tw{overflow-x:auto}
th:first-child,th:nth-child(3),th:nth-child(7),td:first-child,td.l{text-align:left}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.b{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.ready,.yes{background:var(--ok)}.draining,.draining-fallback,.not-serving{background:var(--warn)}
.unhealthy,.no,.none{background:var(--bad)}.ejected{background:var(--ej)}.maintenance{background:var(--info)}.removed{background:var(--off)}
.sub{font-size:12px;color:var(--mu)}
@media (max-width:979px){
thead{display:none}
table,tbody,tr,td{display:block}
tr{border:1px solid var(--ln);border-radius:8px;margin:8px 0;padding:4px 8px}
td{display:flex;justify-content:space-between;gap:12px;border:0;padding:3px 0;white-space:normal;text-align:right}
td:before{content:attr(data-l);color:var(--mu);text-align:left;white-space:nowrap}
td.h{min-width:0}
td:first-child{font-weight:600}
main{padding:8px}
}`;

// Plain browser JS. Top-level function declarations so a test can run the
// script in a `vm` context (no `document`) and call `esc` and `render`.
const JS = `
"use strict";
function esc(v){return String(v).replace(/[&<>"'\`]/g,function(c){return "&#"+c.charCodeAt(0)+";"})}
function ms(v){if(typeof v!=="number"||!isFinite(v))return "\\u2013";return v>=100?v.toFixed(0):v>=10?v.toFixed(1):v>=1?v.toFixed(2):v.toFixed(3)}
function bytes(n){if(typeof n!=="number")return "\\u2013";var u=["B","KiB","MiB","GiB","TiB"],i=0;while(n>=1024&&i<u.length-1){n/=1024;i++}return (i?n.toFixed(1):String(n))+" "+u[i]}
function lat(l){var w=l&&l.window;if(!w||!w.count)return "\\u2013";return '<span title="'+esc(w.count+" in the last 30\\u201360 s")+'">'+esc(ms(w.p50)+" / "+ms(w.p99)+" / "+ms(w.max))+"</span>"}
function shown(b){if(b.state==="ready"||b.state==="draining"){if(b.ejectedUntil)return "ejected";if(b.health&&!b.health.healthy)return "unhealthy"}return String(b.state)}
function td(label,html,cls){return '<td data-l="'+esc(label)+'"'+(cls?' class="'+cls+'"':"")+"><div>"+html+"</div></td>"}
function val(v){return typeof v==="object"&&v!==null?JSON.stringify(v):String(v)}
function backendRow(b){
var st=shown(b),h=b.health,L=b.latency||{},sub=[];
if(b.address!==b.id)sub.push(b.address);
["pod","node","zone"].forEach(function(k){if(b[k]!==undefined)sub.push(k+" "+b[k])});
if(b.slowStart!==undefined)sub.push("slow start "+Math.round(b.slowStart*100)+"%");
if(b.ejectedUntil)sub.push("ejected until "+new Date(b.ejectedUntil).toLocaleTimeString());
var hc=h?(h.healthy?"healthy":"unhealthy")+(h.lastResult?": "+h.lastResult:"")+(h.lastMs!=null?" ("+ms(h.lastMs)+" ms)":""):"off";
return '<tr data-backend="'+esc(b.id)+'" data-state="'+esc(st)+'">'+
td("Backend","<code>"+esc(b.id)+"</code>"+(sub.length?'<div class="sub">'+esc(sub.join(" \\u00b7 "))+"</div>":""))+
td("Weight",esc(b.weight)+(b.priority!==undefined?" p"+esc(b.priority):""))+
td("State",'<span class="b '+esc(st)+'">'+esc(st)+"</span>"+(st!==b.state&&b.state!=="ready"?'<div class="sub">'+esc(b.state)+"</div>":""),"l")+
td("Active",esc(b.active))+td("Total",esc(b.total))+td("Failures",esc(b.failures))+
td("Health",esc(hc),"l h")+
td(HEAD[7],lat(L.connect),"lc")+td(HEAD[8],lat(L.firstByte),"lf")+td(HEAD[9],lat(L.session),"ls")+
td(HEAD[10],esc(bytes(b.bytes&&b.bytes.clientToBackend)+" / "+bytes(b.bytes&&b.bytes.backendToClient)))+"</tr>"}
var HEAD=["Backend","Weight","State","Active","Total","Failures","Health","Connect ms p50/p99/max","First byte ms p50/p99/max","Session ms p50/p99/max","Bytes c\\u2192b / b\\u2192c"];
function listener(l){
var so=l.source||{},extra=[],d=[];
Object.keys(so).forEach(function(k){if(k!=="kind"&&k!=="uri"&&so[k]!==undefined&&so[k]!==null)extra.push(k+"="+val(so[k]))});
function dd(k,v){d.push("<div><dt>"+esc(k)+"</dt><dd>"+v+"</dd></div>")}
dd("addresses","<code>"+esc((l.addresses||[]).join(", "))+"</code>");
dd("strategy",esc(l.strategy));
dd("source",esc(so.kind)+" <code>"+esc(so.uri)+"</code>"+(extra.length?' <span class="sub">'+esc(extra.join(" "))+"</span>":""));
dd("tier",'<span class="b '+esc(l.tier)+'">'+esc(l.tier)+"</span>");dd("active",esc(l.activeConnections));dd("queued",esc(l.queued!==undefined?l.queued:0));
if(l.updatedAt)dd("backends updated",esc(new Date(l.updatedAt).toLocaleTimeString()));
var u=l.usable?"yes":"no";
return '<section data-listener="'+esc(l.name)+'"><h2>'+esc(l.name)+'</h2><span class="b '+u+'" title="usable">'+(l.usable?"usable":"no usable backend")+"</span><dl>"+d.join("")+"</dl>"+
((l.backends||[]).length?'<div class="tw"><table><thead><tr>'+HEAD.map(function(h){return "<th>"+esc(h)+"</th>"}).join("")+"</tr></thead><tbody>"+l.backends.map(backendRow).join("")+"</tbody></table></div>":'<p class="mu">No backends.</p>')+"</section>"}
function render(r){var ls=(r&&r.listeners)||[];return ls.length?ls.map(listener).join(""):'<p class="mu">No listeners.</p>'}
if(typeof document!=="undefined"){
var $=function(id){return document.getElementById(id)},last=null,prev="";
var tick=function(){
var ac=new AbortController(),t=setTimeout(function(){ac.abort()},5000);
fetch("backends",{cache:"no-store",signal:ac.signal}).then(function(res){if(!res.ok)throw new Error("HTTP "+res.status);return res.text()}).then(function(text){
if(text!==prev){$("main").innerHTML=render(JSON.parse(text));prev=text}
last=new Date();$("err").hidden=true;$("upd").textContent="updated "+last.toLocaleTimeString();document.body.dataset.ok="1"
}).catch(function(e){
$("err").textContent="Cannot load /backends ("+(e&&e.name==="AbortError"?"timed out":String(e&&e.message||e))+")"+(last?"; showing data from "+last.toLocaleTimeString():"");
$("err").hidden=false;document.body.dataset.ok="0"
}).finally(function(){clearTimeout(t);setTimeout(tick,document.hidden?10000:2000)})};
tick()}
`;

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64');
}

const CSP = [
  "default-src 'none'",
  `script-src 'sha256-${sha256(JS)}'`,
  `style-src 'sha256-${sha256(CSS)}'`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The whole page; served as `text/html; charset=utf-8`. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="referrer" content="no-referrer">
<title>Headway status</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>Headway</h1><span id="upd" class="mu">loading…</span><span class="mu">refreshes every 2 s</span></header>
<p id="err" role="alert" hidden></p>
<main id="main"><p class="mu">Loading /backends…</p></main>
<script>${JS}</script>
</body>
</html>
`;

/** The inline script alone (for tests that run it outside a browser). */
export const STATUS_PAGE_SCRIPT = JS;
