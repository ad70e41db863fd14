// Why: a share link is how a teacher puts a run in slides and how a reviewer sees exactly a
// researcher's curve. A link copied from the lab must reproduce the run bit for bit in a
// fresh browser profile (the WASM CPU path is single-threaded and IEEE-deterministic), a run
// bundle must carry the run out and back in (and continue it exactly), an embed link must
// hide what it says and autoplay, and a hostile link must open the default lab with a
// message naming the problem — never a panic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serveDist, launch, openPage, waitFor, runStatus, ARTIFACTS } from './harness.mjs';

let server;
before(async () => { server = await serveDist(); fs.mkdirSync(ARTIFACTS, { recursive: true }); });
after(async () => { await server.close(); });

const done = (page, what, ms = 180000) => waitFor(async () => { const s = await runStatus(page); return s.state === 'done' ? s : null; }, ms, what);

async function exportBundle(page, name) {
  const [d] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="export-bundle"]').click()]);
  const file = path.join(ARTIFACTS, name);
  await d.saveAs(file);
  return { file, suggested: d.suggestedFilename(), bytes: fs.readFileSync(file) };
}

/** The bundle's header entry (safetensors: 8-byte little-endian length, then JSON). */
function header(bytes) {
  const n = Number(bytes.readBigUInt64LE(0));
  const h = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  return JSON.parse(h.__metadata__.interlab);
}

const losses = (csv) => csv.split('\n').filter((l) => l.includes(',train_loss,')).map((l) => l.split(',')[2]);

test('a link copied from the lab reproduces the run bit for bit in a fresh profile, and its bundle continues it exactly', async () => {
  const browser = await launch({ webgpu: false });
  try {
    // A researcher sets up a run by hand and copies its link.
    const a = await browser.newContext();
    const pa = await a.newPage();
    const errors = [];
    pa.on('pageerror', (e) => errors.push(e.message));
    await pa.goto(`${server.url}/`);
    for (const [k, v] of Object.entries({ seed: '11', layers: '1', d_model: '32', batch: '8', steps: '120', warmup: '10', lr: '0.004' })) {
      await pa.locator(`[data-testid="cfg-${k}"]`).fill(v);
    }
    await pa.locator('[data-testid="start"]').click();
    const first = await done(pa, 'the hand-made run');
    await pa.locator('[data-testid="copy-link"]').click();
    const link = await waitFor(async () => (await pa.locator('[data-testid="share-link"]').count()) && pa.locator('[data-testid="share-link"]').inputValue(), 5000, 'the link');
    assert.match(link, /seed=11/);
    const promise = await waitFor(async () => (await pa.locator('[data-testid="copy-link-status"]').textContent()) || null, 5000, 'the copy status');
    assert.match(promise, /reproduces this run bit for bit/, 'the UI states what the link reproduces');
    await pa.locator('[data-testid="share-close"]').click();
    assert.equal(await pa.locator('[data-testid="share-link"]').count(), 0, 'the panel closes');
    assert.match(link, /[?&]v=/, 'the link carries the lab version');
    const A = await exportBundle(pa, 'share-a.safetensors');
    assert.match(A.suggested, /^interlab-run-mqar-s11-v\d+\.\d+\.\d+\.safetensors$/);

    // A reviewer opens the link in a fresh profile and presses Start.
    const b = await browser.newContext();
    const pb = await b.newPage();
    await pb.goto(link);
    await pb.locator('[data-testid="start"]').click();
    const second = await done(pb, 'the reviewer\'s run');
    const B = await exportBundle(pb, 'share-b.safetensors');
    const [ha, hb] = [header(A.bytes), header(B.bytes)];
    const [la, lb] = [losses(ha.bundle.metrics_csv), losses(hb.bundle.metrics_csv)];
    assert.equal(la.length, 120, 'a loss per step');
    assert.deepEqual(lb, la, 'the same losses, bit for bit, for all 120 steps');
    assert.equal(second.loss, first.loss);
    assert.ok(A.bytes.equals(B.bytes), 'the same bundle, byte for byte: config, weights, optimiser state, metrics, link');

    // Continue: pause a run mid-way, export, import it in a fresh profile, resume.
    const c = await browser.newContext();
    const pc = await c.newPage();
    await pc.goto(link);
    await pc.locator('[data-testid="start"]').click();
    await waitFor(async () => (await runStatus(pc)).step >= 30, 60000, 'step 30');
    await pc.locator('[data-testid="pause"]').click();
    const paused = await waitFor(async () => { const s = await runStatus(pc); return s.state === 'paused' ? s : null; }, 10000, 'the pause');
    const C = await exportBundle(pc, 'share-c.safetensors');
    const d = await browser.newContext();
    const pd = await d.newPage();
    pd.on('pageerror', (e) => errors.push(e.message));
    await pd.goto(`${server.url}/`);
    await pd.locator('[data-testid="upload-checkpoint"]').setInputFiles(C.file);
    const loaded = await waitFor(async () => { const s = await runStatus(pd); return s.state === 'paused' && s.step === paused.step ? s : null; }, 30000, 'the imported run');
    assert.match(await pd.locator('[data-testid="message"]').textContent(), /run bundle .* with its curve.*continues the run exactly/);
    assert.equal(await pd.locator('[data-testid="cfg-seed"]').inputValue(), '11', 'the form shows the bundle\'s config');
    await pd.locator('[data-testid="start"]').click();
    const resumed = await done(pd, 'the resumed run');
    assert.equal(resumed.loss, first.loss, 'continuing the bundle ends exactly where the uninterrupted run did');
    const D = await exportBundle(pd, 'share-d.safetensors');
    assert.deepEqual(losses(header(D.bytes).bundle.metrics_csv), la, 'and the whole curve matches');
    // Drag and drop opens a bundle too.
    const e = await browser.newContext();
    const pe = await e.newPage();
    await pe.goto(`${server.url}/`);
    await pe.locator('main.layout').waitFor({ state: 'attached' }); // the app has mounted
    const data = A.bytes.toString('base64');
    await pe.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'dropped-run.safetensors'));
      document.querySelector('main.layout').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, data);
    const dropped = await waitFor(async () => { const s = await runStatus(pe); return s.step === 120 ? s : null; }, 30000, 'the dropped bundle');
    assert.match(await pe.locator('[data-testid="message"]').textContent(), /dropped-run\.safetensors/);
    assert.deepEqual(errors, []);
    console.log(`# share link (${link.length} chars) reproduced 120 steps bit for bit; bundles ${A.bytes.length} bytes, identical; paused at ${paused.step}, imported, resumed to the same final loss ${resumed.loss}; dropped bundle at step ${dropped.step}`);
    for (const ctx of [a, b, c, d, e]) await ctx.close();
  } finally { await browser.close(); }
});

