"""CPython workload for bench/programs.py, run as PYTHONMALLOC=malloc /usr/bin/python3 objects.py SCALE so that
every object comes from the allocator under test (CPython's own small-object allocator would hide it).
Builds and drops dicts, lists, strings, tuples and small class instances in bulk, keeps a slowly growing
share alive, and prints one checksum line; the values depend only on SCALE, so every allocator must print
the same line."""
import hashlib
import sys


class Node:
    __slots__ = ("key", "value", "next")

    def __init__(self, key, value, nxt):
        self.key, self.value, self.next = key, value, nxt


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rounds = max(1, int(8 * scale))
    h = hashlib.sha256()
    kept = []
    for r in range(rounds):
        d = {}
        for i in range(20000):
            d["k%d-%d" % (r, i)] = [i, str(i * 7), (i, r), {"x": i % 13}]
        chain = None
        for i in range(20000):
            chain = Node(i, "v" * (i % 40), chain)
        words = [("w%d" % (i * 31 % 997)) * (1 + i % 5) for i in range(30000)]
        text = " ".join(words)
        parts = sorted(set(text.split()))
        total, n = 0, chain
        while n is not None:
            total += n.key + len(n.value)
            n = n.next
        h.update(("%d %d %d %d|" % (len(d), total, len(parts), len(text))).encode())
        h.update(parts[len(parts) // 2].encode())
        kept.append({k: v for k, v in list(d.items())[:: 50]})
        del d, chain, words, text, parts
    h.update(str(sum(len(k) for k in kept)).encode())
    print("checksum=%s objects_kept=%d" % (h.hexdigest()[:16], sum(len(k) for k in kept)))


main()
