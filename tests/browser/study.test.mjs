// Why: a study participant's data must never be lost or doubled, and a participant must be
// able to take a study in a tab with no server. These tests take the shipped
// advisor-manipulation study as a participant would (from a Prolific-style link), reloading
// at several points — between trials and in the middle of one — and check that the export
// holds every event exactly once with no gap in sequence numbers, one row per trial, one
// condition throughout, and that no request leaves the page. With storage unavailable the
// study still completes and offers the data as a download. A second tab for the same
// participant is blocked. Consent text with script payloads renders inert. The
// attention-editing study's edits reach the model and survive a reload, and a protocol's
// endpoint receives every event (once by sequence number) despite failures.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serveDist, launch, waitFor, DIST } from './harness.mjs';

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server.close(); });

const LINK = (pid) => `/?page=study&study=advisor-manipulation&PROLIFIC_PID=${pid}&STUDY_ID=s-42&SESSION_ID=sess-1`;
// consent, instructions, 4 decisions, likert, multiple choice, attention check.
const TRIALS = 9;

async function screen(page) {
  return page.locator('[data-testid="study"]').getAttribute('data-screen');
}

async function settle(page, previous) {
  return waitFor(async () => {
    const s = await screen(page);
    return s && s !== 'loading' && s !== previous ? s : null;
  }, 30000, `the screen after ${previous}`);
}

/** Answer whatever trial is on screen; returns the next screen. */
async function answer(page) {
  const now = await screen(page);
  const has = async (id) => (await page.locator(`[data-testid="${id}"]`).count()) > 0;
  if (await has('study-agree')) await page.locator('[data-testid="study-agree"]').click();
  else if (await has('study-continue')) await page.locator('[data-testid="study-continue"]').click();
  else if (await has('study-option-1')) await page.locator('[data-testid="study-option-1"]').click();
  else if (await has('study-likert-3')) await page.locator('[data-testid="study-likert-3"]').click();
  else if (await has('study-choice-0')) await page.locator('[data-testid="study-choice-0"]').click();
  else if (await has('study-text')) { await page.locator('[data-testid="study-text"]').fill('fine'); await page.locator('[data-testid="study-submit"]').click(); }
  else throw new Error(`nothing to answer on ${now}: ${await page.locator('[data-testid="study"]').innerText()}`);
  return settle(page, now);
}