test('an embed link hides what it names and autoplays; the full lab is one click away', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'seed=3&layers=1&heads=2&d_model=16&batch=8&seq_len=16&kv_pairs=3&vocab=16&steps=30&warmup=5&task=mqar';
    const { page, errors } = await openPage(browser, `${server.url}/?${q}&autorun=1&embed=1&hide=controls,gpu,views,steer,status`);
    await waitFor(async () => (await page.evaluate(() => document.querySelector('[data-testid="run-status"]')?.textContent ?? '')).includes('"done"'), 60000, 'the embedded run');
    assert.equal(await page.locator('header.topbar').isVisible(), false, 'no top bar');
    assert.equal(await page.locator('[data-testid="cfg-seed"]').isVisible(), false, 'no controls');
    assert.equal(await page.locator('[data-testid="loss-chart"]').isVisible(), true, 'the chart stays');
    assert.equal(await page.locator('[data-testid="start"]').isVisible(), true, 'the run bar stays');
    const full = await page.locator('[data-testid="open-full"]').getAttribute('href');
    assert.match(full, /seed=3/);
    assert.doesNotMatch(full, /embed|hide/);
    assert.deepEqual(errors.filter((e) => !/favicon/.test(e)), []);
  } finally { await browser.close(); }
});

test('the views\' state travels in the link: open, with the same example seed', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'seed=3&layers=1&heads=2&d_model=16&batch=8&seq_len=16&kv_pairs=3&vocab=16&steps=30&warmup=5&task=mqar';
    const { page, errors } = await openPage(browser, `${server.url}/?${q}&autorun=1&views=1&vseed=7`);
    await done(page, 'the run');
    assert.equal(await page.locator('[data-testid="views"]').getAttribute('open'), '', 'the views open');
    assert.equal(await page.locator('[data-testid="view-seed"]').inputValue(), '7');
    await waitFor(async () => (await page.locator('[data-testid="attention-map"]').count()) === 2, 30000, 'the attention maps of example 7');
    assert.match(page.url(), /views=1/);
    assert.match(page.url(), /vseed=7/, 'a started run keeps the views in its link');
    await page.locator('[data-testid="views"] > summary').click();
    await waitFor(async () => !/views=1/.test(page.url()), 5000, 'views=1 to leave the link');
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('hostile links open the default lab with a message naming the problem; another version opens with a note', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const cases = [
      [`seed=${'9'.repeat(9000)}`, /at most 8192/],
      ['autorun=maybe&seed=5', /autorun: 'maybe' is not 1, true, 0 or false/],
      ['lf=9&seed=5', /lf: link format 9 is not known/],
      ['z=AAAA', /z: not a compressed link/],
      ['hide=everything&autorun=1', /hide: 'everything' is not one of/],
      ['page=admin', /page: 'admin' is not one of/],
    ];
    let slowest = 0;
    for (const [q, want] of cases) {
      const { page, errors } = await openPage(browser, `${server.url}/?${q}`);
      await page.locator('header.topbar').waitFor({ state: 'attached' });
      slowest = Math.max(slowest, Number(await page.locator('header.topbar').getAttribute('data-link-ms')));
      const msg = await waitFor(async () => (await page.locator('[data-testid="message"]').count()) && page.locator('[data-testid="message"]').textContent(), 10000, `the message for ${q.slice(0, 40)}`);
      assert.match(msg, want);
      assert.match(msg, /default lab opened instead/);
      assert.equal(await page.locator('[data-testid="cfg-seed"]').inputValue(), '1', 'the default lab');
      assert.equal((await runStatus(page)).state, 'idle', 'nothing autoran');
      assert.deepEqual(errors.filter((e) => e.startsWith('pageerror')), [], q);
      await page.close();
    }
    const { page } = await openPage(browser, `${server.url}/?v=0.0.1&seed=5`);
    const note = await waitFor(async () => (await page.locator('[data-testid="message"]').count()) && page.locator('[data-testid="message"]').textContent(), 10000, 'the version note');
    assert.match(note, /made with interlab 0\.0\.1/);
    assert.equal(await page.locator('[data-testid="cfg-seed"]').inputValue(), '5', 'it still opens with its settings');
    console.log(`# hostile links in the tab: ${cases.length} refused with a message, default lab shown (slowest link check ${slowest} ms); an old version's link opened with a note`);
  } finally { await browser.close(); }
});
