#!/usr/bin/env python3
"""Delay and loss for viewers' access links, in user space, for kernels without `netem`.

Each link is a pair of persistent TAP devices made by the bench: one that becomes the viewer's
interface inside its network namespace, one that is a port of the bench's bridge. This process
holds both and copies every frame across, one way after the other, after the link's one-way
delay, dropping each with the link's loss probability. Rate caps stay in the kernel (`tbf` on
each TAP, which the kernel applies before the frame reaches this process).

Usage: linkemu.py SPEC.json   (SPEC: {"seed": 1, "links": [{"viewer": "scv1", "bridge":
"scb1", "delayMs": 8.0, "loss": 0.0002}, ...]}). Prints "ready" once every TAP is held;
runs until SIGTERM or the end of its stdin.
"""
import fcntl
import heapq
import json
import os
import random
import selectors
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    spec = json.load(open(sys.argv[1]))
    rng = random.Random(spec.get("seed", 1))
    sel = selectors.DefaultSelector()
    for link in spec["links"]:
        viewer, bridge = open_tap(link["viewer"]), open_tap(link["bridge"])
        delay, loss = link["delayMs"] / 1000, link["loss"]
        # (destination, delay, loss) for frames read from each side.
        sel.register(viewer, selectors.EVENT_READ, (bridge, delay, loss))
        sel.register(bridge, selectors.EVENT_READ, (viewer, delay, loss))
    # The bench holds this process's stdin: when the bench dies, even by SIGKILL, so does this.
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    queue = []  # (due, seq, fd, frame): one heap for all links, so one timer drives them
    seq = 0
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        for key, _ in sel.select(timeout):
            if key.data is None:
                if not os.read(key.fd, 4096):
                    return
                continue
            dest, delay, loss = key.data
            while True:
                try:
                    frame = os.read(key.fd, 65536)
                except BlockingIOError:
                    break
                if loss and rng.random() < loss:
                    continue
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, dest, frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, dest, frame = heapq.heappop(queue)
            try:
                os.write(dest, frame)
            except (BlockingIOError, OSError):
                pass  # the interface is down or its queue is full: the frame is lost, as on a wire


if __name__ == "__main__":
    main()
