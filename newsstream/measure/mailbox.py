"""A real SMTP server (aiosmtpd) on a loopback port that keeps what it receives, with the time:
the receiving end of the mail channel in benchmarks and tests."""
from __future__ import annotations

import socket
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any


class Mailbox:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.received_at: list[float] = []  # time.monotonic() of each message's arrival
        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802, ARG002
                mailbox.received_at.append(time.monotonic())
                mailbox.messages.append(message_from_bytes(envelope.content, policy=default))  # type: ignore[arg-type]
                return "250 OK"

        # A free port picked first: the controller checks its server by connecting to the port given.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
