// Browser half of scripts/bench.sh: steps/s of a config (default: the lab's defaults) in
// headless Chromium, measured from run-status over a fixed wall-clock window after warm-up.
// Extra key=value arguments override the config, as in the CLI.
import { serveDist, launch, openPage, runStatus, waitFor } from './harness.mjs';

const extra = process.argv.slice(2).filter((a) => a.includes('=')).join('&');
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS || 15000);
const server = await serveDist();
const browser = await launch({ webgpu: false });
try {
  const { page } = await openPage(browser, `${server.url}/?autorun=1${extra ? '&' + extra : ''}`);
  const a = await waitFor(async () => { const s = await runStatus(page); return s.step >= 5 ? s : null; }, 120000, 'warm-up');
  const t0 = Date.now();
  await page.waitForTimeout(WINDOW_MS);
  const b = await runStatus(page);
  const secs = (Date.now() - t0) / 1000;
  console.log(`bench wasm-cpu (headless chromium) steps=${b.step - a.step} seconds=${secs.toFixed(3)} steps_per_sec=${((b.step - a.step) / secs).toFixed(2)}`);
} finally {
  await browser.close();
  await server.close();
}
