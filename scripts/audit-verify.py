#!/usr/bin/env python3
"""Independent verifier of anshin's audit log (C22; issue 14, acceptance 4).

Uses none of anshin's code: only hashlib and the `cryptography` package's
Ed25519 (installed by `scripts/setup --test`). It rebuilds every leaf from
an export (`anshin audit export --since 1970-01-01T00:00:00Z`, JSON lines),
computes the RFC 6962 tree hash of the first N leaves, and checks a signed
checkpoint (C2SP signed note) of size N against it with the published
verifier key (`anshin audit public-key`):

    scripts/audit-verify.py --key 'origin+1234abcd+AaBb…' \
        --checkpoint data/audit/witness/checkpoint-….note  export.jsonl

The export must start at index 0 (the tree is recomputed from its first
leaf). Prints the recomputed root; exits 1 on any mismatch, naming the first
index where the recorded tree head (the export's `root`) differs.
"""

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf_bytes(e):
    """The canonical entry bytes (anshin_store::audit, `anshin-audit-entry/v1`)."""
    dash = lambda v: "-" if v is None else str(v)
    target = "-" if e["target_kind"] is None else f'{e["target_kind"]}:{e["target_id"]}'
    return (
        "anshin-audit-entry/v1\n"
        f'index {e["index"]}\n'
        f'at {e["at_micros"]}\n'
        f'actor {e["actor_kind"]}:{dash(e["actor_id"])}\n'
        f'action {e["action"]}\n'
        f"target {target}\n"
        f'origin {dash(e["origin"])}\n'
        f'reason {e["reason"]}\n'
        f'details {e["details_mac"]}\n'
    ).encode("utf-8")


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def push(stack, leaf):
    """Appends a leaf to the right edge of the tree: (height, hash) pairs,
    heights strictly decreasing."""
    h, height = leaf, 0
    while stack and stack[-1][0] == height:
        _, left = stack.pop()
        h, height = node_hash(left, h), height + 1
    stack.append((height, h))


def root_of(stack):
    """The RFC 6962 tree hash (section 2.1) of the leaves pushed."""
    if not stack:
        return hashlib.sha256(b"").digest()
    root = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        root = node_hash(h, root)
    return root


def tree_hash(leaves):
    """RFC 6962 section 2.1, by its recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def parse_key(text):
    name, key_id, key = text.strip().split("+", 2)  # base64 may hold "+"
    raw = base64.b64decode(key)
    if raw[0] != 1 or len(raw) != 33:
        raise ValueError("not an Ed25519 verifier key")
    want = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if want.hex() != key_id.lower():
        raise ValueError("key id does not match the key")
    return name, want, Ed25519PublicKey.from_public_bytes(raw[1:])


def verify_note(note, name, key_id, public):
    body, sep, sigs = note.rpartition("\n\n")
    if not sep:
        raise ValueError("no blank line before the signatures")
    body += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError("a signature line does not start with an em dash")
        signer, blob = line[2:].split(" ", 1)
        blob = base64.b64decode(blob)
        if signer == name and blob[:4] == key_id:
            public.verify(blob[4:], body.encode("utf-8"))  # raises if bad
            origin, size, root = body.splitlines()[:3]
            return origin, int(size), base64.b64decode(root)
    raise ValueError("no signature by this key")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--key", required=True, help="verifier key (anshin audit public-key)")
    ap.add_argument("--checkpoint", required=True, help="a signed checkpoint note file")
    ap.add_argument("export", help="JSON lines from anshin audit export")
    args = ap.parse_args()

    name, key_id, public = parse_key(args.key)
    with open(args.checkpoint, encoding="utf-8") as f:
        note = f.read()
    try:
        origin, size, signed_root = verify_note(note, name, key_id, public)
    except (InvalidSignature, ValueError) as e:
        print(f"FAIL: checkpoint signature: {e or 'invalid signature'}")
        return 1
    if origin != name:
        print(f"FAIL: checkpoint is for log {origin}, key is {name}")
        return 1

    stack, count, root = [], 0, None
    if size == 0:
        root = root_of(stack)
    with open(args.export, encoding="utf-8") as f:
        for n, line in enumerate(f):
            e = json.loads(line)
            if e["index"] != n:
                print(f"FAIL: index {n}: missing (the export has {e['index']} next)")
                return 1
            push(stack, leaf_hash(leaf_bytes(e)))
            count = n + 1
            if root_of(stack) != base64.b64decode(e["root"]):
                print(f"FAIL: index {n}: does not match the tree head recorded with it")
                return 1
            if count == size:
                root = root_of(stack)
    if count < size:
        print(f"FAIL: the checkpoint covers {size} entries, the export has {count}: truncated at index {count}")
        return 1
    print(f"recomputed root of {size} entries: {base64.b64encode(root).decode()}")
    if root != signed_root:
        print(f"FAIL: the first {size} entries do not hash to the signed root")
        return 1
    print("OK: the checkpoint's signature verifies and the export recomputes its root")
    return 0


def self_test():
    """RFC 6962 reference vectors (certificate-transparency-go)."""
    leaves = [leaf_hash(bytes.fromhex(h)) for h in
              ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
               "606162636465666768696a6b6c6d6e6f"]]
    stack = []
    for leaf in leaves:
        push(stack, leaf)
    want = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert root_of(stack).hex() == want and tree_hash(leaves).hex() == want


if __name__ == "__main__":
    self_test()
    sys.exit(main())
