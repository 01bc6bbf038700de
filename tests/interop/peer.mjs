#!/usr/bin/env node
// ethpeer interop peer: a small devp2p node built on @ethereumjs/devp2p that
// speaks RLPx + Hello (p2p v5) + eth/68 Status, driven by JSON lines.
//
// Usage:
//   node peer.mjs --key HEX --listen PORT [--dial enode://ID@127.0.0.1:PORT]
//                 --network-id N --genesis HEX --best HEX --td N
//                 (--fork-hash HEX --fork-next N | --geth-genesis FILE --head-number N --head-time T)
//
// stdout: one JSON object per line (events), stdin: one JSON command per line.
// See README.md for the protocol and the library quirks.

import * as readline from 'node:readline'

import { readFileSync } from 'node:fs'

import { createBlockHeaderFromBytesArray } from '@ethereumjs/block'
import { Common, Mainnet, createCommonFromGethGenesis } from '@ethereumjs/common'
import { createTxFromBlockBodyData } from '@ethereumjs/tx'
import { DISCONNECT_REASON, ETH, Peer, RLPx } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'
import * as snappy from 'snappyjs'

// ---------------------------------------------------------------- output ---

const BIG = '__bigint__'
function emit(obj) {
  // BigInts are written as bare JSON integers (exact, even above 2^53).
  const line = JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? `${BIG}${v}${BIG}` : v))
    .replace(new RegExp(`"${BIG}(\\d+)${BIG}"`, 'g'), '$1')
  // stdout to a pipe/file is synchronous on Linux, so this is flushed at once.
  process.stdout.write(line + '\n')
}
function emitError(message) {
  emit({ event: 'error', message: String(message) })
}

// ------------------------------------------------------------- utilities ---

const hex = (b) => Buffer.from(b).toString('hex')
function fromHex(s, name, len) {
  if (typeof s !== 'string') throw new Error(`${name}: missing`)
  s = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`${name}: bad hex`)
  const b = Uint8Array.from(Buffer.from(s, 'hex'))
  if (len !== undefined && b.length !== len) throw new Error(`${name}: expected ${len} bytes`)
  return b
}
// Canonical (minimal, big-endian) integer bytes; 0 -> empty.
function bigToBytes(n) {
  if (n === 0n) return new Uint8Array(0)
  let h = n.toString(16)
  if (h.length % 2) h = '0' + h
  return Uint8Array.from(Buffer.from(h, 'hex'))
}
const bytesToBig = (b) => (b.length === 0 ? 0n : BigInt('0x' + hex(b)))
function parseBig(s, name) {
  if (typeof s !== 'string' || !/^\d+$/.test(s)) throw new Error(`${name}: expected decimal`)
  return BigInt(s)
}

// ------------------------------------------------------------- arguments ---

function parseArgs(argv) {
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`)
    if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`)
    out[a.slice(2)] = argv[++i]
  }
  return out
}

