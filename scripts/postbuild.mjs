// Finish dist/ for static hosting (run by scripts/build.sh after `trunk build`):
// 1. Trunk's inline start-up script moves to its own file (boot-HASH.js), so the page needs
//    no inline script, and a Content-Security-Policy <meta> goes first in <head>:
//    script-src 'self' 'wasm-unsafe-eval', connect-src 'self' (no request to another origin).
// 2. A service worker (sw.js) precaches every file of dist/, so the lab works offline after
//    the first visit. Its cache is named by a hash of all files: a new build replaces it.
// All URLs stay relative, so dist/ works at a host's root or under any sub-path.
// Usage: node scripts/postbuild.mjs [dist]
// CSP_CONNECT="https://data.example.org" adds origins to connect-src (a study protocol's
// endpoint; nothing else in the lab connects anywhere but its own origin).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const dist = path.resolve(process.argv[2] || 'dist');
const indexPath = path.join(dist, 'index.html');
let html = fs.readFileSync(indexPath, 'utf8');
const hash = (data) => crypto.createHash('sha256').update(data).digest('hex');

export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  `connect-src 'self'${process.env.CSP_CONNECT ? ' ' + process.env.CSP_CONNECT : ''}`,
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'none'",
].join('; ');

// 1. Inline scripts out, CSP in.
const inline = /<script type="module">([\s\S]*?)<\/script>/g;
const bodies = [...html.matchAll(inline)].map((m) => m[1]);
if (bodies.length !== 1 && !html.includes('boot-')) throw new Error(`expected Trunk's one inline start-up script in ${indexPath}, found ${bodies.length}`);
if (bodies.length === 1) {
  const register = `
// Offline after the first visit (scripts/postbuild.mjs writes sw.js).
if ('serviceWorker' in navigator) navigator.serviceWorker.register('./sw.js').catch((e) => console.warn('interlab: no offline copy:', e));
`;
  const boot = bodies[0].trim() + '\n' + register;
  const name = `boot-${hash(boot).slice(0, 16)}.js`;
  for (const f of fs.readdirSync(dist).filter((f) => /^boot-[0-9a-f]+\.js$/.test(f))) fs.rmSync(path.join(dist, f));
  fs.writeFileSync(path.join(dist, name), boot);
  html = html.replace(inline, `<script type="module" src="./${name}"></script>`);
}
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html)) throw new Error('an inline <script> is left in index.html');
if (/\son[a-z]+=/i.test(html)) throw new Error('an inline event handler is in index.html');
html = html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>\n?/g, '');
const csp = `<meta http-equiv="Content-Security-Policy" content="${CSP}">`;
html = html.includes('<meta charset="utf-8">') ? html.replace('<meta charset="utf-8">', `<meta charset="utf-8">\n  ${csp}`) : html.replace('<head>', `<head>\n  ${csp}`);
fs.writeFileSync(indexPath, html);

// 2. The service worker, precaching every file.
const files = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name !== 'sw.js') files.push(path.relative(dist, p).split(path.sep).join('/'));
  }
};
walk(dist);
files.sort();
const version = hash(files.map((f) => f + ':' + hash(fs.readFileSync(path.join(dist, f)))).join('\n')).slice(0, 16);
const urls = files.map((f) => (f === 'index.html' ? './' : `./${f}`));
const sw = `// interlab's offline copy, written by scripts/postbuild.mjs: every file of this build is
// cached at install. Files whose names carry a content hash come from the cache first; pages
// and every other file (the worker's loader, study protocols, models) from the network first,
// so a new deployment or an edited protocol shows at once, and from the cache when offline.
const CACHE = 'interlab-${version}';
const FILES = ${JSON.stringify(urls, null, 1)};
self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('interlab-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  if (req.mode === 'navigate') {
    const page = new URL('./', self.registration.scope).href;
    e.respondWith(fetch(req).catch(() => caches.open(CACHE).then((c) => c.match(page)).then((hit) => hit || Response.error())));
    return;
  }
  if (/-[0-9a-f]{16}(_bg)?\.(js|wasm|css)$/.test(new URL(req.url).pathname)) {
    e.respondWith(caches.open(CACHE).then((c) => c.match(req, { ignoreSearch: true })).then((hit) => hit || fetch(req)));
    return;
  }
  e.respondWith(fetch(req).catch(() => caches.open(CACHE).then((c) => c.match(req, { ignoreSearch: true })).then((hit) => hit || Response.error())));
});
`;
fs.writeFileSync(path.join(dist, 'sw.js'), sw);
console.log(`[postbuild] ${path.relative(process.cwd(), indexPath)}: no inline script, CSP set; sw.js precaches ${files.length} files (cache interlab-${version})`);
