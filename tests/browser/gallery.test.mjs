// Why: the task gallery is how a user (or another tool) sees what a task really generates.
// Against the built site in headless Chromium: every registered task renders an example
// whose JSON equals the native CLI's `interlab tasks sample` output for the same seed and
// parameters; a new seed gives new data; a bad parameter is named, never a panic; "Train on
// this task" trains it in the lab (regression tasks with an MSE metric); and generation
// speed can be measured in the tab.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { serveDist, launch, openPage, runStatus, waitFor, ARTIFACTS } from './harness.mjs';

let server;
before(async () => { server = await serveDist(); fs.mkdirSync(ARTIFACTS, { recursive: true }); });
after(async () => { await server.close(); });

const CLI = path.resolve(process.env.CARGO_TARGET_DIR || 'target', 'debug/interlab');

async function example(page) {
  const text = await page.locator('[data-testid="task-example"]').textContent();
  return JSON.parse(text);
}

function cliSample(name, seed, params) {
  const args = ['tasks', 'sample', name, '--example-seed', String(seed)];
  for (const [k, v] of Object.entries(params)) args.push(`${k}=${v}`);
  return JSON.parse(execFileSync(CLI, args, { encoding: 'utf8' }));
}

test('every task renders an example equal to the native CLI sample', async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} missing: the test command builds it with cargo test`);
  const listed = execFileSync(CLI, ['tasks', 'list'], { encoding: 'utf8' });
  const names = [...listed.matchAll(/^(\S+) \[/gm)].map((m) => m[1]);
  assert.ok(names.length >= 20, `only ${names.length} tasks listed`);
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?page=gallery`);
    const select = page.locator('[data-testid="gallery-task"]');
    // The select is drawn once the wasm has started: wait for it (evaluateAll does not).
    const options = await waitFor(async () => { const o = await select.locator('option').evaluateAll((os) => os.map((x) => x.value)); return o.length ? o : null; }, 30000, 'the gallery task list');
    assert.deepEqual([...options].sort(), [...names].sort(), 'gallery and CLI list the same tasks');
    for (const name of names) {
      await select.selectOption(name);
      const ex = await waitFor(async () => { const e = await example(page); return e.task === name ? e : null; }, 20000, `${name} example`);
      const n = ex.shape.seq_len;
      assert.equal(ex.inputs.length, n, name);
      assert.equal(ex.targets.length, n, name);
      assert.equal(ex.mask.length, n, name);
      assert.ok(ex.mask.flat().some((m) => m === 1), `${name}: nothing scored`);
      assert.deepEqual(ex, cliSample(name, ex.seed, ex.params), `${name}: tab and CLI differ`);
      if (name === 'pathfinder') {
        assert.match(await page.locator('[data-testid="example-image"]').getAttribute('src'), /^data:image\/bmp;base64,/);
        await page.screenshot({ path: path.join(ARTIFACTS, 'gallery-pathfinder.png'), fullPage: true });
      }
    }
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('new seed, bad parameters, and training a task from the gallery', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?page=gallery&task=shift&gseed=1`);
    const a = await example(page);
    assert.equal(a.task, 'shift');
    await page.locator('[data-testid="gallery-reseed"]').click();
    const b = await waitFor(async () => { const e = await example(page); return e.seed === 2 ? e : null; }, 5000, 'a new example');
    assert.notDeepEqual(a.inputs, b.inputs, 'a new seed gives new data');
    assert.match(page.url(), /gseed=2/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'gallery-shift.png'), fullPage: true });

    // A shift as long as the sequence cannot work: the parameter and limit are named.
    await page.locator('[data-testid="gallery-param-max_shift"]').fill(String(a.shape.seq_len));
    assert.match(await page.locator('[data-testid="gallery-error-max_shift"]').textContent(), /max_shift|shift/i);
    assert.ok(await page.locator('[data-testid="gallery-invalid"]').isVisible());
    assert.ok(await page.locator('[data-testid="gallery-train"]').isDisabled());
    await page.locator('[data-testid="gallery-param-max_shift"]').fill('4');

    await page.locator('[data-testid="gallery-train"]').click();
    const st = await waitFor(async () => { const s = await runStatus(page); return s.step >= 5 ? s : null; }, 120000, 'training on shift');
    assert.equal(st.task, 'shift');
    assert.match(page.url(), /task=shift/);
    assert.match(page.url(), /max_shift=4/);
    assert.equal(await page.locator('[data-testid="cfg-task"]').inputValue(), 'shift');
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('a regression task trains in the tab with an MSE metric', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'task=cumsum&seq_len=32&layers=1&heads=2&d_model=32&batch=8&steps=60&warmup=5&lr=0.003&autorun=1';
    const { page, errors } = await openPage(browser, `${server.url}/?${q}`);
    const st = await waitFor(async () => { const s = await runStatus(page); return s.state === 'done' || s.state === 'error' ? s : null; }, 120000, 'the cumsum run');
    assert.equal(st.state, 'done', JSON.stringify(st));
    assert.equal(st.accuracy, null);
    assert.ok(Number.isFinite(st.eval_mse) && st.eval_mse >= 0, JSON.stringify(st));
    assert.ok(await page.locator('[data-testid="mse-chart"]').isVisible());
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('generation speed is measured in the tab', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?page=gallery`);
    await page.locator('[data-testid="gen-bench-run"]').click();
    const out = page.locator('[data-testid="gen-bench"]');
    await waitFor(async () => (await out.getAttribute('data-state')) === 'done', 180000, 'the generation benchmark');
    const rows = (await out.textContent()).trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(rows.length >= 3);
    for (const r of rows) {
      assert.ok(!r.error, r.error);
      assert.ok(r.sequences_per_sec > 0, JSON.stringify(r));
      console.log(`# gen wasm ${r.case} L=${r.seq_len} batch=${r.batch} seq/s=${r.sequences_per_sec.toFixed(1)} positions/s=${r.positions_per_sec.toExponential(3)}`);
    }
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('every model family trains in the tab: mixers, LSTM, GRU (and a bad mixer list is named)', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const base = 'task=shift&seq_len=16&vocab=8&channels=2&max_shift=2&layers=2&heads=2&d_model=16&batch=8&steps=20&warmup=2&lr=0.003';
    for (const m of ['model=transformer&mixers=attn,static', 'model=transformer&mixers=l2', 'model=transformer&mixers=qk_pos', 'model=lstm', 'model=gru', 'model=dlr', 'model=s4d', 'model=mhssm']) {
      const { page, errors } = await openPage(browser, `${server.url}/?${base}&${m}&autorun=1`);
      const st = await waitFor(async () => { const s = await runStatus(page); return s.state === 'done' || s.state === 'error' ? s : null; }, 120000, m);
      assert.equal(st.state, 'done', `${m}: ${JSON.stringify(st)}`);
      assert.ok(Number.isFinite(st.loss) && st.eval_accuracy !== null, m);
      assert.equal(`model=${st.model}` + (st.model === 'transformer' ? `&mixers=${st.mixers}` : ''), m);
      assert.deepEqual(errors, []);
      await page.close();
    }
    const { page } = await openPage(browser, `${server.url}/?${base}&mixers=attn,flash`);
    assert.match(await page.locator('[data-testid="error-mixers"]').textContent(), /unknown mixer 'flash'/);
    await page.locator('[data-testid="cfg-mixers"]').fill('attn,none,attn');
    assert.match(await page.locator('[data-testid="error-mixers"]').textContent(), /3 mixers listed for 2 layers/);
  } finally { await browser.close(); }
});
