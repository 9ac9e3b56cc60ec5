"""What the slixmpp test peers share: one JSON object a line for each event, their connection
options, and running until a timeout (or until the peer says it is done).

Network: loopback only (127.0.0.1:PORT).
"""
import asyncio
import json
import logging
import sys


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)


async def follow_commands(path, handle, done=None):
    """Calls `handle(line)` (a coroutine) for each line appended to the file at `path`, in
    order, until `done` (an asyncio.Event) is set: how a test drives a peer while it runs."""
    handled = 0
    while done is None or not done.is_set():
        try:
            with open(path, encoding="utf-8") as file:
                lines = file.read().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines[handled:]:
            await handle(line)
        handled = max(handled, len(lines))
        await asyncio.sleep(0.1)


def add_connection_arguments(parser):
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--verbose", action="store_true")


def run(peer, args, done=None):
    """Connects `peer` (a ClientXMPP with a `failed` flag) to the test server and exits, 0 or
    1 for a failed login, at the timeout or once the `done` event is set."""
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    peer.ca_certs = args.ca_file
    peer.connect(host="127.0.0.1", port=args.port)

    async def main():
        try:
            if done is None:
                await asyncio.sleep(args.timeout)
            else:
                await asyncio.wait_for(done.wait(), args.timeout)
        except asyncio.TimeoutError:
            pass
        peer.disconnect()
        try:
            await asyncio.wait_for(peer.disconnected, 3)
        except asyncio.TimeoutError:
            pass
        return 1 if peer.failed else 0

    sys.exit(peer.loop.run_until_complete(main()))
