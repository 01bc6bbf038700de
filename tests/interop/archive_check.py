"""Reads an ethpeer archive with pyarrow (an independent Parquet reader) and prints, as
one JSON object: every transactions file's schema as (name, type) pairs, the hashes in
them, and the sourcelog's and trash's row counts. Used by tests/it/archive.rs.

Usage: archive_check.py DIR
"""
import glob
import json
import os
import sys

import pyarrow.parquet as pq


def main():
    root = sys.argv[1]
    out = {"schemas": [], "hashes": [], "sources": [], "sourcelog_rows": 0, "trash_rows": 0,
           "first_peers": []}
    for path in sorted(glob.glob(os.path.join(root, "*", "*.transactions.parquet"))):
        table = pq.read_table(path)
        out["schemas"].append([[f.name, str(f.type)] for f in table.schema])
        out["hashes"].extend(table.column("hash").to_pylist())
        out["sources"].extend(table.column("sources").to_pylist())
        out["first_peers"].extend(table.column("firstPeer").to_pylist())
    for path in glob.glob(os.path.join(root, "*", "*.sourcelog.parquet")):
        out["sourcelog_rows"] += pq.read_metadata(path).num_rows
    for path in glob.glob(os.path.join(root, "*", "*.trash.parquet")):
        out["trash_rows"] += pq.read_metadata(path).num_rows
    print(json.dumps(out))


if __name__ == "__main__":
    main()
