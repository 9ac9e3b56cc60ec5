#!/usr/bin/env python3
"""A minimal STUN server (RFC 8489 Binding, no authentication) for the NAT test: it answers
each Binding request with the request's source as XOR-MAPPED-ADDRESS, which behind a NAT is
the NAT's public side. usage: stun_responder.py ADDRESS PORT (prints "ready" once bound)."""
import socket
import struct
import sys

MAGIC = 0x2112A442

address, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((address, port))
print("ready", flush=True)
while True:
    data, (host, source_port) = sock.recvfrom(2048)
    if len(data) < 20 or struct.unpack("!H", data[0:2])[0] != 0x0001:
        continue
    transaction = data[8:20]
    ip = struct.unpack("!I", socket.inet_aton(host))[0] ^ MAGIC
    value = struct.pack("!BBHI", 0, 1, source_port ^ (MAGIC >> 16), ip)
    attribute = struct.pack("!HH", 0x0020, len(value)) + value
    header = struct.pack("!HHI", 0x0101, len(attribute), MAGIC) + transaction
    sock.sendto(header + attribute, (host, source_port))
