"""A local CRM webhook receiver: the README's example (docs/examples/webhook_receiver.py), served on
127.0.0.1 in a thread, so the tests prove the example verifies what the bot sends."""

from __future__ import annotations

import importlib.util
import threading
from types import ModuleType, TracebackType
from typing import Any, Self

from helpers import ROOT


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "webhook_receiver", ROOT / "docs" / "examples" / "webhook_receiver.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeWebhook:
    def __init__(self, secret: str) -> None:
        self.module = example()
        self.receiver: Any = self.module.Receiver(secret)
        self.server: Any = None
        self.url = ""

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.receiver.events)

    def __enter__(self) -> Self:
        self.server = self.module.serve(self.receiver, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/crm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
