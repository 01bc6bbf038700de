#!/usr/bin/env node
// Self-check for peer.mjs: start two instances on 127.0.0.1, B dials A, both
// must report peer + status (+ ready), then a Transactions([]) message (code 2,
// payload c0) is sent each way and must arrive as a "message" event; finally
// both are told to quit and must exit 0. Exits 0 on success, 1 on failure,
// gives up after 20 s.

import { spawn } from 'node:child_process'
import * as path from 'node:path'
import * as readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const GENESIS = 'd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3'
const BEST = '88e96d4537bea4d9c05d12549907b32561d3bf31f45aae734cdc119f13406cb6'
const common = [
  '--network-id', '1', '--genesis', GENESIS, '--best', BEST, '--td', '17179869184',
  '--fork-hash', 'fc64ec04', '--fork-next', '1150000',
]
const KEY_A = '11'.repeat(32)
const KEY_B = '22'.repeat(32)

const children = []
function fail(msg) {
  console.error(`SELFCHECK FAIL: ${msg}`)
  for (const c of children) c.proc.kill('SIGKILL')
  process.exit(1)
}
setTimeout(() => fail('timeout after 20 s'), 20000).unref()

function start(name, args) {
  const proc = spawn(process.execPath, [path.join(here, 'peer.mjs'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const c = { name, proc, events: [], waiters: [] }
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    console.log(`[${name}] ${line}`)
    let ev
    try {
      ev = JSON.parse(line)
    } catch {
      return fail(`${name}: non-JSON output: ${line}`)
    }
    ev._t = performance.now()
    c.events.push(ev)
    c.waiters = c.waiters.filter((w) => !(w.pred(ev) && (w.resolve(ev), true)))
  })
  c.exit = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })))
  children.push(c)
  return c
}
// Resolves with the first (past or future) event matching pred; the global
// 20 s timeout covers events that never come.
function waitFor(c, pred) {
  const found = c.events.find(pred)
  if (found) return Promise.resolve(found)
  return new Promise((resolve) => c.waiters.push({ pred, resolve }))
}
const send = (c, obj) => c.proc.stdin.write(JSON.stringify(obj) + '\n')
const isEv = (name) => (ev) => ev.event === name

function checkStatus(ev, who) {
  const s = ev.status
  const ok =
    s.networkId === 1 && s.td === '17179869184' && s.bestHash === BEST &&
    s.genesisHash === GENESIS && s.forkHash === 'fc64ec04' && s.forkNext === 1150000 &&
    s.version === 68
  if (!ok) fail(`${who}: unexpected status ${JSON.stringify(s)}`)
}

const a = start('A', ['--key', KEY_A, '--listen', '0', ...common])
const la = await waitFor(a, isEv('listening'))
const b = start('B', ['--key', KEY_B, '--listen', '0', '--dial', `enode://${la.id}@127.0.0.1:${la.port}`, ...common])
const lb = await waitFor(b, isEv('listening'))

for (const [c, other] of [[a, lb], [b, la]]) {
  const p = await waitFor(c, isEv('peer'))
  if (p.id !== other.id) fail(`${c.name}: peer id ${p.id} != ${other.id}`)
  if (p.eth !== 68) fail(`${c.name}: eth ${p.eth}`)
  checkStatus(await waitFor(c, isEv('status')), c.name)
  await waitFor(c, isEv('ready'))
}

for (const [from, to] of [[b, a], [a, b]]) {
  const t0 = performance.now()
  send(from, { cmd: 'send', code: 2, payload: 'c0' })
  const m = await waitFor(to, (ev) => ev.event === 'message' && ev.code === 2)
  if (m.payload !== 'c0') fail(`${to.name}: payload ${m.payload}`)
  console.log(`${from.name} -> ${to.name}: Transactions([]) delivered in ${(m._t - t0).toFixed(1)} ms`)
}

for (const c of [a, b]) {
  const errs = c.events.filter(isEv('error'))
  if (errs.length) fail(`${c.name}: error events ${JSON.stringify(errs)}`)
}

send(b, { cmd: 'quit' })
const dA = await waitFor(a, isEv('disconnect'))
if (dA.reason !== 8) fail(`A: disconnect reason ${dA.reason}, expected 8`)
a.proc.stdin.end() // stdin close must also make it exit
for (const c of [a, b]) {
  const { code, sig } = await c.exit
  if (code !== 0) fail(`${c.name}: exit code ${code} signal ${sig}`)
}
console.log('SELFCHECK OK')
process.exit(0)
