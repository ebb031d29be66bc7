// The supervisor page in Debian's headless Chromium, driven by playwright-core. Run by
// tests/browser.rs, which starts callvault and passes, in the environment:
//   CALLVAULT_ADMIN_URL   the admin listener (the page), e.g. http://127.0.0.1:PORT/
//   CALLVAULT_WEBAPI_URL  the WebAPI, where this script starts and stops a call
//   AGENT_ID, AGENT_NAME  a directory user to put on the call
//   RECORD_ID, RECORD_DEVICE  a finished recording with audio, and its device
//   ARTIFACTS_DIR         where the screenshots go
//   DOWNLOAD_DIR          where the MP3 download is saved
// Prints one JSON line with what it measured and where the download is; exits non-zero on
// any failure, including any request the page makes to another origin.
import { chromium } from 'playwright-core';
import path from 'node:path';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const admin = new URL(env('CALLVAULT_ADMIN_URL'));
const webapi = new URL(env('CALLVAULT_WEBAPI_URL'));
const agentId = env('AGENT_ID');
const agentName = env('AGENT_NAME');
const recordId = env('RECORD_ID');
const recordDevice = env('RECORD_DEVICE');
const artifacts = env('ARTIFACTS_DIR');
const downloads = env('DOWNLOAD_DIR');
const DEVICE = 'desk-7';

// Nothing here may hang the test run.
setTimeout(() => {
  console.error('supervisor.mjs: gave up after 120 s');
  process.exit(2);
}, 120_000).unref();

async function webapiCall(params) {
  const url = new URL('/webAPI.aspx', webapi);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const text = await (await fetch(url)).text();
  if (!text.includes('<RESULTCODE>20</RESULTCODE>')) throw new Error(`${url}: ${text}`);
}

// The text of each cell of the board row of `device`, or null.
function boardRow(page, device) {
  return page.evaluate((id) => {
    const tr = document.querySelector(`#devices tbody tr[data-device="${id}"]`);
    return tr ? [...tr.cells].map((c) => c.textContent) : null;
  }, device);
}

// Waits until the row of `device` satisfies `want` (given the cells); returns the ms taken.
async function waitRow(page, device, want, timeoutMs, what) {
  const started = Date.now();
  for (;;) {
    const cells = await boardRow(page, device);
    if (cells && want(cells)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${what}: not on the board within ${timeoutMs} ms (row: ${JSON.stringify(cells)})`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--autoplay-policy=no-user-gesture-required',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
const foreign = [];
const pageErrors = [];
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin !== admin.origin) {
      foreign.push(url.href);
      return route.abort();
    }
    return route.continue();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // The refused search below is answered 400, which the browser logs; nothing else may be.
  let refusals = 0;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (m.text().includes('status of 400') && refusals-- > 0) return;
    pageErrors.push(m.text());
  });

  // The board loads, with the device of the replayed call.
  await page.goto(admin.href);
  await waitRow(page, recordDevice, () => true, 5000, `device ${recordDevice}`);

  // A call started after the page loaded appears without a reload, within a second.
  await webapiCall({ type: 'callstart', requestid: '1', deviceid: DEVICE, agentid: agentId, ani: '5550100', dnis: '8000' });
  const appearMs = await waitRow(
    page, DEVICE,
    (c) => c[1] === 'Recording' && c[2] === agentName && c[3] === '5550100' && c[4] === '8000' && c[6] === 'Yes',
    1000, 'the new call',
  );
  const announced = await page.textContent('#changes');
  if (!announced.includes(DEVICE)) throw new Error(`nothing announced: ${announced}`);
  // Its call time ticks by itself.
  const before = (await boardRow(page, DEVICE))[5];
  await waitRow(page, DEVICE, (c) => c[5] !== before && /^0:00:0[1-9]$/.test(c[5]), 2500, 'the ticking call time');
  await page.locator('#board').screenshot({ path: path.join(artifacts, 'board.png') });

  await webapiCall({ type: 'callstop', requestid: '2', deviceid: DEVICE });
  const stopMs = await waitRow(page, DEVICE, (c) => c[1] === 'On hook' && c[6] === 'No', 1000, 'the stopped call');
  const reloaded = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  if (reloaded !== 1) throw new Error('the page was reloaded');

  // A refused search shows CALLLIST's message.
  refusals = 1;
  await page.getByLabel('Min. seconds').fill('-3');
  await page.getByRole('button', { name: 'Search' }).click();
  const refusal = page.locator('#search-message.error');
  await refusal.waitFor({ timeout: 5000 });
  const refusalText = await refusal.textContent();
  await page.getByLabel('Min. seconds').fill('');

  // The search finds the recording, which plays to its end in the browser.
  await page.getByLabel('Device', { exact: true }).fill(recordDevice);
  await page.getByRole('button', { name: 'Search' }).click();
  const row = page.locator(`#results tbody tr[data-record="${recordId}"]`);
  await row.waitFor({ timeout: 5000 });
  const found = await page.locator('#results tbody tr').count();
  await page.locator('#search').screenshot({ path: path.join(artifacts, 'search.png') });
  await row.getByRole('button', { name: `Play recording ${recordId}` }).click();
  const played = await row.locator('audio').evaluate((audio) => new Promise((resolve, reject) => {
    const done = () => resolve({ duration: audio.duration, currentTime: audio.currentTime });
    if (audio.ended) done();
    audio.addEventListener('ended', done);
    audio.addEventListener('error', () => reject(new Error(`audio error ${audio.error && audio.error.code}`)));
    setTimeout(() => reject(new Error(`not ended after 20 s (at ${audio.currentTime} s)`)), 20_000);
  }));

  // The MP3 download arrives as a file.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByRole('link', { name: `Download recording ${recordId} as MP3` }).click(),
  ]);
  const mp3 = path.join(downloads, download.suggestedFilename());
  await download.saveAs(mp3);

  if (pageErrors.length) throw new Error(`errors on the page: ${pageErrors.join('; ')}`);
  if (foreign.length) throw new Error(`requests to other origins: ${foreign.join(', ')}`);
  console.log(JSON.stringify({ appearMs, stopMs, refusalText, found, played, mp3, suggested: download.suggestedFilename() }));
} finally {
  await browser.close();
}
