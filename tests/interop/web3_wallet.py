"""web3.py's ordinary wallet path against an ethpeer dev node that produces blocks
(`--dev.period 0`): `send_transaction({to, value})` through the signing middleware, with
no gas, nonce or fees given (the middleware asks the node for each), then
`wait_for_transaction_receipt`; then a contract deployment and a call that emits a log,
seen in the call's receipt and by `get_logs`. Prints one JSON object."""
import json
import sys

from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder
from eth_account import Account

rpc = sys.argv[1]
w3 = Web3(Web3.HTTPProvider(rpc))
# Dev account 2 (the well-known test keys; see the README).
account = Account.from_key("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
out = {}
try:
    to = "0x9999999999999999999999999999999999999999"
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
    w3.eth.default_account = account.address
    hash_ = w3.eth.send_transaction({"to": to, "value": 4321})
    receipt = w3.eth.wait_for_transaction_receipt(hash_, timeout=30, poll_latency=0.1)
    out = {
        "ok": True,
        "hash": hash_.to_0x_hex(),
        "status": receipt["status"],
        "blockNumber": receipt["blockNumber"],
        "gasUsed": receipt["gasUsed"],
        "gas": w3.eth.get_transaction(hash_)["gas"],
        "balance": w3.eth.get_balance(to),
    }
    # The emitter (PUSH32 topic, LOG1, STOP) deployed without a gas limit, then called.
    init = "0x6027600c60003960276000f37f" + "ef" * 32 + "60006000a100"
    deployed = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"data": init}), timeout=30, poll_latency=0.1
    )
    address = deployed["contractAddress"]
    called = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"to": address}), timeout=30, poll_latency=0.1
    )
    out["callLogs"] = [[t.to_0x_hex() for t in log["topics"]] for log in called["logs"]]
    out["callBlock"] = called["blockNumber"]
    out["getLogs"] = [
        {"block": log["blockNumber"], "topics": [t.to_0x_hex() for t in log["topics"]]}
        for log in w3.eth.get_logs({"address": address, "fromBlock": 0})
    ]
except Exception as error:  # the Rust test shows whatever went wrong
    out = {"ok": False, "error": repr(error)}
print(json.dumps(out))
