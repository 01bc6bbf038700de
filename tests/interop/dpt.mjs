// A discv4 node on @ethereumjs/devp2p's DPT, for ethpeer's discovery interop tests.
//
//   node dpt.mjs --key <64 hex> --port <udp port, 0 = any> [--bootstrap <128 hex>@127.0.0.1:<udp>]
//
// Events on stdout, one JSON object per line (ids as 128 hex chars):
//   {"event":"listening","port":P,"id":"<hex>"}
//   {"event":"peer:added","id":"<hex>","address":"127.0.0.1","udpPort":N,"tcpPort":N}
//   {"event":"error","message":".."}      (DPT's own errors: timeouts of pings and the like)
// It refreshes (FindNode to known nodes) every 500 ms and exits on EOF of stdin or SIGTERM.

import * as readline from 'node:readline'

import { DPT } from '@ethereumjs/devp2p'

function arg(name) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

// Hex helpers without 0x (Buffer is a Uint8Array).
const hexToBytes = (hex) => new Uint8Array(Buffer.from(hex, 'hex'))
const bytesToUnprefixedHex = (bytes) => Buffer.from(bytes).toString('hex')

const out = (event) => process.stdout.write(`${JSON.stringify(event)}\n`)

const key = hexToBytes(arg('key'))
const dpt = new DPT(key, {
  endpoint: { address: '127.0.0.1', udpPort: null, tcpPort: null },
  // Ten refreshes per interval: one every 500 ms.
  refreshInterval: 5000,
  timeout: 1000,
})
dpt.events.on('error', (error) => out({ event: 'error', message: String(error?.message ?? error) }))
dpt.events.on('peer:added', (peer) =>
  out({
    event: 'peer:added',
    id: bytesToUnprefixedHex(peer.id),
    address: peer.address,
    udpPort: peer.udpPort,
    tcpPort: peer.tcpPort,
  }),
)
dpt.events.on('listening', () => {
  const port = dpt._server._socket.address().port
  out({ event: 'listening', port, id: bytesToUnprefixedHex(dpt.id) })
  const boot = arg('bootstrap')
  if (boot !== undefined) {
    const [id, hostPort] = boot.split('@')
    const [address, udp] = hostPort.split(':')
    dpt
      .bootstrap({ id: hexToBytes(id), address, udpPort: Number(udp), tcpPort: Number(udp) })
      .catch((error) => out({ event: 'error', message: String(error?.message ?? error) }))
  }
})
dpt.bind(Number(arg('port') ?? 0), '127.0.0.1')

const quit = () => {
  dpt.destroy()
  process.exit(0)
}
readline.createInterface({ input: process.stdin }).on('close', quit)
process.on('SIGTERM', quit)
