// Why: interlab is a static site. It must run from any static host — at the root or under a
// sub-path — keep working offline after the first visit (a class in a room with bad Wi-Fi),
// and hold to a strict Content-Security-Policy with no inline script and no request to any
// other origin, so it can be embedded and audited. These tests check the built dist/ as a
// host would serve it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serveDist, launch, waitFor, runStatus, DIST } from './harness.mjs';

const RUN = 'seed=3&layers=1&heads=2&d_model=16&batch=8&seq_len=16&kv_pairs=3&vocab=16&steps=40&warmup=5&lr=0.005&task=mqar';

test('index.html has no inline script and a CSP of script-src self + wasm-unsafe-eval; every script is a file', () => {
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const csp = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)">/);
  assert.ok(csp, 'a CSP meta tag');
  assert.match(csp[1], /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.match(csp[1], /connect-src 'self'/);
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
    assert.match(m[1], /\bsrc="\.\//, `a script loads a relative file: ${m[0]}`);
    assert.equal(m[2].trim(), '', 'no inline script body');
  }
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler');
  assert.doesNotMatch(html, /(src|href)="\/[^/]/, 'no root-absolute URL (dist/ works under a sub-path)');
  assert.ok(fs.existsSync(path.join(DIST, 'sw.js')), 'the service worker');
});

test('a full session under a sub-path: no CSP violation, no request to another origin; then offline, reload and train', async () => {
  const server = await serveDist({ base: '/labs/interlab/' });
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const requests = [], problems = [];
    context.on('request', (r) => requests.push(r.url()));
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`); });
    const root = `${server.url}/labs/interlab/`;
    await page.goto(`${root}?${RUN}&autorun=1`);
    await waitFor(async () => (await runStatus(page)).state === 'done', 120000, 'the run under a sub-path');
    // The rest of the lab: the views of the model just trained (attention maps are data: URLs
    // under img-src), every page, and a steering request (a patching sweep: its forward passes
    // run in the lab's worker).
    await page.locator('[data-testid="views"] summary').click();
    await waitFor(async () => (await page.locator('[data-testid="attention-map"]').count()) === 2, 60000, '1 layer x 2 heads of attention maps');
    for (const tab of ['nav-gallery', 'nav-experiments', 'nav-results', 'nav-lab']) {
      await page.locator(`[data-testid="${tab}"]`).click();
      await page.waitForTimeout(300);
    }
    const steer = await context.newPage();
    steer.on('pageerror', (e) => problems.push(`steer pageerror: ${e.message}`));
    await steer.goto(`${root}?seed=4&task=in_context_recall&seq_len=16&layers=1&heads=2&d_model=16&batch=8&steps=10&warmup=2&st_b=keys=4&autorun=1&steer=patch`);
    await waitFor(async () => {
      if (await steer.locator('[data-testid="steer-error"]').count()) throw new Error(await steer.locator('[data-testid="steer-error"]').textContent());
      return (await steer.locator('[data-testid="steer-patch-report"]').count()) > 0;
    }, 180000, 'the patching report');
    assert.ok(await steer.locator('[data-testid="steer-patch-heat"] tbody tr').count() > 0, 'a patching table');
    await page.locator('[data-testid="copy-link"]').click();
    await waitFor(async () => (await page.locator('[data-testid="share-link"]').count()) > 0, 5000, 'the link');
    const study = await context.newPage();
    study.on('pageerror', (e) => problems.push(`study pageerror: ${e.message}`));
    await study.goto(`${root}?page=study&study=advisor-manipulation&participant=csp-1`);
    await waitFor(async () => (await study.locator('[data-testid="study-agree"]').count()) > 0, 30000, 'the consent screen');
    await study.locator('[data-testid="study-agree"]').click();
    await waitFor(async () => (await study.locator('[data-testid="study"]').getAttribute('data-screen')) === 'trial-1', 30000, 'the next trial');
    const violations = [...await page.evaluate(() => window.__csp), ...await study.evaluate(() => window.__csp), ...await steer.evaluate(() => window.__csp)];
    assert.deepEqual(violations, [], 'no CSP violation');
    assert.deepEqual(problems, []);
    const off = requests.filter((u) => !u.startsWith(`${server.url}/labs/interlab/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
    assert.deepEqual(off, [], 'every request stays under the sub-path of the lab\'s origin');
    console.log(`# full session under /labs/interlab/: ${requests.length} requests, all same-origin; 0 CSP violations`);

    // Offline after the first visit: the service worker serves the lab, the run trains.
    await waitFor(() => page.evaluate(() => navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)), 30000, 'the service worker to control the page');
    await study.close();
    await steer.close();
    await context.setOffline(true);
    await page.goto(`${root}?${RUN.replace('seed=3', 'seed=4')}&autorun=1`);
    const st = await waitFor(async () => { const s = await runStatus(page); return s.state === 'done' ? s : null; }, 120000, 'the offline run');
    assert.equal(st.step, 40);
    assert.ok(Number.isFinite(st.loss));
    console.log(`# offline: the lab reloaded from its service worker and trained ${st.step} steps (loss ${st.loss.toFixed(4)})`);
    await context.setOffline(false);
  } finally {
    await browser.close();
    await server.close();
  }
});
