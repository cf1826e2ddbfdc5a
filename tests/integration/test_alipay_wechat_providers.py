"""The Alipay and WeChat Pay adapters through their SDKs, against the local provider edge.

Keys are generated at run time (infra/local/provider_edge.py). The edge verifies every request's
signature as the provider would and signs every answer, which the SDKs verify in turn, so these
tests exercise the adapters' real outbound calls: the payment begun, the trade queried, refunds
idempotent by their reference, and a provider that cannot be reached.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from commerce.domain.money import Money
from commerce.domain.orders import NextActionType
from commerce.payments.alipay_provider import AlipayKeys, AlipayProvider, epoch_of_beijing
from commerce.payments.provider import (
    ChargeStatus,
    PermanentProviderError,
    TransientProviderError,
    charge_key,
    refund_key,
)
from commerce.payments.wechat_pay_provider import WechatPayProvider
from payment_edge import NOTIFY_BASE, Edge, running_edge

from infra.local.processes import free_port

pytestmark = pytest.mark.integration

DEADLINE = 2_000_000_000


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    with running_edge() as running:
        yield running


def _key(order_id: str) -> str:
    return charge_key(order_id)


# --- Alipay -----------------------------------------------------------------------------------


def test_alipay_begins_with_a_signed_cashier_redirect(edge: Edge) -> None:
    alipay = edge.alipay()
    begun = alipay.charge("ali-1", Money(1250), "", _key("ali-1"), expires_at=DEADLINE)
    assert begun.status is ChargeStatus.ACTION_REQUIRED
    action = begun.next_action
    assert action is not None
    assert action.type is NextActionType.REDIRECT
    assert action.url is not None
    assert action.url.startswith(edge.settings.alipay_gateway_url)
    query = parse_qs(urlsplit(action.url).query)
    assert query["method"] == ["alipay.trade.page.pay"]
    assert query["notify_url"] == [f"{NOTIFY_BASE}/webhooks/payments/alipay"]
    assert '"out_trade_no":"ali-1"' in query["biz_content"][0]
    assert '"total_amount":"12.50"' in query["biz_content"][0]
    assert '"time_expire":"2033-05-18 11:33:20"' in query["biz_content"][0]


def test_alipay_requests_are_stamped_in_beijing_time_whatever_the_hosts_zone(
    edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")  # as on Lambda
    time.tzset()
    try:
        before = int(time.time())
        begun = edge.alipay().charge("ali-ts", Money(100), "", _key("ali-ts"))
        after = int(time.time())
    finally:
        monkeypatch.undo()
        time.tzset()
    assert begun.next_action is not None
    assert begun.next_action.url is not None
    (stamp,) = parse_qs(urlsplit(begun.next_action.url).query)["timestamp"]
    assert before <= epoch_of_beijing(stamp) <= after


def test_alipay_trade_query_tells_waiting_paid_and_closed(edge: Edge) -> None:
    alipay = edge.alipay()
    assert alipay.find_charge("ali-none", _key("ali-none")) is None
    edge.edge.close("alipay", "ali-closed", 900)
    closed = alipay.find_charge("ali-closed", _key("ali-closed"))
    assert closed is not None
    assert closed.status is ChargeStatus.DECLINED
    trade = edge.edge.pay("alipay", "ali-paid", 900)
    paid = alipay.find_charge("ali-paid", _key("ali-paid"))
    assert paid is not None
    assert (paid.status, paid.charge_id, paid.amount) == (
        ChargeStatus.APPROVED,
        trade.trade_no,
        Money(900),
    )


def test_alipay_refunds_once_per_reference_and_never_beyond_the_charge(edge: Edge) -> None:
    alipay = edge.alipay()
    trade = edge.edge.pay("alipay", "ali-refund", 1000)
    key = refund_key("ali-refund")
    first = alipay.refund(trade.trade_no, Money(300), key)
    again = alipay.refund(trade.trade_no, Money(300), key)
    assert again == first
    assert trade.refunded == 300
    with pytest.raises(PermanentProviderError):
        alipay.refund(trade.trade_no, Money(701), refund_key("ali-refund", "r2"))
    assert trade.refunded == 300


def test_alipay_answers_signed_by_another_key_are_not_believed(edge: Edge) -> None:
    keys = edge.edge.keys.credentials()["alipay"]
    other = AlipayProvider(
        AlipayKeys(keys["app_id"], keys["app_private_key"], keys["app_private_key"]),
        edge.settings,
    )
    with pytest.raises(TransientProviderError, match="signature"):
        other.find_charge("ali-paid", "k")


def test_an_unreachable_alipay_is_a_transient_failure(edge: Edge) -> None:
    down = replace(
        edge.settings, alipay_gateway_url=f"http://127.0.0.1:{free_port()}/alipay/gateway.do"
    )
    keys = edge.edge.keys.credentials()["alipay"]
    alipay = AlipayProvider(AlipayKeys(**keys), down)
    with pytest.raises(TransientProviderError):
        alipay.find_charge("ali-x", "k")


# --- WeChat Pay -------------------------------------------------------------------------------


def test_wechat_pay_native_order_gives_the_same_code_on_a_retry(edge: Edge) -> None:
    wechat = edge.wechat_pay()
    first = wechat.charge("wx-1", Money(990), "", _key("wx-1"), expires_at=DEADLINE)
    again = wechat.charge("wx-1", Money(990), "", _key("wx-1"), expires_at=DEADLINE)
    assert first.status is ChargeStatus.ACTION_REQUIRED
    assert first.next_action is not None
    assert first.next_action.type is NextActionType.QR_CODE
    assert (first.next_action.code_url or "").startswith("weixin://wxpay/bizpayurl?pr=")
    assert again == first
    assert len([t for t in edge.edge.trades if t == ("wechat_pay", "wx-1")]) == 1


def test_wechat_pay_query_and_a_charge_of_a_paid_order(edge: Edge) -> None:
    wechat = edge.wechat_pay()
    assert wechat.find_charge("wx-none", "k") is None
    wechat.charge("wx-2", Money(500), "", _key("wx-2"), expires_at=DEADLINE)
    assert wechat.find_charge("wx-2", "k") is None  # NOTPAY
    trade = edge.edge.pay("wechat_pay", "wx-2", 500)
    paid = wechat.find_charge("wx-2", "k")
    assert paid is not None
    assert paid.charge_id == trade.trade_no
    # Placing the order again once paid: WeChat Pay answers ORDERPAID, the query tells the charge.
    assert wechat.charge("wx-2", Money(500), "", _key("wx-2")) == paid


def test_wechat_pay_refunds_once_per_reference(edge: Edge) -> None:
    wechat = edge.wechat_pay()
    trade = edge.edge.pay("wechat_pay", "wx-refund", 800)
    key = refund_key("wx-refund")
    first = wechat.refund(trade.trade_no, Money(200), key)
    assert wechat.refund(trade.trade_no, Money(200), key) == first
    assert trade.refunded == 200
    with pytest.raises(PermanentProviderError):
        wechat.refund(trade.trade_no, Money(601), refund_key("wx-refund", "r2"))


def test_an_unreachable_wechat_pay_is_a_transient_failure(edge: Edge) -> None:
    wechat: WechatPayProvider = edge.wechat_pay()
    wechat._client._core._gate_way = f"http://127.0.0.1:{free_port()}/wechatpay"
    with pytest.raises(TransientProviderError):
        wechat.charge("wx-down", Money(100), "", _key("wx-down"))
