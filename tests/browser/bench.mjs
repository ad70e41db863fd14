// Browser half of scripts/bench.sh (prints numbers, asserts nothing).
//   node tests/browser/bench.mjs [key=value ...]   steps/s of a config (default: the lab's
//       defaults) in headless Chromium, from run-status over a fixed window after warm-up;
//   node tests/browser/bench.mjs --gen              the gallery's generation benchmark
//       (sequences/s, batch 32, at 1K/8K/65K), the same cases as `interlab tasks bench`.
import { serveDist, launch, openPage, runStatus, waitFor } from './harness.mjs';

const gen = process.argv.includes('--gen');
const extra = process.argv.slice(2).filter((a) => a.includes('=')).join('&');
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS || 15000);
const server = await serveDist();
const browser = await launch({ webgpu: false });
try {
  if (gen) {
    const { page } = await openPage(browser, `${server.url}/?page=gallery`);
    await page.locator('[data-testid="gen-bench-run"]').click();
    const out = page.locator('[data-testid="gen-bench"]');
    await waitFor(async () => (await out.getAttribute('data-state')) === 'done', 600000, 'the generation benchmark');
    for (const line of (await out.textContent()).trim().split('\n')) {
      const r = JSON.parse(line);
      console.log(`gen wasm ${r.case.padEnd(60)} L=${String(r.seq_len).padStart(6)} batch=${r.batch} seq/s=${r.sequences_per_sec.toFixed(1).padStart(10)} positions/s=${r.positions_per_sec.toExponential(3)}`);
    }
  } else {
    const { page } = await openPage(browser, `${server.url}/?autorun=1${extra ? '&' + extra : ''}`);
    const a = await waitFor(async () => { const s = await runStatus(page); return s.step >= 5 ? s : null; }, 120000, 'warm-up');
    const t0 = Date.now();
    await page.waitForTimeout(WINDOW_MS);
    const b = await runStatus(page);
    const secs = (Date.now() - t0) / 1000;
    console.log(`bench wasm-cpu (headless chromium) steps=${b.step - a.step} seconds=${secs.toFixed(3)} steps_per_sec=${((b.step - a.step) / secs).toFixed(2)}`);
  }
} finally {
  await browser.close();
  await server.close();
}