let cfg
try {
  const a = parseArgs(process.argv.slice(2))
  const known = [
    'key', 'listen', 'dial', 'network-id', 'genesis', 'best', 'td', 'fork-hash', 'fork-next',
    'geth-genesis', 'head-number', 'head-time',
  ]
  for (const k of Object.keys(a)) if (!known.includes(k)) throw new Error(`unknown option --${k}`)
  cfg = {
    key: fromHex(a.key, '--key', 32),
    listen: a.listen === undefined ? 0 : Number(parseBig(a.listen, '--listen')),
    dial: a.dial,
    networkId: parseBig(a['network-id'], '--network-id'),
    genesis: fromHex(a.genesis, '--genesis', 32),
    best: fromHex(a.best, '--best', 32),
    td: parseBig(a.td, '--td'),
  }
  if (a['geth-genesis'] !== undefined) {
    // The chain's own genesis file: ethereumjs computes the fork ids (EIP-2124/6122) itself.
    cfg.gethGenesis = JSON.parse(readFileSync(a['geth-genesis'], 'utf8'))
    cfg.headNumber = parseBig(a['head-number'], '--head-number')
    cfg.headTime = parseBig(a['head-time'], '--head-time')
  } else {
    cfg.forkHash = hex(fromHex(a['fork-hash'], '--fork-hash', 4))
    cfg.forkNext = parseBig(a['fork-next'], '--fork-next')
  }
  if (cfg.listen > 65535) throw new Error('--listen: bad port')
  if (cfg.dial !== undefined) {
    // An optional ?discport=N (geth prints it when discovery has its own port) names UDP.
    const m = /^enode:\/\/([0-9a-fA-F]{128})@([^:]+):(\d+)(?:\?discport=\d+)?$/.exec(cfg.dial)
    if (!m) throw new Error('--dial: expected enode://<128 hex>@127.0.0.1:<port>')
    if (m[2] !== '127.0.0.1') throw new Error('--dial: only 127.0.0.1 is allowed')
    cfg.dialId = fromHex(m[1], '--dial id', 64)
    cfg.dialPort = Number(m[3])
  }
} catch (err) {
  emitError(err.message)
  process.exit(2)
}

// --------------------------------------------------------- eth/68 protocol ---

// The library takes the Status network id from common.chainId() and the fork
// id from Common's hardfork schedule. With --geth-genesis the Common is built
// from the chain's genesis file, so the library's own EIP-2124 code computes our
// fork id and validates the remote's. Otherwise a Mainnet Common (only used for
// that and for its default crypto) with the fork id overridden per instance.
const common = cfg.gethGenesis
  ? createCommonFromGethGenesis(cfg.gethGenesis, { chain: 'interop', genesisHash: cfg.genesis })
  : new Common({ chain: Mainnet })
if (cfg.gethGenesis) {
  common.setHardforkBy({ blockNumber: cfg.headNumber, timestamp: cfg.headTime })
}
common.chainId = () => cfg.networkId

// Decodes a received message with ethereumjs's own codecs where it has them
// (@ethereumjs/tx for transactions, @ethereumjs/block for headers), so the
// Rust tests compare ethereumjs's reading of our bytes, not our own.
function decodeMessage(code, data) {
  const payload = RLP.decode(data)
  const txHashes = (txs) => txs.map((t) => hex(createTxFromBlockBodyData(t, { common }).hash()))
  switch (code) {
    case 2: // Transactions: [tx, ...]
      return { txHashes: txHashes(payload) }
    case 4: // BlockHeaders: [request-id, [header, ...]]
      return {
        requestId: bytesToBig(payload[0]),
        headerHashes: payload[1].map((h) =>
          hex(createBlockHeaderFromBytesArray(h, { common, setHardfork: true }).hash()),
        ),
      }
    case 6: // BlockBodies: [request-id, [[txs, ommers, withdrawals?], ...]]
      return {
        requestId: bytesToBig(payload[0]),
        bodyTxHashes: payload[1].map((body) => txHashes(body[0])),
      }
    default:
      return undefined
  }
}

/**
 * ETH subclass:
 *  - fork id comes from --fork-hash/--fork-next instead of Common;
 *  - remote fork id check: fork hash must equal ours (the library's EIP-2124
 *    check needs a Common that knows the remote's fork hash);
 *  - every received eth message is reported raw (after snappy decompression)
 *    before the library handles it.
 */
class InteropETH extends ETH {
  static eth68 = { name: 'eth', version: 68, length: 17, constructor: InteropETH }

  constructor(version, peer, send) {
    super(version, peer, send)
    if (cfg.gethGenesis) {
      // The library set fork hash and next fork from the Common; the head is ours.
      this._latestBlock = cfg.headNumber
    } else {
      this._forkHash = '0x' + cfg.forkHash
      this._nextForkBlock = cfg.forkNext
      this._latestBlock = 0n
    }
    this._announced = false
    this._pending = []
  }

