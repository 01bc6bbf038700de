// viem (npm) against a running ethpeer dev node, as a wallet or monitor would use it:
// over WebSocket it watches pending transactions (eth_subscribe newPendingTransactions)
// and sends a raw transaction; over HTTP it reads txpool_status, the pending nonce,
// eth_gasPrice, eth_maxPriorityFeePerGas and the transaction; then it sends transactions
// the pool refuses and classifies each error with viem's own node-error classifier.
//
//   node mempool.mjs --http http://127.0.0.1:P --ws ws://127.0.0.1:Q
//
// Prints one JSON object on stdout ({"ok":true,...} or {"ok":false,"error":...}).
// Dev account 1 must be funded; dev account 2 must have nonce 5 (the test's state file).

import { createPublicClient, http, webSocket, parseGwei } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { getNodeError } from 'viem/utils'

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing --${name}`)
  return process.argv[i + 1]
}

// The well-known Hardhat/Anvil keys of the dev network's accounts 1 and 2.
const FUNDED = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const AT_NONCE_5 = privateKeyToAccount('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a')
const TO = '0x4242424242424242424242424242424242424242'

const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)),
  ])

async function main() {
  const httpUrl = arg('http')
  const wsUrl = arg('ws')
  const chain = {
    id: 1337,
    name: 'ethpeer dev',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [httpUrl], webSocket: [wsUrl] } },
  }
  const overHttp = createPublicClient({ chain, transport: http(httpUrl) })
  const overWs = createPublicClient({ chain, transport: webSocket(wsUrl) })

  const tx = (account, fields) =>
    account.signTransaction({
      chainId: 1337,
      type: 'eip1559',
      nonce: 0,
      to: TO,
      value: 1n,
      gas: 21000n,
      maxFeePerGas: parseGwei('2'),
      maxPriorityFeePerGas: parseGwei('1'),
      ...fields,
    })

  // Subscribe first, then send over the same WebSocket.
  let unwatch
  const seen = new Promise((resolve) => {
    unwatch = overWs.watchPendingTransactions({ poll: false, onTransactions: (hashes) => resolve(hashes) })
  })
  // Let the subscription be acknowledged before the tx goes out.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const raw = await tx(FUNDED, {})
  const sentAt = performance.now()
  const hash = await overWs.sendRawTransaction({ serializedTransaction: raw })
  const notified = await withTimeout(seen, 5000, 'newPendingTransactions')
  const latencyMs = performance.now() - sentAt
  unwatch()

  const status = await overHttp.request({ method: 'txpool_status' })
  const pendingNonce = await overHttp.getTransactionCount({ address: FUNDED.address, blockTag: 'pending' })
  const gasPrice = await overHttp.getGasPrice()
  const tip = await overHttp.request({ method: 'eth_maxPriorityFeePerGas' })
  const pooled = await overHttp.getTransaction({ hash })

  // Refusals: what viem makes of each (its class, and the node's text).
  const refusals = {
    alreadyKnown: raw,
    nonceTooLow: await tx(AT_NONCE_5, { nonce: 0 }),
    replacementUnderpriced: await tx(FUNDED, { value: 2n }),
    insufficientFunds: await tx(FUNDED, { nonce: 1, value: 10n ** 30n }),
    intrinsicGasTooLow: await tx(FUNDED, { nonce: 1, gas: 20000n }),
    exceedsBlockGasLimit: await tx(FUNDED, { nonce: 1, gas: 40000000n }),
    oversizedData: await tx(FUNDED, { nonce: 1, gas: 3000000n, data: `0x${'ab'.repeat(132000)}` }),
    maxInitcodeSizeExceeded: await tx(FUNDED, { nonce: 1, to: undefined, gas: 3000000n, data: `0x${'ab'.repeat(50000)}` }),
  }
  const classified = {}
  for (const [name, serializedTransaction] of Object.entries(refusals)) {
    try {
      await overHttp.sendRawTransaction({ serializedTransaction })
      classified[name] = { accepted: true }
    } catch (err) {
      const nodeError = getNodeError(err, {})
      classified[name] = { class: nodeError.name, details: err.details }
    }
  }
  await overWs.transport.getRpcClient?.().then((c) => c.close()).catch(() => {})
  return {
    ok: true,
    hash,
    notified,
    latencyMs,
    status,
    pendingNonce,
    gasPrice: gasPrice.toString(),
    tip,
    pooled: { hash: pooled.hash, from: pooled.from, nonce: pooled.nonce, type: pooled.type, blockHash: pooled.blockHash },
    classified,
  }
}

main()
  .then((result) => {
    console.log(JSON.stringify(result))
    process.exit(0)
  })
  .catch((err) => {
    console.log(JSON.stringify({ ok: false, error: String(err?.stack ?? err) }))
    process.exit(1)
  })
