// ethers v6's ordinary wallet path against an ethpeer dev node that produces blocks
// (`--dev.period 0`): `wallet.sendTransaction({ to, value })` with no gas limit (ethers
// fills nonce, gas and fees from the node), `tx.wait()` for the receipt, and
// `provider.on('block')` hearing the new block; then a contract deployment and a call
// that emits a log, seen in the call's receipt and by `provider.getLogs`. Prints one JSON
// object.
import { JsonRpcProvider, Wallet } from 'ethers';

const rpc = process.argv[2];
const provider = new JsonRpcProvider(rpc, { chainId: 1337, name: 'ethpeer-dev' }, {
  staticNetwork: true,
  polling: true,
  pollingInterval: 100,
  // ethers caches identical requests for 250 ms; on a chain that mines at once (anvil,
  // geth --dev, ours) the cached pending nonce of the previous send would be reused.
  cacheTimeout: -1,
});
// Dev account 1 (the well-known test keys; see the README).
const wallet = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d', provider);

const out = {};
try {
  const blocks = [];
  const heard = new Promise((resolve) => {
    provider.on('block', (number) => {
      blocks.push(number);
      if (number >= 1) resolve();
    });
  });
  const to = '0x8888888888888888888888888888888888888888';
  const tx = await wallet.sendTransaction({ to, value: 1234n });
  const receipt = await tx.wait(1, 30_000);
  out.hash = tx.hash;
  out.status = receipt.status;
  out.blockNumber = receipt.blockNumber;
  out.gasUsed = receipt.gasUsed.toString();
  out.balance = (await provider.getBalance(to)).toString();
  await Promise.race([heard, new Promise((_, reject) => setTimeout(() => reject(new Error('no block event')), 10_000))]);
  out.heardBlock = blocks.includes(receipt.blockNumber);
  provider.removeAllListeners();
  // The emitter (PUSH32 topic, LOG1, STOP) deployed without a gas limit, then called.
  const init = `0x6027600c60003960276000f37f${'ef'.repeat(32)}60006000a100`;
  const deployed = await (await wallet.sendTransaction({ data: init })).wait(1, 30_000);
  const address = deployed.contractAddress;
  const called = await (await wallet.sendTransaction({ to: address })).wait(1, 30_000);
  out.callLogs = called.logs.map((l) => l.topics);
  const found = await provider.getLogs({ address, fromBlock: 0 });
  out.getLogs = found.map((l) => ({ block: l.blockNumber, topics: l.topics }));
  out.callBlock = called.blockNumber;
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = String(error?.stack ?? error);
}
provider.destroy();
console.log(JSON.stringify(out));