  // Events of this peer are held back until the "peer" event was printed.
  _out(obj) {
    if (this._announced) emit(obj)
    else this._pending.push(obj)
  }
  _announce() {
    this._announced = true
    for (const obj of this._pending.splice(0)) emit(obj)
  }

  _validateForkId(forkId) {
    // With the chain's genesis file, the library's own EIP-2124 validation.
    if (cfg.gethGenesis) return super._validateForkId(forkId)
    const remote = hex(forkId[0])
    if (remote !== cfg.forkHash) {
      throw new Error(`Fork hash mismatch: local ${cfg.forkHash} / remote ${remote}`)
    }
  }

  _handleMessage(code, data) {
    if (code === 0) {
      try {
        const s = RLP.decode(data)
        const fork = Array.isArray(s[5]) ? s[5] : []
        this._out({
          event: 'status',
          status: {
            version: Number(bytesToBig(s[0])),
            networkId: bytesToBig(s[1]),
            td: bytesToBig(s[2]).toString(),
            bestHash: hex(s[3]),
            genesisHash: hex(s[4]),
            forkHash: fork[0] instanceof Uint8Array ? hex(fork[0]) : null,
            forkNext: fork[1] instanceof Uint8Array ? bytesToBig(fork[1]) : null,
          },
          // Ours as the library computed it (from the Common, or --fork-hash).
          local: { forkHash: this._forkHash.replace(/^0x/, ''), forkNext: this._nextForkBlock },
        })
      } catch (err) {
        this._out({ event: 'error', message: `cannot decode remote Status: ${err.message}` })
      }
    } else {
      let decoded
      let decodeError
      try {
        decoded = decodeMessage(code, data)
      } catch (err) {
        decodeError = String(err?.message ?? err)
      }
      this._out({ event: 'message', code, payload: hex(data), decoded, decodeError })
    }
    // Library handling (Status validation, RLP decode). Throwing here makes
    // the library send Disconnect(SUBPROTOCOL_ERROR=0x10).
    super._handleMessage(code, data)
  }
}

// Report connections that end before the Hello exchange completed (the
// library only emits peer:removed for peers that got past Hello).
const origOnSocketClose = Peer.prototype._onSocketClose
Peer.prototype._onSocketClose = function () {
  if (!this._connected) {
    emit({
      event: 'disconnect',
      reason: this._disconnectReason ?? 'closed',
      we: this._disconnectWe ?? false,
      stage: 'handshake',
    })
  }
  return origOnSocketClose.call(this)
}

// RLPx subclass: TCP_NODELAY on every socket (incoming and dialed) before the
// first byte (auth/ack) is written. The library never sets it itself.
class InteropRLPx extends RLPx {
  _onConnect(socket, peerId) {
    socket.setNoDelay(true)
    return super._onConnect(socket, peerId)
  }
}

// ------------------------------------------------------------------ node ---

const rlpx = new InteropRLPx(cfg.key, {
  capabilities: [InteropETH.eth68],
  common,
  dpt: null, // no discovery (no DPT, no DNS), no bootnodes
  maxPeers: 10,
})
const localId = hex(rlpx.id)

const ethOf = (peer) => peer.getProtocols().find((p) => p instanceof InteropETH)

rlpx.events.on('error', (err) => emitError(`rlpx: ${err?.message ?? err}`))
rlpx.events.on('peer:error', (_peer, err) => emitError(`peer: ${err?.message ?? err}`))

