"""Abuse limits: a sliding window per client, with a message that says which limit and when."""

import pytest

from rag import Settings
from rag.errors import RagError
from rag.limits import MB, LimitReached, Limits, SignInThrottle, Window, client_address, client_of, trusted_networks


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sliding_window_per_client():
    clock = Clock()
    window = Window(3, 60, clock)
    assert [window.take("a") for _ in range(3)] == [0, 0, 0]
    clock.now += 20
    assert window.take("a") == pytest.approx(40)  # the first one leaves the window 60 s after it came
    assert window.take("b") == 0  # another client has its own allowance
    clock.now += 40
    assert window.take("a") == 0
    assert window.used("a") == 1  # the three left the window; the refused attempt at +20 s was not counted
    assert Window(0, 60, clock).take("a", 10**9) == 0  # 0: no limit
    assert window.take("a", 4) == float("inf")  # more than the limit itself: never


def test_idle_clients_are_forgotten():
    clock = Clock()
    window = Window(3, 60, clock)
    window.take("a")
    clock.now += 61
    window.take("b")
    window.forget_idle()
    assert set(window._taken) == {"b"}


def test_questions_per_minute_with_a_clear_message():
    clock = Clock()
    limits = Limits(Settings(questions_per_minute=2), clock)
    limits.ask("user alice")
    limits.ask("user alice")
    with pytest.raises(LimitReached) as caught:
        limits.ask("user alice")
    assert str(caught.value) == (
        "Too many questions: at most 2 a minute for each client (RAG_QUESTIONS_PER_MINUTE). Ask again in 60 s."
    )
    limits.ask("user bob")
    clock.now += 60
    limits.ask("user alice")


def test_upload_volume_per_hour_with_a_clear_message():
    clock = Clock()
    limits = Limits(Settings(upload_mb_per_hour=10), clock)
    limits.upload("address 10.0.0.7", 6 * MB)
    with pytest.raises(LimitReached) as caught:
        limits.upload("address 10.0.0.7", 5 * MB)
    assert str(caught.value) == (
        "Upload limit reached: this upload is 5.0 MB, and each client may upload at most 10 MB an hour "
        "(RAG_UPLOAD_MB_PER_HOUR); 4.0 MB are left now. Upload it in 60 min, or upload less."
    )
    limits.upload("address 10.0.0.7", 4 * MB)
    with pytest.raises(LimitReached, match="this upload is 11.0 MB.*10.0 MB are left now[.]$"):
        limits.upload("address 10.0.0.8", 11 * MB)


def test_the_defaults_are_set_and_zero_turns_a_limit_off():
    defaults = Settings()
    assert defaults.questions_per_minute == 30 and defaults.upload_mb_per_hour == 200
    limits = Limits(Settings(questions_per_minute=0, upload_mb_per_hour=0))
    for _ in range(1000):
        limits.ask("session x")
    limits.upload("session x", 10**12)


def test_who_a_client_is():
    assert client_of("alice", "10.0.0.7", "s1") == "user alice"
    assert client_of(None, "10.0.0.7", "s1") == "address 10.0.0.7"
    # from this machine (a local tool, or a reverse proxy that hides the addresses): each session
    assert client_of(None, "127.0.0.1", "s1") == "session s1" != client_of(None, "127.0.0.1", "s2")
    assert client_of(None, "::1", "s1") == "session s1"


def test_behind_a_trusted_proxy_the_client_is_the_address_it_names():
    trusted = trusted_networks(Settings())  # loopback, the default
    assert client_address("127.0.0.1", "203.0.113.9", trusted) == "203.0.113.9"
    # the nearest address that is not a proxy: what the client wrote further left is not believed
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.9", trusted) == "203.0.113.9"
    assert client_address("127.0.0.1", "203.0.113.9, 127.0.0.1", trusted) == "203.0.113.9"
    assert client_address("198.51.100.7", "203.0.113.9", trusted) == "198.51.100.7"  # not a proxy: ignored
    assert client_address("127.0.0.1", None, trusted) == "127.0.0.1"  # a local tool
    assert client_address("127.0.0.1", "not an address", trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", "203.0.113.9", trusted_networks(Settings(trusted_proxies=""))) == "127.0.0.1"
    in_a_network = trusted_networks(Settings(trusted_proxies="10.0.0.0/8, ::1"))
    assert client_address("10.1.2.3", "2001:db8::5", in_a_network) == "2001:db8::5"


def test_a_bad_proxy_setting_is_refused_naming_the_entry():
    from rag.config import resolve

    with pytest.raises(RagError, match="RAG_TRUSTED_PROXIES: 'proxy.local' is not an address or a network"):
        resolve({"RAG_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"})


def test_failed_sign_ins_make_the_name_and_the_address_wait_longer_each_time():
    clock = Clock()
    throttle = SignInThrottle(clock)
    keys = ("user bob", "address 203.0.113.9")
    for _ in range(SignInThrottle.FREE_FAILURES):
        assert throttle.wait(*keys) == 0
        throttle.failed(*keys)
    assert throttle.wait(*keys) == 0  # the free ones cost nothing
    throttle.failed(*keys)
    assert throttle.wait(*keys) == pytest.approx(2)
    assert throttle.wait("user bob") == throttle.wait("address 203.0.113.9") == pytest.approx(2)
    assert throttle.wait("user alice", "address 198.51.100.1") == 0  # others are not held up
    clock.now += 2
    throttle.failed(*keys)
    assert throttle.wait(*keys) == pytest.approx(4)  # doubled
    for _ in range(20):
        clock.now += 1000
        throttle.failed(*keys)
    assert throttle.wait(*keys) == SignInThrottle.LONGEST_WAIT
    assert "try again in 15 min" in throttle.refusal(throttle.wait(*keys))
    throttle.succeeded("user bob")
    assert throttle.wait("user bob") == 0 and throttle.wait("address 203.0.113.9") > 0
    clock.now += SignInThrottle.FORGET_AFTER + 1
    assert throttle.wait(*keys) == 0  # an hour without failures