async function open(context, url, requests) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (requests) page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${server.url}${url}`);
  await settle(page, 'loading');
  return { page, errors };
}

async function downloadJson(page) {
  const [d] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="study-download-json"]').click()]);
  return JSON.parse(fs.readFileSync(await d.path(), 'utf8'));
}

function checkExport(doc, reloads) {
  const seqs = doc.events.map((e) => e.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i), 'sequence numbers 0..n-1, no gap, no repeat');
  const keys = new Set(doc.events.map((e) => `${e.seq}`));
  assert.equal(keys.size, doc.events.length, 'every event once');
  assert.equal(new Set(doc.events.map((e) => e.condition)).size, 1, 'one condition throughout');
  assert.equal(doc.events.filter((e) => e.kind === 'reload').length, reloads);
  assert.equal(doc.trials.length, TRIALS, 'one row per trial');
  assert.deepEqual(doc.trials.map((t) => +t.trial_index), [...Array(TRIALS).keys()]);
  assert.equal(doc.events.filter((e) => e.kind === 'completion').length, 1);
  for (const t of doc.trials.filter((t) => t.trial_type === 'two_choice')) {
    assert.ok(t.advice_answer && t.response && ['TRUE', 'FALSE'].includes(t.harmful_choice), JSON.stringify(t));
  }
}

test('a participant completes the study with reloads, and the export holds every event exactly once', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    const requests = [];
    let { page, errors } = await open(context, LINK('p-reload'), requests);
    let reloads = 0;
    const reload = async () => {
      const before = await screen(page);
      await page.reload();
      const after = await settle(page, 'loading');
      assert.equal(after, before, 'a reload resumes at the same trial');
      reloads += 1;
    };
    assert.equal(await screen(page), 'trial-0');
    assert.equal(await page.locator('[data-testid="study-storage-warning"]').count(), 0, 'storage works here');
    await answer(page); // consent
    await reload(); // between trials
    await answer(page); // instructions
    const advice1 = await page.locator('[data-testid="study-advice"]').textContent();
    await reload(); // mid-trial: the decision is on screen, not answered
    assert.equal(await page.locator('[data-testid="study-advice"]').textContent(), advice1, 'the same advice after a reload');
    while ((await screen(page)) !== 'done') {
      if ((await screen(page)) === 'trial-7') await reload();
      await answer(page);
    }
    assert.equal(await page.locator('[data-testid="study-code"]').textContent(), 'M4N5P6');
    const href = await page.locator('[data-testid="study-redirect"]').getAttribute('href');
    assert.equal(href, 'https://app.prolific.com/submissions/complete?cc=M4N5P6&pid=p-reload&session=sess-1');
    const doc = await downloadJson(page);
    checkExport(doc, reloads);
    assert.deepEqual(doc.events[0].data.url_params, { PROLIFIC_PID: 'p-reload', STUDY_ID: 's-42', SESSION_ID: 'sess-1' });
    console.log(`# study with ${reloads} reloads: ${doc.events.length} events, ${doc.trials.length} trial rows, kinds ${JSON.stringify(doc.events.reduce((m, e) => ({ ...m, [e.kind]: (m[e.kind] || 0) + 1 }), {}))}`);
    // Reopening the finished study shows the completion again, and adds only the reload.
    await reload();
    assert.equal(await screen(page), 'done');
    const again = await downloadJson(page);
    assert.equal(again.events.length, doc.events.length + 1);
    const off = requests.filter((u) => !u.startsWith(server.url) && !u.startsWith('blob:') && !u.startsWith('data:'));
    assert.deepEqual(off, [], 'no request leaves the page');
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('with storage unavailable the study warns before consent, completes and offers the download', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    await context.addInitScript(() => { Object.defineProperty(window, 'indexedDB', { get() { throw new Error('denied by the test'); } }); });
    const { page, errors } = await open(context, LINK('p-nostore'));
    assert.equal(await screen(page), 'trial-0');
    assert.match(await page.locator('[data-testid="study-storage-warning"]').textContent(), /not saving/);
    while ((await screen(page)) !== 'done') await answer(page);
    checkExport(await downloadJson(page), 0);
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('a second tab for the same participant is blocked', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    const first = await open(context, LINK('p-tabs'));
    assert.equal(await screen(first.page), 'trial-0');
    const second = await open(context, LINK('p-tabs'));
    assert.equal(await screen(second.page), 'blocked');
    const other = await open(context, LINK('p-someone-else'));
    assert.equal(await screen(other.page), 'trial-0');
  } finally { await browser.close(); }
});

test('consent text with script payloads renders inert, and a bad protocol is named', async () => {
  const file = path.join(DIST, 'public/studies/test-payloads.json');
  const proto = JSON.parse(fs.readFileSync(path.join(DIST, 'public/studies/advisor-manipulation.json'), 'utf8'));
  proto.consent = 'Hello <script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2"> [click](javascript:window.__pwned=3) **ok**';
  fs.writeFileSync(file, JSON.stringify(proto, null, 2));
  const broken = path.join(DIST, 'public/studies/test-broken.json');
  fs.writeFileSync(broken, JSON.stringify({ ...proto, conditions: [] }, null, 2));
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    const { page } = await open(context, '/?page=study&study=test-payloads&participant=x');
    const consent = page.locator('[data-testid="study-consent-text"]');
    assert.match(await consent.innerText(), /<script>window.__pwned = 1<\/script>/);
    assert.equal(await consent.locator('script, img, [onerror]').count(), 0);
    assert.equal(await consent.locator('a[href^="javascript"]').count(), 0);
    await page.locator('[data-testid="study-agree"]').hover();
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    const bad = await open(context, '/?page=study&study=test-broken&participant=y');
    assert.equal(await screen(bad.page), 'broken');
    assert.match(await bad.page.locator('[data-testid="study-broken"]').innerText(), /conditions/);
  } finally {
    await browser.close();
    fs.rmSync(file, { force: true });
    fs.rmSync(broken, { force: true });
  }
});

/** Answer a puzzle: take the AI's advice when there is some (asking if allowed), else 0. */
async function solvePuzzle(page) {
  const now = await screen(page);
  if (await page.locator('[data-testid="study-ask"]').isVisible()) {
    await page.locator('[data-testid="study-ask"]').click();
    await waitFor(async () => (await page.locator('[data-testid="study-advice"]').count()) > 0, 60000, 'the advice');
  }
  const advice = page.locator('[data-testid="study-advice"]');
  const pick = (await advice.count()) ? await advice.getAttribute('data-answer') : '0';
  await page.locator(`[data-testid="study-answer-${pick}"]`).click();
  return settle(page, now);
}

