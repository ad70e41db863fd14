// Why: the GPU engine must work where users run it: in the tab's Web Worker, on WebGPU. On
// this machine that is Chromium's SwiftShader adapter. These tests check that a run asked to
// train on the GPU does so (the backend shows it), that its losses match the same link
// trained on the CPU in the tab, that `auto` keeps the CPU on a software adapter with its
// reason shown, and that a GPU lost mid-run (forced with the `lose_gpu_at` diagnostic) leaves
// the run finishing on the CPU with a visible notice and the CPU run's result.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, openPage, runStatus, waitFor } from './harness.mjs';

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server.close(); });

// A model small enough for SwiftShader on two cores.
const TINY = 'seed=3&task=mqar&layers=1&heads=2&d_model=16&batch=4&seq_len=9&kv_pairs=3&vocab=12&warmup=3&lr=0.003';
// WebGPU (SwiftShader) vs the CPU path in wasm: f32 with different summation orders; the
// native engine test measured ~1e-7 after 10 steps against the bound of 1e-4.
const GPU_VS_CPU_RTOL = 1e-4;

async function finish(browser, query) {
  const { page, errors } = await openPage(browser, `${server.url}/?${query}&autorun=1`);
  const first = await waitFor(async () => { const s = await runStatus(page); return s.step >= 1 ? s : null; }, 180000, 'the first step');
  const st = await waitFor(async () => { const s = await runStatus(page); return s.state === 'done' || s.state === 'error' ? s : null; }, 300000, `the run ${query}`);
  const note = await page.locator('[data-testid="backend-note"]').textContent();
  const message = (await page.locator('[data-testid="message"]').count()) ? await page.locator('[data-testid="message"]').textContent() : '';
  await page.close();
  return { first, st, note, message, errors };
}

test('backend=gpu trains on WebGPU in the worker and matches the CPU run of the same link', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const gpu = await finish(browser, `${TINY}&steps=20&backend=gpu`);
    assert.equal(gpu.st.state, 'done', `${gpu.message}`);
    assert.equal(gpu.st.backend, 'webgpu', gpu.note);
    assert.match(gpu.note, /WebGPU chosen \(backend=gpu\)/);
    assert.equal(gpu.st.step, 20);
    assert.ok(gpu.st.loss < gpu.first.loss, `loss must fall: step ${gpu.first.step} ${gpu.first.loss} → 20 ${gpu.st.loss}`);
    assert.ok(gpu.st.eval_accuracy !== null, 'the held-out evaluation ran on the synced weights');
    assert.deepEqual(gpu.errors, []);
    const cpu = await finish(browser, `${TINY}&steps=20&backend=cpu`);
    assert.equal(cpu.st.backend, 'cpu');
    const rel = Math.abs(gpu.st.loss - cpu.st.loss) / cpu.st.loss;
    console.log(`# step 20 loss: WebGPU (SwiftShader) ${gpu.st.loss} vs CPU (wasm) ${cpu.st.loss}, relative difference ${rel.toExponential(2)}; steps/s ${gpu.st.steps_per_sec} vs ${cpu.st.steps_per_sec}`);
    assert.ok(rel < GPU_VS_CPU_RTOL, `GPU ${gpu.st.loss} vs CPU ${cpu.st.loss}`);
    assert.ok(Math.abs(gpu.st.eval_accuracy - cpu.st.eval_accuracy) < 1e-9, 'same held-out accuracy');
    // auto: a software adapter is measured slower than the CPU path, so the CPU trains.
    const auto = await finish(browser, `${TINY}&steps=5`);
    assert.equal(auto.st.backend, 'cpu');
    assert.match(auto.note, /software adapter/);
  } finally { await browser.close(); }
});

test('a GPU lost mid-run: training continues on the CPU from the last sync, and the page says so', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const lost = await finish(browser, `${TINY}&steps=40&backend=gpu&lose_gpu_at=30`);
    assert.equal(lost.st.state, 'done', lost.message);
    assert.equal(lost.st.step, 40);
    assert.equal(lost.st.backend, 'cpu');
    assert.match(lost.message, /GPU lost: .*continues on the CPU from step 25/);
    assert.match(lost.note, /CPU after a GPU loss at step 25/);
    const cpu = await finish(browser, `${TINY}&steps=40&backend=cpu`);
    const rel = Math.abs(lost.st.loss - cpu.st.loss) / cpu.st.loss;
    console.log(`# step 40 loss after a GPU loss at step 30: ${lost.st.loss} vs CPU-only ${cpu.st.loss} (relative ${rel.toExponential(2)})`);
    assert.ok(rel < GPU_VS_CPU_RTOL);
  } finally { await browser.close(); }
});
