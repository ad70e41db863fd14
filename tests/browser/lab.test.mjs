// Why: interlab is used by opening a page. These tests drive the built site (dist/) in a
// real headless Chromium: with WebGPU on its software adapter, and without WebGPU (the CPU
// fallback). They check what a user relies on: the adapter is reported and its kernel
// matches the CPU, training runs live without freezing the page, pause works, bad input is
// refused with a message, and the tab reproduces the native CLI's curve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { serveDist, launch, openPage, runStatus, waitFor, ARTIFACTS } from './harness.mjs';

let server;
before(async () => { server = await serveDist(); fs.mkdirSync(ARTIFACTS, { recursive: true }); });
after(async () => { await server.close(); });

// Tab (wasm) vs native CLI loss after 30 steps: same data and weights, float rounding only.
const TAB_VS_NATIVE_RTOL = 1e-5;

// A small, quick config for tests that only need the loop to run.
const QUICK = 'seed=2&layers=1&heads=2&d_model=32&batch=8&seq_len=24&kv_pairs=4&vocab=32&steps=400&warmup=20&lr=0.005';

test('with WebGPU: the adapter is reported and the matmul kernel matches the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/`);
    const panel = page.locator('[data-testid="gpu-panel"]');
    await waitFor(async () => (await panel.getAttribute('data-mode')) !== 'detecting', 60000, 'WebGPU detection');
    assert.equal(await panel.getAttribute('data-mode'), 'webgpu', await panel.textContent());
    const adapter = page.locator('[data-testid="gpu-adapter"]');
    assert.match(await adapter.textContent(), /BrowserWebGpu/);
    assert.equal(await adapter.getAttribute('data-software'), 'true', 'headless Chromium here has only SwiftShader');
    const check = page.locator('[data-testid="gpu-check"]');
    const result = await waitFor(async () => {
      const r = await check.getAttribute('data-result');
      return r && r !== 'running' ? r : null;
    }, 120000, 'the kernel self-check');
    const report = JSON.parse((await check.getAttribute('data-report')) || 'null');
    assert.equal(result, 'passed', `self-check: ${await check.textContent()}`);
    assert.deepEqual(report.shapes.map((s) => [s.m, s.k, s.n]), [[1, 1, 1], [7, 13, 5], [64, 64, 64], [257, 129, 65]]);
    assert.ok(report.shapes.every((s) => s.ok && s.max_abs_err < 1e-3));
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('without WebGPU: the page says so and still trains on the CPU', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?${QUICK}&autorun=1`);
    const panel = page.locator('[data-testid="gpu-panel"]');
    await waitFor(async () => (await panel.getAttribute('data-mode')) === 'cpu-fallback', 60000, 'the CPU fallback notice');
    assert.match(await page.locator('[data-testid="gpu-adapter"]').textContent(), /No WebGPU/);
    const st = await waitFor(async () => { const s = await runStatus(page); return s.step >= 30 ? s : null; }, 120000, '30 steps');
    assert.equal(st.backend, 'cpu');
    assert.equal(st.runner, 'worker', 'training runs in the Web Worker');
    assert.ok(Number.isFinite(st.loss));
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('autorun trains >= 100 steps live, loss falls, pause takes effect, screenshot saved', async () => {
  const browser = await launch({ webgpu: true });
  try {
    // A long schedule, so the run is still going when the test pauses it (the quick config
    // finishes its 400 steps in a few seconds in the worker, and a finished run has nothing
    // to pause).
    const { page, errors } = await openPage(browser, `${server.url}/?${QUICK.replace('steps=400', 'steps=20000')}&autorun=1`);
    const first = await waitFor(async () => { const s = await runStatus(page); return s.step >= 1 ? s : null; }, 60000, 'the first step');
    assert.equal(first.state, 'running');
    // While training, measure how long the page's own timers are held up (a frozen UI
    // would show gaps of seconds).
    const maxGapMs = await page.evaluate(() => new Promise((resolve) => {
      let last = performance.now(); let max = 0; const t0 = last;
      const tick = () => { const now = performance.now(); max = Math.max(max, now - last); last = now;
        if (now - t0 < 2000) setTimeout(tick, 0); else resolve(max); };
      setTimeout(tick, 0);
    }));
    console.log(`# longest event-loop gap while training: ${maxGapMs.toFixed(1)} ms`);
    assert.ok(maxGapMs < 2000, `the page was unresponsive for ${maxGapMs} ms`);
    const later = await waitFor(async () => { const s = await runStatus(page); return s.step >= 100 ? s : null; }, 180000, '100 steps');
    assert.ok(later.loss < first.loss - 0.3, `loss did not fall: ${first.loss} -> ${later.loss}`);
    assert.ok(later.steps_per_sec > 0);
    // The loss chart has a drawn line.
    const d = await page.locator('[data-testid="loss-chart"] path.series').getAttribute('d');
    assert.ok(d && d.split('L').length > 20, 'loss curve has points');

    await page.locator('[data-testid="pause"]').click();
    const paused = await waitFor(async () => { const s = await runStatus(page); return s.state === 'paused' ? s : null; }, 5000, 'pause');
    await page.waitForTimeout(1000);
    const still = await runStatus(page);
    assert.equal(still.step, paused.step, 'steps continued after pause');
    assert.equal(await page.locator('[data-testid="start"]').textContent(), 'Resume');

    await page.locator('[data-testid="start"]').click();
    await waitFor(async () => { const s = await runStatus(page); return s.step > paused.step + 5 ? s : null; }, 30000, 'resume');
    await page.locator('[data-testid="pause"]').click();
    await page.screenshot({ path: path.join(ARTIFACTS, 'lab-trained.png'), fullPage: true });
    assert.ok(fs.statSync(path.join(ARTIFACTS, 'lab-trained.png')).size > 10000);
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('if the training worker cannot load, training falls back to the main thread, in short slices', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.route('**/interlab-worker_loader.js', (route) => route.abort());
    await page.goto(`${server.url}/?${QUICK.replace('steps=400', 'steps=20000')}&autorun=1`);
    const st = await waitFor(async () => { const s = await runStatus(page); return s.step >= 50 ? s : null; }, 120000, '50 steps on the main thread');
    assert.equal(st.runner, 'main');
    assert.match(await page.locator('[data-testid="message"]').textContent(), /worker unavailable/);
    await page.locator('[data-testid="pause"]').click();
    await waitFor(async () => (await runStatus(page)).state === 'paused', 5000, 'pause on the main thread');
    assert.deepEqual(pageErrors, []);
  } finally { await browser.close(); }
});