test('the assistance study runs with the in-tab models as advisors, by condition', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    const seen = {};
    for (const pid of ['ap-1', 'ap-2', 'ap-3', 'ap-4', 'ap-5', 'ap-6']) {
      const { page, errors } = await open(context, `/?page=study&study=assistance-persistence&participant=${pid}`);
      while ((await screen(page)) !== 'done') {
        if (await page.locator('[data-testid="study-puzzle"]').count()) await solvePuzzle(page);
        else await answer(page);
      }
      const doc = await downloadJson(page);
      const condition = doc.events[0].condition;
      const puzzles = doc.trials.filter((t) => t.trial_type === 'puzzle');
      assert.equal(puzzles.length, 9, 'six assisted and three test puzzles');
      for (const t of puzzles) {
        const assisted = t.block_id === 'assisted';
        const mode = assisted ? condition.split('=')[1] : 'none';
        assert.equal(t.advice_mode, mode, JSON.stringify(t));
        assert.equal(t.advice_shown, mode === 'none' ? 'FALSE' : 'TRUE', JSON.stringify(t));
        assert.equal(t.advice_requested, mode === 'on_request' ? 'TRUE' : 'FALSE');
        if (mode !== 'none') {
          assert.ok(+t.advice_confidence > 0 && +t.advice_confidence <= 1, JSON.stringify(t));
          assert.equal(t.advice_followed, 'TRUE', 'this participant takes the advice');
          if (t.task === 'sort') assert.equal(t.correct, 'TRUE', 'the sort advisor is exact on its task');
        }
      }
      assert.deepEqual(errors, []);
      seen[condition] = (seen[condition] || 0) + 1;
      await page.close();
    }
    console.log(`# assistance study in the tab: conditions seen ${JSON.stringify(seen)}`);
    assert.ok(Object.keys(seen).length >= 2, JSON.stringify(seen));
  } finally { await browser.close(); }
});

/** The attention-editing trial on screen: wait for the model's prediction. */
async function prediction(page) {
  await waitFor(async () => (await page.locator('[data-testid="study-prediction"]').count()) > 0, 60000, 'the model prediction');
  return page.locator('[data-testid="study-prediction"]').getAttribute('data-answer');
}

async function attentionOf(page) {
  const toks = page.locator('[data-testid^="study-token-"]');
  const out = [];
  for (let i = 0; i < await toks.count(); i++) {
    const t = toks.nth(i);
    out.push({ id: await t.getAttribute('data-testid'), att: +(await t.getAttribute('data-attention')), hidden: /\bhidden\b/.test(await t.getAttribute('class')), disabled: await t.isDisabled() });
  }
  return out;
}