rlpx.events.on('peer:added', (peer) => {
  const hello = peer.getHelloMessage()
  const eth = ethOf(peer)
  if (!eth) {
    emitError('peer without eth protocol')
    peer.disconnect(DISCONNECT_REASON.USELESS_PEER)
    return
  }
  emit({
    event: 'peer',
    id: hex(peer.getId()),
    client: hello.clientId,
    eth: eth.getVersion(),
    p2p: hello.protocolVersion,
  })
  eth._announce()
  // Library's own 'status' event: both Status sent+received and validated.
  eth.events.once('status', () => emit({ event: 'ready' }))
  try {
    eth.sendStatus({ td: bigToBytes(cfg.td), bestHash: cfg.best, genesisHash: cfg.genesis })
  } catch (err) {
    // Validation failure of an already-received remote Status lands here.
    emitError(`status: ${err.message}`)
    peer.disconnect(DISCONNECT_REASON.SUBPROTOCOL_ERROR)
  }
})

rlpx.events.on('peer:removed', (peer, reason, disconnectWe) => {
  emit({ event: 'disconnect', reason: reason ?? 'closed', we: disconnectWe === true })
})

rlpx.events.once('listening', () => {
  const port = rlpx._server.address().port
  rlpx._listenPort = port // advertised in our Hello
  emit({ event: 'listening', port, id: localId })
  if (cfg.dial !== undefined) {
    rlpx
      .connect({ id: cfg.dialId, address: '127.0.0.1', tcpPort: cfg.dialPort })
      .catch((err) => emitError(`dial: ${err?.message ?? err}`))
  }
})

rlpx.listen(cfg.listen, '127.0.0.1')

// ------------------------------------------------------------------ stdin ---

function sendRaw(code, payload) {
  const peers = rlpx.getPeers()
  if (peers.length === 0) return emitError('send: no connected peer')
  for (const peer of peers) {
    const eth = ethOf(peer)
    if (!eth) continue
    // Raw send: bypass ETH.sendMessage (which RLP-encodes a JS value and
    // rejects some codes) and call the subprotocol send method directly,
    // compressing the way the library does for p2p >= 5.
    const hello = peer.getHelloMessage()
    const data = hello !== null && hello.protocolVersion >= 5 ? snappy.compress(payload) : payload
    eth._send(code, data)
  }
}

let quitting = false
function quit(code = 0) {
  if (quitting) return
  quitting = true
  clearInterval(rlpx._refillIntervalId)
  rlpx._server?.close()
  const sockets = []
  for (const peer of rlpx.getPeers()) {
    peer.disconnect(DISCONNECT_REASON.CLIENT_QUITTING) // 0x08
    sockets.push(peer._socket)
    peer._socket.end() // flush the Disconnect frame, then FIN
  }
  for (const s of rlpx._peers.values()) if (!(s instanceof Peer)) s.destroy()
  const open = sockets.filter((s) => !s.destroyed)
  if (open.length === 0) process.exit(code)
  let left = open.length
  for (const s of open) s.once('close', () => --left === 0 && process.exit(code))
  setTimeout(() => process.exit(code), 1000).unref()
}

const rl = readline.createInterface({ input: process.stdin, terminal: false })
rl.on('line', (line) => {
  line = line.trim()
  if (line === '') return
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (err) {
    return emitError(`bad command JSON: ${err.message}`)
  }
  try {
    if (cmd.cmd === 'send') {
      if (!Number.isInteger(cmd.code) || cmd.code < 0 || cmd.code > 16) {
        throw new Error('send: code must be an integer 0..16')
      }
      sendRaw(cmd.code, fromHex(cmd.payload, 'payload'))
    } else if (cmd.cmd === 'quit') {
      quit(0)
    } else {
      emitError(`unknown command: ${JSON.stringify(cmd.cmd)}`)
    }
  } catch (err) {
    emitError(err.message)
  }
})
rl.on('close', () => quit(0))

process.on('uncaughtException', (err) => emitError(`uncaught: ${err?.stack ?? err}`))
process.on('unhandledRejection', (err) => emitError(`unhandled: ${err?.stack ?? err}`))
process.on('SIGTERM', () => quit(0))
process.on('SIGINT', () => quit(0))
