# multicast.recv from the seed package, multicast 2.1: only what the benchmarks use.
import socket

def joinstep(
    groups: list[str],
    port: int,
    iface: str | None = None,
    bind_group: str | None = None,
    isock: socket.socket | None = None,
) -> socket.socket: ...
def tryrecv(msgbuffer: str, chunk: bytes | None, sock: socket.socket) -> str: ...

class McastRECV:
    @staticmethod
    def _hearstep(
        groups: list[str], port: int, iface: str | None = None, bind_group: str | None = None
    ) -> str: ...