test('invalid knobs get inline messages and the run does not start', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?heads=0&lr=fast&autorun=1`);
    await page.locator('[data-testid="error-heads"]').waitFor();
    assert.match(await page.locator('[data-testid="error-heads"]').textContent(), /out of range/);
    assert.match(await page.locator('[data-testid="error-lr"]').textContent(), /not a number/);
    // Fix heads, break d_model divisibility instead.
    await page.locator('[data-testid="cfg-heads"]').fill('3');
    await page.locator('[data-testid="cfg-lr"]').fill('0.003');
    assert.match(await page.locator('[data-testid="error-heads"]').textContent(), /not divisible/);
    await page.locator('[data-testid="start"]').click();
    await page.waitForTimeout(500);
    const st = await runStatus(page);
    assert.equal(st.state, 'idle');
    assert.equal(st.step, 0);
    // A task setting that cannot work names the task's parameter and the limit.
    await page.locator('[data-testid="cfg-heads"]').fill('2');
    await page.locator('[data-testid="cfg-kv_pairs"]').fill('20');
    assert.match(await page.locator('[data-testid="error-seq_len"]').textContent(), /too short for 20 kv pairs/);
    await page.locator('[data-testid="cfg-kv_pairs"]').fill('4');
    // A sequence length over the memory budget is refused with the budget named.
    await page.locator('[data-testid="cfg-seq_len"]').fill('4096');
    assert.match(await page.locator('[data-testid="error-batch"]').textContent(), /MiB budget/);
    await page.locator('[data-testid="cfg-seq_len"]').fill('48');
    assert.equal(await page.locator('[data-testid="error-batch"]').count(), 0);
    assert.equal(await page.locator('[data-testid="error-seq_len"]').count(), 0);
    await page.locator('[data-testid="start"]').click();
    await waitFor(async () => (await runStatus(page)).step >= 2, 60000, 'a valid run to start');
    assert.deepEqual(errors, []);
    // The memory budget from the URL: a raised one admits what the default refuses; a bad
    // one is named by the link gate (core::share), which opens the default lab.
    const { page: big } = await openPage(browser, `${server.url}/?seq_len=1024&budget=2048`);
    await big.locator('.estimate').waitFor();
    assert.equal(await big.locator('[data-testid="error-batch"]').count(), 0);
    assert.match(await big.locator('.estimate').textContent(), /of 2048 MiB budget/);
    const { page: bad } = await openPage(browser, `${server.url}/?seq_len=1024&budget=lots`);
    assert.match(await bad.locator('[data-testid="message"]').textContent(), /budget: 'lots' is not a whole number \(64\.\.=3584\)\. The default lab opened instead/);
    assert.equal(await bad.locator('[data-testid="cfg-seq_len"]').inputValue(), '24', 'the default lab, not the link\'s seq_len');
    assert.equal(await bad.locator('[data-testid="error-batch"]').count(), 0);
  } finally { await browser.close(); }
});

test('the tab reproduces the native CLI curve for the same seed, for every model family', async () => {
  const cli = path.resolve(process.env.CARGO_TARGET_DIR || 'target', 'debug/interlab');
  assert.ok(fs.existsSync(cli), `${cli} missing: the test command builds it with cargo test`);
  const browser = await launch({ webgpu: false });
  try {
    for (const extra of ['', 'model=dlr', 'model=gru', 'model=mhssm', 'mixers=l2']) {
      const pairs = [...QUICK.split('&').map((kv) => kv.replace('steps=400', 'steps=30')), ...(extra ? [extra] : [])];
      // The CLI prints progress (the step lines) on stderr and results on stdout.
      const r = spawnSync(cli, ['train', ...pairs, '--eval-every', '10', '--print-every', '1'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const out = r.stderr;
      const native = Object.fromEntries([...out.matchAll(/^step\s+(\d+)\s+loss ([0-9.e-]+)/gm)].map((m) => [Number(m[1]), Number(m[2])]));
      assert.ok(native[30], `native run printed no step 30:\n${out}`);
      const finalLoss = async () => {
        const { page } = await openPage(browser, `${server.url}/?${pairs.join('&')}&autorun=1`);
        const st = await waitFor(async () => { const s = await runStatus(page); return s.state === 'done' ? s : null; }, 120000, 'the 30-step run');
        await page.close();
        return st.loss;
      };
      const [a, b] = [await finalLoss(), await finalLoss()];
      assert.equal(a, b, `${extra || 'transformer'}: two runs of the same link in the tab must agree bit for bit`);
      // Native and wasm use different matmul kernels (SIMD widths) and math libraries, so
      // they agree to rounding.
      const rel = Math.abs(a - native[30]) / native[30];
      console.log(`# ${extra || 'model=transformer'} step 30 loss: tab ${a} (twice) vs native ${native[30]} (relative difference ${rel.toExponential(2)})`);
      assert.ok(rel < TAB_VS_NATIVE_RTOL, `${extra}: tab loss ${a} vs native ${native[30]}`);
    }
  } finally { await browser.close(); }
});

