#!/usr/bin/env python3
"""A TCP listener on 127.0.0.1 that accepts connections and never answers: a hung target.
Prints its port, then runs until killed or for at most --seconds."""
import argparse
import selectors
import socket
import time

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=600)
args = parser.parse_args()

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(1024)
print(listener.getsockname()[1], flush=True)
held = []
selector = selectors.DefaultSelector()
selector.register(listener, selectors.EVENT_READ)
deadline = time.monotonic() + args.seconds
while time.monotonic() < deadline:
    for _ in selector.select(timeout=1):
        connection, _ = listener.accept()
        held.append(connection)  # kept open, never read or written
