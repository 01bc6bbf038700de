// ethers v6's ordinary wallet path against an ethpeer dev node that produces blocks
// (`--dev.period 0`): `wallet.sendTransaction({ to, value })` with no gas limit (ethers
// fills nonce, gas and fees from the node), `tx.wait()` for the receipt, and
// `provider.on('block')` hearing the new block. Prints one JSON object.
import { JsonRpcProvider, Wallet } from 'ethers';

const rpc = process.argv[2];
const provider = new JsonRpcProvider(rpc, { chainId: 1337, name: 'ethpeer-dev' }, {
  staticNetwork: true,
  polling: true,
  pollingInterval: 100,
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
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = String(error?.stack ?? error);
}
provider.destroy();
console.log(JSON.stringify(out));
