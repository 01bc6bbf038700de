// viem's ordinary wallet path against an ethpeer dev node that produces blocks
// (`--dev.period 0`): sendTransaction with a local account and no gas limit (viem fills
// nonce, gas and fees from the node), waitForTransactionReceipt, and estimateGas of a
// reverting call, whose revert reason viem must show. Prints one JSON object.
import { createPublicClient, createWalletClient, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

const rpc = process.argv[2];
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
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = String(error?.stack ?? error);
}
console.log(JSON.stringify(out));