test('weights download as a safetensors checkpoint that the native CLI evaluates', async () => {
  const cli = path.resolve(process.env.CARGO_TARGET_DIR || 'target', 'debug/interlab');
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?${QUICK.replace('steps=400', 'steps=30')}&autorun=1`);
    const st = await waitFor(async () => { const s = await runStatus(page); return s.state === 'done' ? s : null; }, 120000, 'the 30-step run');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="download-checkpoint"]').click()]);
    assert.match(download.suggestedFilename(), /^interlab-weights-mqar-s2-v\d+\.\d+\.\d+\.safetensors$/);
    const file = path.join(ARTIFACTS, download.suggestedFilename());
    await download.saveAs(file);
    const out = execFileSync(cli, ['eval', '--checkpoint', file], { encoding: 'utf8' });
    const acc = Number(out.match(/heldout_acc ([0-9.]+)/)[1]);
    console.log(`# checkpoint from the tab, evaluated natively: ${out.trim()} (tab held-out accuracy ${st.eval_accuracy})`);
    assert.match(out, /task mqar model transformer step 30/);
    // Same weights and held-out set; native and wasm arithmetic differ only in rounding.
    assert.ok(Math.abs(acc - st.eval_accuracy) < 2e-3, `native ${acc} vs tab ${st.eval_accuracy}`);
    assert.equal((await runStatus(page)).state, 'done', 'saving does not change the run');
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

// Why: the learning curve is what a user plots elsewhere (R, pandas); the download must be
// tidy CSV with one train_loss row per step, named after the task, seed and lab version.
test('the learning curve downloads as tidy CSV: one finite train_loss per step 1..N', async () => {
  const N = 30; // more than QUICK's warmup (20): a shorter run is refused
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?${QUICK.replace('steps=400', `steps=${N}`)}&autorun=1`);
    await waitFor(async () => { const s = await runStatus(page); return s.state === 'done' ? s : null; }, 120000, `the ${N}-step run`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="download-curve"]').click()]);
    assert.match(download.suggestedFilename(), /^interlab-curve-mqar-s2-v\d+\.\d+\.\d+\.csv$/);
    const text = fs.readFileSync(await download.path(), 'utf8');
    const [header, ...rows] = text.trimEnd().split('\n').map((l) => l.split(','));
    assert.deepEqual(header, ['step', 'metric', 'value']);
    assert.ok(rows.every((r) => r.length === 3), 'three plain fields per row (nothing needed quoting)');
    const loss = rows.filter((r) => r[1] === 'train_loss');
    assert.deepEqual(loss.map((r) => Number(r[0])), Array.from({ length: N }, (_, i) => i + 1));
    assert.ok(loss.every((r) => Number.isFinite(Number(r[2])) && Number(r[2]) > 0), `losses: ${loss.map((r) => r[2])}`);
    assert.ok(rows.some((r) => r[1] === 'heldout_accuracy'), 'the evaluations are in the file too');
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('the default config learns MQAR in the tab (held-out accuracy >= 95%)', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?autorun=1`);
    const t0 = Date.now();
    const st = await waitFor(async () => {
      const s = await runStatus(page);
      return (s.eval_accuracy ?? 0) >= 0.95 || s.state === 'done' || s.state === 'error' ? s : null;
    }, 480000, 'held-out accuracy >= 0.95');
    console.log(`# default config in the tab: held-out accuracy ${st.eval_accuracy} at step ${st.step} after ${((Date.now() - t0) / 1000).toFixed(1)} s (${st.steps_per_sec?.toFixed(1)} steps/s)`);
    assert.ok(st.eval_accuracy >= 0.95, `stopped at ${JSON.stringify(st)}`);
    if ((await runStatus(page)).state === 'running') await page.locator('[data-testid="pause"]').click();
    await page.screenshot({ path: path.join(ARTIFACTS, 'lab-default-learned.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});
