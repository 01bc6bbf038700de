// viem's ordinary wallet path against an ethpeer dev node that produces blocks
// (`--dev.period 0`): sendTransaction with a local account and no gas limit (viem fills
// nonce, gas and fees from the node), waitForTransactionReceipt, and estimateGas of a
// reverting call, whose revert reason viem must show; then a contract deployment and a
// call that emits a log, seen in the call's receipt, by getLogs and by a `logs`
// subscription over WebSocket (watchEvent). Prints one JSON object.
import { createPublicClient, createWalletClient, http, webSocket } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

const rpc = process.argv[2];
const ws = process.argv[3];
const chain = {
  id: 1337,
  name: 'ethpeer dev',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [rpc] } },
};
// Dev account 0 (the well-known test key; see the README).
const account = privateKeyToAccount(
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
);
const wallet = createWalletClient({ account, chain, transport: http(rpc) });
const client = createPublicClient({ chain, transport: http(rpc), pollingInterval: 100 });

const out = {};
try {
  const to = '0x7777777777777777777777777777777777777777';
  const hash = await wallet.sendTransaction({ to, value: 1000n });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 100, timeout: 30_000 });
  out.hash = hash;
  out.status = receipt.status;
  out.blockNumber = receipt.blockNumber.toString();
  out.gasUsed = receipt.gasUsed.toString();
  out.balance = (await client.getBalance({ address: to })).toString();
  // Init code that reverts with Error("nope"): CODECOPY 100 bytes from offset 12, REVERT.
  const reason = '08c379a0' + (32).toString(16).padStart(64, '0') + (4).toString(16).padStart(64, '0')
    + Buffer.from('nope').toString('hex').padEnd(64, '0');
  const data = '0x6064600c6000396064600' + '0fd' + reason;
  try {
    await client.estimateGas({ account, data });
    out.revert = 'no error';
  } catch (error) {
    out.revert = `${error.shortMessage ?? ''} ${error.details ?? ''} ${error.message ?? ''}`;
  }
  // The emitter: its runtime is PUSH32 topic, LOG1 over empty memory, STOP; the init code
  // copies it out and returns it (39 bytes from offset 12).
  const topic = `0x${'ef'.repeat(32)}`;
  const init = `0x6027600c60003960276000f37f${'ef'.repeat(32)}60006000a100`;
  const deployed = await client.waitForTransactionReceipt({
    hash: await wallet.sendTransaction({ data: init }),
    pollingInterval: 100,
  });
  const address = deployed.contractAddress;
  out.deployLogs = deployed.logs.length;
  // The subscription watchEvent makes (eth_subscribe logs over WebSocket); awaiting it
  // means the node has answered with the subscription id before the call is sent.
  const subscriber = createPublicClient({ chain, transport: webSocket(ws) });
  let heardLog;
  const heard = new Promise((resolve) => { heardLog = resolve; });
  const { unsubscribe } = await subscriber.transport.subscribe({
    params: ['logs', { address }],
    onData: (data) => heardLog(data.result),
  });
  const called = await client.waitForTransactionReceipt({
    hash: await wallet.sendTransaction({ to: address }),
    pollingInterval: 100,
  });
  out.callLogs = called.logs.map((l) => l.topics);
  const found = await client.getLogs({ address, fromBlock: 0n });
  out.getLogs = found.map((l) => ({ block: l.blockNumber.toString(), topics: l.topics }));
  const streamed = await Promise.race([heard, new Promise((_, reject) => setTimeout(() => reject(new Error('no log over WebSocket')), 10_000))]);
  out.subscribed = { block: streamed.blockNumber, topics: streamed.topics, removed: streamed.removed };
  out.topic = topic;
  await unsubscribe();
  (await subscriber.transport.getRpcClient()).close();
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = String(error?.stack ?? error);
}
console.log(JSON.stringify(out));
process.exit(0);
