// ethpeer's live page in headless Chromium (puppeteer-core driving the system's Chromium):
// loads the dashboard URL (argv[2]), waits until the page says it is live, prints
// "ready", then reads one tx hash from stdin and waits for that hash to appear among the
// latest arrivals with its verdict, takes a screenshot (argv[3]) and prints one JSON
// object: what the page showed.
import puppeteer from 'puppeteer-core';
import { createInterface } from 'node:readline';

const [url, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const out = {};
const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(url, { waitUntil: 'load', timeout: 20_000 });
  await page.waitForFunction(() => document.getElementById('status').textContent === 'live', { timeout: 20_000 });
  console.log('ready');
  const lines = createInterface({ input: process.stdin });
  const hash = await new Promise((resolve) => lines.once('line', (line) => resolve(line.trim())));
  await page.waitForFunction(
    (h) => [...document.querySelectorAll('#recent code')].some((c) => c.dataset.hash === h
      && c.closest('tr').textContent.includes('accepted')),
    { timeout: 20_000 },
    hash,
  );
  // One more status poll so the peers panel is filled.
  await page.waitForFunction(() => document.querySelectorAll('#clients tr').length > 1, { timeout: 10_000 });
  await page.screenshot({ path: screenshot });
  Object.assign(out, await page.evaluate(() => ({
    status: document.getElementById('status').textContent,
    peers: Number(document.getElementById('peers').textContent),
    total: Number(document.getElementById('total').textContent),
    clients: [...document.querySelectorAll('#clients tr')].slice(1).map((r) => r.cells[0].textContent),
    first: [...document.querySelectorAll('#first tr')].slice(1).map((r) => r.cells[0].textContent),
    recent: [...document.querySelectorAll('#recent tr')].slice(1).map((r) => [...r.cells].map((c) => c.textContent)),
  })));
  out.errors = errors;
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = String(error?.stack ?? error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(0);
