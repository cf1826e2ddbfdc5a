"""The local provider edge (infra/local/provider_edge.py) served on a free port, for the tests
of the Alipay and WeChat Pay adapters, with the adapters built on its generated keys."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from commerce.payments.alipay_provider import AlipayKeys, AlipayProvider
from commerce.payments.wechat_pay_provider import WechatPayKeys, WechatPayProvider
from commerce.settings import Settings, get_settings
from werkzeug.serving import make_server

from infra.local.provider_edge import ALIPAY_PATH, WECHAT_PREFIX, ProviderEdge

NOTIFY_BASE = "https://api.example.test/dev"


@dataclass
class Edge:
    """The edge, its address, and settings that point the adapters at it."""

    edge: ProviderEdge
    base_url: str
    settings: Settings

    def alipay(self) -> AlipayProvider:
        keys = self.edge.keys.credentials()["alipay"]
        return AlipayProvider(AlipayKeys(**keys), self.settings)

    def wechat_pay(self) -> WechatPayProvider:
        keys = dict(self.edge.keys.credentials()["wechat_pay"])
        keys["platform_certificates"] = tuple(keys["platform_certificates"])
        return WechatPayProvider(WechatPayKeys(**keys), self.settings)


@contextmanager
def running_edge() -> Iterator[Edge]:
    edge = ProviderEdge()
    server = make_server("127.0.0.1", 0, edge, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="provider-edge", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    settings = replace(
        get_settings(),
        alipay_gateway_url=base + ALIPAY_PATH,
        wechatpay_api_base=base + WECHAT_PREFIX,
        payment_notify_base_url=NOTIFY_BASE,
    )
    try:
        yield Edge(edge, base, settings)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
