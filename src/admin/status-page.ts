import { createHash } from 'node:crypto';

/**
 * The status page served at `GET /` (and `/status`) on the admin port: one
 * self-contained HTML document (inline CSS and JS, no external assets) that
 * polls `backends` (relative, so it also works behind a path prefix) every
 * 2 s and renders the build, uptime, listeners and backends: the one
 * reported state and for how long, connection and byte rates (differences
 * between two polls, on the server's clock), errors by outcome, latency.
 * Times are UTC, ISO 8601. One `<table>` per listener that turns into cards
 * on narrow screens. Drain/undrain buttons POST to the same control path as
 * the API, with a JSON content type (so the CSRF rules apply unchanged) and
 * the admin token when one was entered (kept in memory only). Every value
 * goes through `esc()` before it reaches `innerHTML`, and a hash-pinned
 * Content-Security-Policy forbids any other script, inline handler or
 * outside request.
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
td.h{white-space:normal;min-width:9em}
td:first-child{white-space:normal;min-width:11em;max-width:22em;overflow-wrap:anywhere}
.tw{overflow-x:auto}
th:first-child,th:nth-child(2),th:nth-child(5),th:nth-child(6),th:last-child,td:first-child,td.l{text-align:left}
nav a{color:var(--info);margin-right:8px}
button{font:inherit;font-size:12px;padding:2px 10px;border:1px solid var(--ln);border-radius:6px;background:var(--bg);color:var(--fg);cursor:pointer}
button:disabled{opacity:.5;cursor:default}
#note{margin:0;padding:6px 16px;background:var(--info);color:#fff}
#note.bad{background:var(--bad)}
#note[hidden],#tok[hidden]{display:none}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.b{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.ready,.yes{background:var(--ok)}.draining,.draining-fallback,.not-serving{background:var(--warn)}
.unhealthy,.no,.none{background:var(--bad)}.ejected{background:var(--ej)}.maintenance{background:var(--info)}.removed{background:var(--off)}
.sub{font-size:12px;color:var(--mu)}
.k{display:inline-block;min-width:5.5em;text-align:left;font-size:12px;color:var(--mu)}
@media (max-width:979px){
thead{display:none}
table,tbody,tr,td{display:block}
tr{border:1px solid var(--ln);border-radius:8px;margin:8px 0;padding:4px 8px}
td{display:flex;justify-content:space-between;gap:12px;border:0;padding:3px 0;white-space:normal;text-align:right}
td:before{content:attr(data-l);color:var(--mu);text-align:left;white-space:nowrap}
td.h{min-width:0}
td:first-child{font-weight:600;max-width:none}
main{padding:8px}
}`;

// Plain browser JS. Top-level function declarations so a test can run the
// script in a `vm` context (no `document`) and call `esc` and `render`.
const JS = `
"use strict";
function esc(v){return String(v).replace(/[&<>"'\`]/g,function(c){return "&#"+c.charCodeAt(0)+";"})}
function ms(v){if(typeof v!=="number"||!isFinite(v))return "\\u2013";return v>=100?v.toFixed(0):v>=10?v.toFixed(1):v>=1?v.toFixed(2):v.toFixed(3)}
function bytes(n){if(typeof n!=="number"||!isFinite(n))return "\\u2013";var u=["B","KiB","MiB","GiB","TiB"],i=0;while(n>=1024&&i<u.length-1){n/=1024;i++}return (i?n.toFixed(1):String(Math.round(n)))+" "+u[i]}
function iso(t){var d=new Date(t);return isNaN(d)?"\\u2013":d.toISOString().replace(/\\.\\d{3}Z$/,"Z")}
function dur(s){if(typeof s!=="number"||!isFinite(s)||s<0)return "\\u2013";s=Math.floor(s);var d=Math.floor(s/86400),h=Math.floor(s%86400/3600),m=Math.floor(s%3600/60),x=s%60;return d?d+"d "+h+"h":h?h+"h "+m+"m":m?m+"m "+x+"s":x+"s"}
function rate(n,unit){if(typeof n!=="number"||!isFinite(n))return "\\u2013";return (unit==="B"?bytes(n):(n>=10?n.toFixed(0):n.toFixed(1)))+"/s"}
function lat(l){var w=l&&l.window;if(!w||!w.count)return "\\u2013";return '<span title="'+esc(w.count+" in the last 30\\u201360 s")+'">'+esc(ms(w.p50)+" / "+ms(w.p99)+" / "+ms(w.max))+"</span>"}
function shown(b){return String(b.state)}
function td(label,html,cls){return '<td data-l="'+esc(label)+'"'+(cls?' class="'+cls+'"':"")+"><div>"+html+"</div></td>"}
function val(v){return typeof v==="object"&&v!==null?JSON.stringify(v):String(v)}
function errs(o){var k=Object.keys(o||{}).filter(function(x){return x!=="ok"&&o[x]>0}).sort();return k.map(function(x){return x+" "+o[x]}).join(" \\u00b7 ")}
function sum(o){var n=0;Object.keys(o||{}).forEach(function(x){if(x!=="ok")n+=o[x]});return n}
function secs(a,b){var t=(Date.parse(a)-Date.parse(b))/1000;return t>0?t:NaN}
function backendRow(b,l,now,p,dt){
var st=shown(b),h=b.health,L=b.latency||{},sub=[],by=b.bytes||{};
if(b.address!==b.id)sub.push(b.address);
sub.push("weight "+b.weight+(b.priority!==undefined?" p"+b.priority:""));
["pod","node","zone"].forEach(function(k){if(b[k]!==undefined)sub.push(k+" "+b[k])});
if(b.slowStart!==undefined)sub.push("slow start "+Math.round(b.slowStart*100)+"%");
if(b.ejectedUntil)sub.push("ejected until "+iso(b.ejectedUntil)+(b.ejectedByWorkers?" by "+b.ejectedByWorkers+" worker(s)":""));
var hc=h?(h.healthy?"healthy":"unhealthy")+(h.lastResult?": "+h.lastResult:"")+(h.lastMs!=null?" ("+ms(h.lastMs)+" ms)":""):"off";
var cr=p&&dt?(b.total-p.total)/dt:NaN,ir=p&&dt?((by.clientToBackend||0)-(p.bytes&&p.bytes.clientToBackend||0))/dt:NaN,or=p&&dt?((by.backendToClient||0)-(p.bytes&&p.bytes.backendToClient||0))/dt:NaN;
var e=errs(b.outcomes),drained=b.state==="maintenance",act=drained?"undrain":"drain";
return '<tr data-backend="'+esc(b.id)+'" data-state="'+esc(st)+'">'+
td("Backend","<code>"+esc(b.id)+"</code>"+'<div class="sub">'+esc(sub.join(" \\u00b7 "))+"</div>")+
td("State",'<span class="b '+esc(st)+'">'+esc(st)+"</span>"+'<div class="sub" title="'+esc("since "+iso(b.stateSince))+'">for '+esc(dur(secs(now,b.stateSince)))+"</div>"+(b.endpointState&&b.endpointState!==st&&b.endpointState!=="ready"?'<div class="sub">discovery: '+esc(b.endpointState)+"</div>":""),"l st")+
td("Active",esc(b.active))+
td("Connections",esc(b.total)+'<div class="sub cr">'+esc(rate(cr))+"</div>")+
td("Errors",esc(b.failures)+" / "+esc(sum(b.outcomes))+(e?'<div class="sub">'+esc(e)+"</div>":""),"l h er")+
td("Health",esc(hc),"l h")+
td(HEAD[6],'<div class="lc"><span class="k">connect</span> '+lat(L.connect)+'</div><div class="lf"><span class="k">first byte</span> '+lat(L.firstByte)+'</div><div class="ls"><span class="k">session</span> '+lat(L.session)+"</div>","la")+
td(HEAD[7],esc(bytes(by.clientToBackend)+" / "+bytes(by.backendToClient))+'<div class="sub br">'+esc(rate(ir,"B")+" / "+rate(or,"B"))+"</div>")+
td(HEAD[8],'<button type="button" data-act="'+act+'" data-id="'+esc(b.id)+'" data-listener="'+esc(l)+'">'+act+"</button>","l")+"</tr>"}
var HEAD=["Backend","State","Active","Connections","Errors (connect / closed)","Health","Latency ms p50 / p99 / max","Bytes c\\u2192b / b\\u2192c","Action"];
function listener(l,now,prev){
var so=l.source||{},extra=[],d=[],pb={},dt=prev?secs(now,prev.now):NaN;
((prev&&prev.ls[l.name])||[]).forEach(function(b){pb[b.id]=b});
Object.keys(so).forEach(function(k){if(k!=="kind"&&k!=="uri"&&so[k]!==undefined&&so[k]!==null)extra.push(k+"="+val(so[k]))});
function dd(k,v){d.push("<div><dt>"+esc(k)+"</dt><dd>"+v+"</dd></div>")}
dd("addresses","<code>"+esc((l.addresses||[]).join(", "))+"</code>");
dd("strategy",esc(l.strategy));
dd("source",esc(so.kind)+" <code>"+esc(so.uri)+"</code>"+(extra.length?' <span class="sub">'+esc(extra.join(" "))+"</span>":""));
dd("tier",'<span class="b '+esc(l.tier)+'">'+esc(l.tier)+"</span>");dd("active",esc(l.activeConnections));dd("queued",esc(l.queued!==undefined?l.queued:0));
var wb=errs(l.withoutBackend);if(wb)dd("closed without a backend",esc(wb));
if(l.updatedAt)dd("backends updated",esc(iso(l.updatedAt)));
var u=l.usable?"yes":"no";
return '<section data-listener="'+esc(l.name)+'"><h2>'+esc(l.name)+'</h2><span class="b '+u+'" title="usable">'+(l.usable?"usable":"no usable backend")+"</span><dl>"+d.join("")+"</dl>"+
((l.backends||[]).length?'<div class="tw"><table><thead><tr>'+HEAD.map(function(h){return "<th>"+esc(h)+"</th>"}).join("")+"</tr></thead><tbody>"+l.backends.map(function(b){return backendRow(b,l.name,now,pb[b.id],dt)}).join("")+"</tbody></table></div>":'<p class="mu">No backends.</p>')+"</section>"}
function keep(r){var ls={};((r&&r.listeners)||[]).forEach(function(l){ls[l.name]=l.backends||[]});return {now:r&&r.now,ls:ls}}
function render(r,prev){var ls=(r&&r.listeners)||[],now=(r&&r.now)||new Date().toISOString();return ls.length?ls.map(function(l){return listener(l,now,prev)}).join(""):'<p class="mu">No listeners.</p>'}
function head(r){if(!r||!r.version)return "";return "version "+r.version+(r.revision&&r.revision!=="unknown"?" ("+r.revision+")":"")+" \\u00b7 up "+dur(secs(r.now,r.startedAt))+" \\u00b7 started "+iso(r.startedAt)+(r.workers?" \\u00b7 "+r.workers+" workers":"")}
if(typeof document!=="undefined"){
var $=function(id){return document.getElementById(id)},last=null,prevText="",prev=null,token=null;
var auth=function(h){if(token)h.authorization="Bearer "+token;return h};
var note=function(t,bad){$("note").textContent=t;$("note").className=bad?"bad":"";$("note").hidden=!t};
var tick=function(again){
var ac=new AbortController(),t=setTimeout(function(){ac.abort()},5000);
fetch("backends",{cache:"no-store",signal:ac.signal,headers:auth({})}).then(function(res){if(res.status===401){$("tok").hidden=false;throw new Error("the admin token is needed (--admin-auth all)")}if(!res.ok)throw new Error("HTTP "+res.status);return res.text()}).then(function(text){
if(text!==prevText){var r=JSON.parse(text);$("main").innerHTML=render(r,prev);$("ver").textContent=head(r);prev=keep(r);prevText=text}
last=new Date();$("err").hidden=true;$("upd").textContent="updated "+iso(last);document.body.dataset.ok="1"
}).catch(function(e){
$("err").textContent="Cannot load /backends ("+(e&&e.name==="AbortError"?"timed out":String(e&&e.message||e))+")"+(last?"; showing data from "+iso(last):"");
$("err").hidden=false;document.body.dataset.ok="0"
}).finally(function(){clearTimeout(t);if(again)setTimeout(function(){tick(true)},document.hidden?10000:2000)})};
var askToken=function(){var t=prompt("Admin token");if(t){token=t.trim();$("tok").hidden=true;return true}return false};
var act=function(btn,retried){
var what=btn.getAttribute("data-act"),id=btn.getAttribute("data-id"),l=btn.getAttribute("data-listener");btn.disabled=true;
fetch("backends/"+encodeURIComponent(id)+"/"+what+"?listener="+encodeURIComponent(l),{method:"POST",cache:"no-store",headers:auth({"content-type":"application/json"}),body:"{}"}).then(function(res){
if(res.status===401&&!retried&&askToken())return act(btn,true);
return res.text().then(function(x){if(!res.ok)throw new Error(x.trim()||"HTTP "+res.status);note(what+" "+id+": done",false);tick(false)})
}).catch(function(e){note("Cannot "+what+" "+id+": "+String(e&&e.message||e),true)}).finally(function(){btn.disabled=false})};
$("main").addEventListener("click",function(ev){var b=ev.target&&ev.target.closest?ev.target.closest("button[data-act]"):null;if(b)act(b,false)});
$("tok").addEventListener("click",function(){if(askToken())tick(false)});
tick(true)}
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
<header><h1>Headway</h1><span id="ver" class="mu"></span><span id="upd" class="mu">loading…</span><span class="mu">refreshes every 2 s</span><nav><a href="backends">/backends</a> <a href="metrics">/metrics</a></nav><button type="button" id="tok" hidden>Enter admin token</button></header>
<p id="err" role="alert" hidden></p>
<p id="note" role="status" hidden></p>
<main id="main"><p class="mu">Loading /backends…</p></main>
<script>${JS}</script>
</body>
</html>
`;

/** The inline script alone (for tests that run it outside a browser). */
export const STATUS_PAGE_SCRIPT = JS;