test('the attention-editing study: hiding tokens from the model changes its attention and prediction, edits survive a reload', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    const seen = {};
    let changedPrediction = 0;
    for (const pid of ['ae-1', 'ae-2', 'ae-3', 'ae-4', 'ae-5', 'ae-6']) {
      if (seen['interactive'] && seen['static']) break;
      const { page, errors } = await open(context, `/?page=study&study=attention-editing&participant=${pid}`);
      let reloaded = false;
      let interactive = null;
      while ((await screen(page)) !== 'done') {
        if (!(await page.locator('[data-testid="study-puzzle"]').count())) { await answer(page); continue; }
        const now = await screen(page);
        const before = await prediction(page);
        let toks = await attentionOf(page);
        const sum = toks.reduce((a, t) => a + t.att, 0);
        assert.ok(sum > 0.2 && sum <= 1.001, `context attention ${sum}`);
        interactive = (await page.locator('section.attention-edit').getAttribute('data-interactive')) === 'true';
        if (interactive) {
          // Hide the two most-attended context tokens, one at a time.
          for (let k = 0; k < 2; k++) {
            const top = toks.filter((t) => !t.hidden).sort((a, b) => b.att - a.att)[0];
            await page.locator(`[data-testid="${top.id}"]`).click();
            await waitFor(async () => (await page.locator('[data-testid="study-edits"]').textContent()).startsWith(`${k + 1} token(s) hidden`), 30000, 'the edit');
            toks = await attentionOf(page);
            const t = toks.find((x) => x.id === top.id);
            assert.ok(t.hidden && t.att === 0, `a hidden token gets no attention: ${JSON.stringify(t)}`);
          }
          if (await prediction(page) !== before) changedPrediction += 1;
          if (!reloaded) {
            // Mid-trial reload: the edited view comes back.
            const hidden = toks.filter((t) => t.hidden).map((t) => t.id);
            const pred = await prediction(page);
            await page.reload();
            await settle(page, 'loading');
            assert.equal(await screen(page), now);
            assert.equal(await prediction(page), pred, 'the same prediction after a reload');
            assert.deepEqual((await attentionOf(page)).filter((t) => t.hidden).map((t) => t.id), hidden);
            reloaded = true;
          }
        } else {
          assert.ok(toks.every((t) => t.disabled), 'static explanation: tokens cannot be toggled');
        }
        const pick = await prediction(page);
        await page.locator(`[data-testid="study-answer-${pick}"]`).click();
        await settle(page, now);
      }
      const doc = await downloadJson(page);
      const seqs = doc.events.map((e) => e.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => i), 'no gap, no repeat');
      const rows = doc.trials.filter((t) => t.trial_type === 'attention_edit');
      assert.equal(rows.length, 6, 'three recall and three induction trials');
      for (const t of rows) {
        assert.equal(t.interactive, interactive ? 'TRUE' : 'FALSE', JSON.stringify(t));
        assert.equal(t.advice_followed, 'TRUE');
        assert.equal(+t.n_edits, interactive ? 2 : 0, JSON.stringify(t));
        assert.equal(t.hidden_positions.split(' ').filter(Boolean).length, interactive ? 2 : 0, JSON.stringify(t));
      }
      const edits = doc.events.filter((e) => e.kind === 'advice_shown' && e.data.edited);
      assert.equal(edits.length, interactive ? 12 : 0);
      assert.deepEqual(errors, []);
      seen[interactive ? 'interactive' : 'static'] = (seen[interactive ? 'interactive' : 'static'] || 0) + 1;
      await page.close();
    }
    console.log(`# attention-editing study in the tab: ${JSON.stringify(seen)}; hiding the two most-attended tokens changed the prediction on ${changedPrediction} of ${6 * (seen.interactive || 0)} interactive trials`);
    assert.ok(seen.interactive && seen.static, JSON.stringify(seen));
    // The advisors are pinned by sha256 and the puzzles by participant id. Last measured (issue #7
    // session): hiding the two most-attended tokens changed the prediction on 9 of 12 interactive
    // trials. Asserted with a margin of 2 trials: at least 7 of 12, i.e. editing attention moves the
    // model's answer on most trials, which is what the study's interactive condition relies on.
    assert.equal(6 * seen.interactive, 12, `interactive participants: ${JSON.stringify(seen)}`);
    assert.ok(changedPrediction >= 7, `trials whose prediction two hidden tokens changed: ${changedPrediction} of 12 (measured 9)`);
  } finally { await browser.close(); }
});

