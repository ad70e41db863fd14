// Why: the experiments page is how the lab answers "which architecture can do this task":
// several models on one task, seed and budget, side by side. These tests drive it in the
// built site: arms train to the end, each arm's curve is exactly the lab's curve for its
// config, the table and the exports hold what the run did, and a bad experiment file is
// refused with a message that names its place without losing the results on screen.
// They also cover the model views (attention maps, DLR spectrum) and loading weights.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serveDist, launch, openPage, runStatus, waitFor, ARTIFACTS } from './harness.mjs';

let server;
before(async () => { server = await serveDist(); fs.mkdirSync(ARTIFACTS, { recursive: true }); });
after(async () => { await server.close(); });

const SMALL = 'seed=3&layers=2&heads=2&d_model=16&batch=8&seq_len=16&kv_pairs=3&vocab=16&steps=30&warmup=5&lr=0.005';

async function results(page) {
  return JSON.parse(await page.locator('[data-testid="exp-status"]').textContent());
}

test('a custom comparison trains every arm; arms equal lab runs; CSV and JSON exports; bad files are refused', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?page=experiments&${SMALL}&arms=attn,none,dlr&autorun=1`);
    const rows = await waitFor(async () => {
      const r = await results(page);
      return r.length === 3 && r.every((x) => x.state === 'done') ? r : null;
    }, 240000, 'three arms done');
    // A rare flake once showed arms "done" with a null loss: keep everything the page said.
    if (rows.some((r) => r.loss == null || r.steps_per_sec == null)) {
      const msg = await page.locator('[data-testid="exp-message"]').textContent().catch(() => '');
      assert.fail(`an arm is done without a loss or a speed: ${JSON.stringify(rows)}; message: ${msg}; page errors: ${JSON.stringify(errors)}`);
    }
    console.log(`# experiment: ${rows.map((r) => `${r.label}: loss ${r.loss.toFixed(4)}, acc ${r.accuracy}, ${r.params} params, ${r.steps_per_sec.toFixed(1)} steps/s`).join('; ')}`);
    assert.deepEqual(rows.map((r) => [r.model, r.mixers]), [['transformer', 'attn'], ['transformer', 'none'], ['dlr', '']]);
    for (const r of rows) {
      assert.equal(r.steps, 30);
      assert.equal(r.seed, 3);
      assert.equal(r.task, 'mqar');
      assert.ok(r.params > 0 && r.steps_per_sec > 0 && Number.isFinite(r.loss) && r.accuracy >= 0, JSON.stringify(r));
      assert.match(r.backend, /^cpu/);
    }
    assert.notEqual(rows[0].params, rows[2].params, 'different families have different sizes');
    assert.equal(await page.locator('[data-testid="exp-loss-chart"] path.series').count(), 3);
    // One evaluation per arm (at step 30) is a lone point: each is marked, not lost.
    assert.equal(await page.locator('[data-testid="exp-metric-chart"] circle.point').count(), 3);
    assert.equal(await page.locator('[data-testid="exp-row"]').count(), 3);
    await page.screenshot({ path: path.join(ARTIFACTS, 'experiments.png'), fullPage: true });

    // Exports.
    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="exp-csv"]').click()]);
    const csv = fs.readFileSync(await csvDl.path(), 'utf8').trim().split('\n');
    assert.equal(csv.length, 4);
    assert.match(csv[0], /^label,model,mixers,task,seed,params,steps,final_loss,heldout_accuracy/);
    assert.equal(Number(csv[3].split(',')[7]), rows[2].loss);
    const [jsonDl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="exp-json"]').click()]);
    const exp = JSON.parse(fs.readFileSync(await jsonDl.path(), 'utf8'));
    assert.equal(exp.arms.length, 3);
    assert.ok(exp.arms.every((a) => a.config.seed === 3 && a.config.steps === 30));

    // A bad experiment file: a message with the place; the results stay.
    const bad = structuredClone(exp);
    bad.arms[1].config.heads = 3;
    const badFile = path.join(ARTIFACTS, 'bad-experiment.json');
    fs.writeFileSync(badFile, JSON.stringify(bad));
    await page.locator('[data-testid="exp-upload"]').setInputFiles(badFile);
    const msg = await waitFor(async () => page.locator('[data-testid="exp-message"]').textContent().catch(() => null), 10000, 'a message');
    assert.match(msg, /arms\[1\]\.config.*heads/);
    assert.deepEqual(await results(page), rows);
    // The good file loads and becomes the source.
    const goodFile = path.join(ARTIFACTS, 'experiment.json');
    fs.writeFileSync(goodFile, JSON.stringify(exp));
    await page.locator('[data-testid="exp-upload"]').setInputFiles(goodFile);
    await waitFor(async () => (await page.locator('[data-testid="exp-source"]').inputValue()) === 'file', 10000, 'the file as source');
    assert.match(await page.locator('[data-testid="exp-preview"]').textContent(), /3 arm/);

    // The "attn" arm is exactly the lab's run of the same config (same wasm, same seed).
    const { page: lab } = await openPage(browser, `${server.url}/?${SMALL}&autorun=1`);
    const st = await waitFor(async () => { const s = await runStatus(lab); return s.state === 'done' ? s : null; }, 120000, 'the lab run');
    assert.equal(st.loss, rows[0].loss, 'arm and lab run agree bit for bit');
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('views: attention maps per layer and head; DLR eigenvalues, |λ| over training, kernels, state norms', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/?${SMALL}&steps=60&autorun=1`);
    await page.locator('[data-testid="views"] summary').click();
    // Opening the views during the run shows the model now and refreshes at each evaluation.
    await waitFor(async () => (await page.locator('[data-testid="attention-map"]').count()) === 4, 60000, '2 layers x 2 heads of maps');
    await waitFor(async () => (await runStatus(page)).state === 'done', 120000, 'the run');
    await waitFor(async () => /at step 60/.test(await page.locator('[data-testid="views"]').textContent()), 20000, 'the final view');
    assert.equal(await page.locator('[data-testid="view-tokens"] .tok').count(), 16);
    const first = await page.locator('[data-testid="attention-map"]').first().getAttribute('src');
    assert.match(first, /^data:image\/bmp;base64,/);
    // Another example seed gives other maps.
    await page.locator('[data-testid="view-seed"]').fill('7');
    await page.locator('[data-testid="inspect"]').click();
    await waitFor(async () => /example 7 /.test(await page.locator('[data-testid="views"]').textContent()), 20000, 'example 7');
    assert.notEqual(await page.locator('[data-testid="attention-map"]').first().getAttribute('src'), first);
    await page.screenshot({ path: path.join(ARTIFACTS, 'views-attention.png'), fullPage: true });
    await page.close();

    const { page: dlr } = await openPage(browser, `${server.url}/?${SMALL}&steps=100&model=dlr&state=4&autorun=1`);
    await dlr.locator('[data-testid="views"] summary').click();
    await waitFor(async () => (await runStatus(dlr)).state === 'done', 120000, 'the DLR run');
    await waitFor(async () => (await dlr.locator('[data-testid="spectrum-chart"] path.series').count()) === 6, 20000, '|λ| curves for 2 layers');
    assert.equal(await dlr.locator('[data-testid="phase-chart"] path.series').count(), 4);
    // Eigenvalues: 2 layers x 16 channels x 4 states, all inside the unit circle.
    const dots = await dlr.locator('[data-testid="eigen-plot"] svg circle[fill-opacity]').evaluateAll((cs) => cs.map((c) => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))]));
    assert.equal(dots.length, 2 * 16 * 4);
    const r = await dlr.locator('[data-testid="eigen-plot"] svg circle.axis').getAttribute('r');
    assert.ok(dots.every(([x, y]) => Math.hypot(x - 110, y - 110) <= Number(r) + 0.5));
    assert.equal(await dlr.locator('[data-testid="kernel-chart"] path.series').count(), 8);
    assert.equal(await dlr.locator('[data-testid="state-norm-chart"] path.series').count(), 2);
    assert.equal(await dlr.locator('[data-testid="attention-map"]').count(), 0);
    await dlr.screenshot({ path: path.join(ARTIFACTS, 'views-dlr.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('weights saved from one tab load into another: same held-out accuracy, config restored; junk is refused', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page } = await openPage(browser, `${server.url}/?${SMALL}&model=dlr&state=4&autorun=1`);
    const st = await waitFor(async () => { const s = await runStatus(page); return s.state === 'done' ? s : null; }, 120000, 'the run');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="download-checkpoint"]').click()]);
    const file = path.join(ARTIFACTS, 'tab-to-tab.safetensors');
    await dl.saveAs(file);

    const { page: fresh, errors } = await openPage(browser, `${server.url}/`);
    // A file that is not a checkpoint: a message, nothing changes.
    const junk = path.join(ARTIFACTS, 'junk.safetensors');
    fs.writeFileSync(junk, 'not a checkpoint');
    await fresh.locator('[data-testid="upload-checkpoint"]').setInputFiles(junk);
    const msg = await waitFor(async () => fresh.locator('[data-testid="message"]').textContent().catch(() => null), 10000, 'a message');
    assert.match(msg, /Could not load junk\.safetensors/);
    assert.equal((await runStatus(fresh)).state, 'idle');

    await fresh.locator('[data-testid="upload-checkpoint"]').setInputFiles(file);
    const loaded = await waitFor(async () => { const s = await runStatus(fresh); return s.state === 'done' && s.eval_accuracy != null ? s : null; }, 30000, 'the loaded run');
    assert.equal(loaded.step, 30);
    assert.equal(loaded.model, 'dlr');
    assert.equal(loaded.eval_accuracy, st.eval_accuracy, 'same weights, same held-out set, same wasm');
    assert.match(fresh.url(), /model=dlr/);
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});