test('with an endpoint, a copy of the log reaches it despite failures and a reload, each event once by sequence number', async () => {
  const proto = JSON.parse(fs.readFileSync(path.join(DIST, 'public/studies/advisor-manipulation.json'), 'utf8'));
  // On the lab's own origin: the built lab's CSP allows connections there only (a deployment
  // with an endpoint elsewhere adds it: CSP_CONNECT in scripts/postbuild.mjs).
  const ENDPOINT = `${server.url}/upload-endpoint`;
  fs.writeFileSync(path.join(DIST, 'public/studies/test-endpoint.json'), JSON.stringify({ ...proto, endpoint: { url: ENDPOINT, retries: 2 } }, null, 2));
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    const store = new Map(); // seq -> event, as an endpoint keeps them
    let posts = 0, failedPosts = 0, received = 0;
    await context.route(`${ENDPOINT}**`, async (route) => {
      posts += 1;
      // The first two POSTs fail (a flaky server), so the tab must retry.
      if (posts <= 2) { failedPosts += 1; return route.fulfill({ status: 503, headers: { 'access-control-allow-origin': '*' }, body: 'busy' }); }
      const body = JSON.parse(route.request().postData());
      assert.equal(body.participant, 'up-1');
      assert.equal(body.first_seq, body.events[0].seq);
      for (const e of body.events) { received += 1; store.set(e.seq, e); }
      return route.fulfill({ status: 200, headers: { 'access-control-allow-origin': '*' }, body: 'ok' });
    });
    const requests = [];
    let { page, errors } = await open(context, '/?page=study&study=test-endpoint&participant=up-1', requests);
    await answer(page); // consent
    await answer(page); // instructions
    await page.reload(); // mid-way: the upload goes on from what the endpoint confirmed
    await settle(page, 'loading');
    while ((await screen(page)) !== 'done') await answer(page);
    await waitFor(async () => (await page.locator('[data-testid="study-upload"]').getAttribute('data-state')) === 'sent', 30000, 'the upload');
    const doc = await downloadJson(page);
    const seqs = [...store.keys()].sort((a, b) => a - b);
    assert.deepEqual(seqs, doc.events.map((e) => e.seq), 'the endpoint holds every event');
    for (const e of doc.events) assert.deepEqual(store.get(e.seq), e, `event ${e.seq} arrived as recorded`);
    assert.equal(failedPosts, 2);
    const off = requests.filter((u) => !u.startsWith(server.url) && !u.startsWith('blob:') && !u.startsWith('data:'));
    assert.deepEqual(off, [], 'no request but to the lab and its endpoint');
    assert.deepEqual(errors, []);
    console.log(`# endpoint upload: ${doc.events.length} events, ${posts} POSTs (${failedPosts} failed, retried), ${received} events received (${received - doc.events.length} resent duplicates, kept once)`);
  } finally {
    await browser.close();
    fs.rmSync(path.join(DIST, 'public/studies/test-endpoint.json'), { force: true });
  }
});

test('a give-up button appears after the delay, and a model failing its sha256 check is named (puzzles and attention editing)', async () => {
  const proto = JSON.parse(fs.readFileSync(path.join(DIST, 'public/studies/assistance-persistence.json'), 'utf8'));
  const sortModel = proto.models.find((m) => m.name === 'advisor-sort');
  const base = { ...proto, conditions: [{ id: 'ai', levels: [{ id: 'always', weight: 1 }] }], counterbalance: undefined };
  const puzzle = (extra) => ({ id: 'p', type: 'puzzle', task: 'sort', params: { length: 6, vocab: 10 }, ...extra });
  const files = {
    'test-giveup': { ...base, models: [], blocks: [{ id: 'b', order: 'fixed', trials: [{ id: 'consent', type: 'consent' }, puzzle({ give_up_after_ms: 300 })] }] },
    'test-badhash': { ...base, models: [{ ...sortModel, sha256: 'a'.repeat(64) }], blocks: [{ id: 'b', order: 'fixed', trials: [{ id: 'consent', type: 'consent' }, puzzle({ advice: 'always', model: 'advisor-sort' })] }] },
    'test-ae-badhash': { ...base, models: [{ ...sortModel, sha256: 'b'.repeat(64) }], blocks: [{ id: 'b', order: 'fixed', trials: [{ id: 'consent', type: 'consent' }, { id: 'ae', type: 'attention_edit', task: 'sort', params: { length: 6, vocab: 10 }, interactive: true, model: 'advisor-sort' }] }] },
  };
  for (const [name, p] of Object.entries(files)) fs.writeFileSync(path.join(DIST, `public/studies/${name}.json`), JSON.stringify(p, null, 2));
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    let { page } = await open(context, '/?page=study&study=test-giveup&participant=g');
    assert.equal(await screen(page), 'trial-0', await page.locator('[data-testid="study"]').innerText());
    await answer(page);
    assert.equal(await page.locator('[data-testid="study-give-up"]').isVisible(), false, 'not before the delay');
    await waitFor(() => page.locator('[data-testid="study-give-up"]').isVisible(), 10000, 'the give-up button');
    await page.locator('[data-testid="study-give-up"]').click();
    await settle(page, 'trial-1');
    const t = (await downloadJson(page)).trials[1];
    assert.equal(t.gave_up, 'TRUE');
    assert.ok(+t.give_up_ms >= 300, JSON.stringify(t));
    ({ page } = await open(context, '/?page=study&study=test-badhash&participant=h'));
    await answer(page);
    const err = await waitFor(async () => (await page.locator('[data-testid="study-advice-error"]').count()) && page.locator('[data-testid="study-advice-error"]').textContent(), 60000, 'the model error');
    assert.match(err, /sha256/);
    await page.locator('[data-testid="study-answer-0"]').click();
    await settle(page, 'trial-1');
    const events = (await downloadJson(page)).events;
    assert.ok(events.some((e) => e.kind === 'error' && /sha256/.test(e.data.message)));
    // An attention-editing trial whose model fails: named, and the participant answers alone.
    ({ page } = await open(context, '/?page=study&study=test-ae-badhash&participant=i'));
    await answer(page);
    const aeErr = await waitFor(async () => (await page.locator('[data-testid="study-advice-error"]').count()) && page.locator('[data-testid="study-advice-error"]').textContent(), 60000, 'the attention-edit model error');
    assert.match(aeErr, /sha256/);
    assert.equal(await page.locator('[data-testid="study-token-0"]').isDisabled(), true, 'no editing without a model');
    await page.locator('[data-testid="study-answer-0"]').click();
    await settle(page, 'trial-1');
    const row = (await downloadJson(page)).trials[1];
    assert.equal(row.trial_type, 'attention_edit');
    assert.equal(row.advice_shown, 'FALSE', JSON.stringify(row));
    assert.equal(row.response, '0');
  } finally {
    await browser.close();
    for (const name of Object.keys(files)) fs.rmSync(path.join(DIST, `public/studies/${name}.json`), { force: true });
  }
});

test('the researcher view analyses exported files like the CLI, and refuses doubles and junk', async () => {
  const { execFileSync } = await import('node:child_process');
  const os = await import('node:os');
  const CLI = path.resolve(process.env.CARGO_TARGET_DIR || 'target', 'debug/interlab');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interlab-results-'));
  execFileSync(CLI, ['study', 'simulate', 'public/studies/advisor-manipulation.json', '--n', '60', '--sim-seed', '5', '--out', dir]);
  execFileSync(CLI, ['study', 'analyze', path.join(dir, 'trials.csv'), '--out', path.join(dir, 'analysis.csv')]);
  const [header, ...lines] = fs.readFileSync(path.join(dir, 'analysis.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  const col = (n) => header.indexOf(n);
  const native = lines.map((l) => ({ metric: l[col('metric')], condition: l[col('condition')], estimate: +l[col('estimate')], p: l[col('p_value')] === '' ? NaN : +l[col('p_value')] }));
  fs.writeFileSync(path.join(dir, 'junk.csv'), 'a,b\n1,2\n');
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/?page=results`);
    const rows = async () => page.locator('[data-testid="results-row"]').evaluateAll((rs) => rs.map((r) => ({ metric: r.dataset.metric, condition: r.dataset.condition, estimate: +r.dataset.estimate, p: +r.dataset.p })));
    const same = (tab) => {
      assert.equal(tab.length, native.length, JSON.stringify(tab));
      for (const [i, n] of native.entries()) {
        assert.equal(`${tab[i].metric}|${tab[i].condition}`, `${n.metric}|${n.condition}`);
        assert.ok(Math.abs(tab[i].estimate - n.estimate) < 1e-6, `${n.metric} ${n.condition}: tab ${tab[i].estimate} vs CLI ${n.estimate}`);
        assert.ok(Number.isNaN(n.p) ? Number.isNaN(tab[i].p) : Math.abs(tab[i].p - n.p) < 1e-6, `${n.metric} p: ${tab[i].p} vs ${n.p}`);
      }
    };
    for (const file of ['events.csv', 'export.json']) {
      await page.locator('[data-testid="results-clear"]').click();
      await page.locator('[data-testid="results-files"]').setInputFiles(path.join(dir, file));
      await waitFor(async () => (await page.locator('[data-testid="results-row"]').count()) > 0, 30000, `the table from ${file}`);
      same(await rows());
    }
    assert.equal(await page.locator('[data-testid="results-plot"]').count(), new Set(native.map((n) => n.metric)).size, 'one plot per metric');
    await page.locator('[data-testid="results-files"]').setInputFiles([path.join(dir, 'trials.csv'), path.join(dir, 'junk.csv')]);
    const errs = await waitFor(async () => { const e = await page.locator('[data-testid="results-error"]').allTextContents(); return e.length === 2 ? e : null; }, 30000, 'two errors');
    assert.match(errs[0], /trials\.csv: participant .* already loaded/);
    assert.match(errs[1], /junk\.csv.*missing column/);
    same(await rows());
    console.log(`# researcher view: ${native.length} rows from 60 simulated participants equal the CLI's analysis`);
  } finally { await browser.close(); fs.rmSync(dir, { recursive: true, force: true }); }
});
