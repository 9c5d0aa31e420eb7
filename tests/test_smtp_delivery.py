"""Delivery by SMTP against a real server on 127.0.0.1 (aiosmtpd): a draft moves approved ->
sending -> delivered; a refusal, temporary errors, a server down, a server that never answers
and a crash each end where they should, nothing is ever sent twice on its own, the password
shows nowhere, and the audit trail still verifies."""

from __future__ import annotations

import asyncio
import datetime
import email
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from assets.delivery import approved_drafts_sensor
from hub import audit, cli, drafts, smtp
from hub.config import ConfigError, load_config
from hub.delivery import UNKNOWN, deliver_approved
from hub.resource import HubResource
from hub.store import Store

PASSWORD = "Smtp-s3cret-Tail"
USER = "mailer"
SENDER = "onboarding@groundwork.test"


class Recorder:
    """The server's handler: records what it takes, and misbehaves on demand."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message, bool]] = []
        "(recipients, message, over TLS) of every message whose DATA it took."
        self.raw: list[bytes] = []
        "Those messages as they came over the wire."
        self.rcpt_attempts = 0
        self.temporary = 0
        "Answer RCPT with 451 this many more times."
        self.refuse: set[str] = set()
        "Recipients answered with 550."
        self.hang = threading.Event()
        "While set, DATA is taken and never answered."
        self.data_answers: list[str] = []
        "Answers to give the message itself, in turn, before the usual 250."

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        self.rcpt_attempts += 1
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if self.temporary:
            self.temporary -= 1
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        message = email.message_from_bytes(envelope.original_content)
        self.raw.append(envelope.original_content)
        self.messages.append((list(envelope.rcpt_tos), message, session.ssl is not None))
        while self.hang.is_set():
            await asyncio.sleep(0.05)
        if self.data_answers:
            return self.data_answers.pop(0)
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
    if auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode():
        return AuthResult(success=True)
    # a careless server that repeats what it was given: it must not reach our messages
    said = auth_data.password.decode()
    return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad password {said}")


@contextmanager
def smtp_server(port: int | None = None, **options: object) -> Iterator[tuple[Recorder, int]]:
    recorder, port = Recorder(), port or free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield recorder, port
    finally:
        recorder.hang.clear()
        controller.stop()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp, "FIRST_WAIT_SECONDS", 0.01)


@pytest.fixture
def server() -> Iterator[tuple[Recorder, int]]:
    with smtp_server() as running:
        yield running


def project(root: Path, monkeypatch: pytest.MonkeyPatch, smtp_settings: str, n: int = 1):
    """A project whose store holds `n` approved drafts (no demo to build): their ids."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "hub.yaml").write_text(
        f"project: smtp-delivery\ndelivery:\n  sender: {SENDER}\n  smtp: {smtp_settings}\n"
    )
    monkeypatch.setenv("HUB_CONFIG", str(root / "hub.yaml"))
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    config = load_config()
    store = Store.of(config)
    with store.transaction() as con:
        con.execute("CREATE TABLE unified.customer (customer_id VARCHAR, email VARCHAR)")
        for i in range(n):
            con.execute("INSERT INTO unified.customer VALUES (?, ?)", [f"C{i}", address(i)])
    new = [
        drafts.NewDraft(
            draft_id=f"D-{i:010d}",
            subject_id=f"C{i}",
            subject_name=f"Client {i}",
            title=f"Welcome aboard, client {i}",
            body=f"Dear client {i},\n\nYour kick-off is on Monday. Grüße!\n",
            citations={},
            tool_calls=[],
            review_reasons=[],
            prompt="test",
            mode="offline",
            model="offline",
            trace_id="t",
        )
        for i in range(n)
    ]
    drafts.record(store, "onboarding", new, run_id="test")
    for draft in new:
        drafts.approve(store, config, draft.draft_id, by="maria")
    return [d.draft_id for d in new]


def address(i: int) -> str:
    return f"client{i}@example.com"


def plain(port: int, **extra: object) -> str:
    """`delivery.smtp` for the test server, without TLS or login."""
    settings = {"host": "127.0.0.1", "port": port, "starttls": False, "timeout_seconds": 2}
    return json.dumps({**settings, **extra})


def draft_row(draft_id: str) -> dict:
    with Store.of(load_config()).reader() as con:
        return drafts.get(con, draft_id)


def trail(draft_id: str | None = None) -> list[tuple[str, str, dict]]:
    """(actor, action, details) of the audit records, of one draft or all."""
    with Store.of(load_config()).reader() as con:
        rows = con.execute(
            "SELECT actor, action, target, details FROM meta.audit_log ORDER BY seq"
        ).fetchall()
    return [(a, act, json.loads(d)) for a, act, t, d in rows if draft_id in (None, t)]


def verified() -> audit.Verdict:
    store = Store.of(load_config())
    with store.reader() as con:
        return audit.verify(con, store.audit_anchor)


def hub(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str):
    """`hub ARGS` in this process, as the entry point runs it: (exit code, all output)."""
    monkeypatch.setattr(sys, "argv", ["hub", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1 if code else 0), " ".join(
        (out.out + out.err).split()
    )


def test_a_message_arrives_whole_and_the_draft_is_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Recorder, int]
) -> None:
    recorder, port = server
    [draft_id] = project(tmp_path, monkeypatch, plain(port))

    [outcome] = deliver_approved(load_config(), Store.of(load_config()), run_id="r1")

    assert outcome.status == "delivered" and "queued as Q1" in outcome.detail
    [(recipients, message, _)] = recorder.messages
    row = draft_row(draft_id)
    assert recipients == [address(0)] and message["To"] == address(0)
    assert message["From"] == SENDER and message["Subject"] == "Welcome aboard, client 0"
    assert message["X-Groundwork-Draft"] == draft_id
    assert message["X-Groundwork-Content-SHA256"] == row["approved_sha256"]
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert body == "Dear client 0,\n\nYour kick-off is on Monday. Grüße!\n"
    assert b"\n" not in recorder.raw[0].replace(b"\r\n", b"")  # CRLF only, no bare LF
    assert row["status"] == "delivered" and row["delivered_to"] == address(0)
    actions = [(action, details) for _, action, details in trail(draft_id)]
    assert [a for a, _ in actions] == [
        "agent.draft",
        "draft.approve",
        "draft.sending",
        "draft.deliver",
    ]
    assert actions[2][1]["channel"] == f"smtp 127.0.0.1:{port}"
    assert "queued as Q1" in actions[3][1]["reply"] and actions[3][1]["run_id"] == "r1"
    seq = len(trail()) - 1  # the message names its own `draft.sending` record
    assert message["X-Groundwork-Audit-Head"].startswith(f"{seq}:")
    assert verified().ok
    assert deliver_approved(load_config(), Store.of(load_config())) == []  # nothing twice
    assert len(recorder.messages) == 1


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here (the client trusts it by
    `SSL_CERT_FILE`)."""
    x509 = pytest.importorskip("cryptography.x509", reason="cryptography makes the cert")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_starttls_then_login_with_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_file, key_file = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    options = {"tls_context": tls, "require_starttls": True, "authenticator": authenticator}
    with smtp_server(**options) as (recorder, port):
        settings = plain(port, starttls=True, user=USER, password="${SMTP_PASSWORD}")
        [draft_id] = project(tmp_path / "p", monkeypatch, settings)
        config = load_config()

        [outcome] = deliver_approved(config, Store.of(config))

    assert outcome.status == "delivered", outcome.detail
    [(_, message, over_tls)] = recorder.messages
    assert over_tls and message["X-Groundwork-Draft"] == draft_id
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.delivery)
    assert PASSWORD not in json.dumps(trail())


def test_temporary_refusals_are_retried_then_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Recorder, int]
) -> None:
    recorder, port = server
    recorder.temporary = 2
    [draft_id] = project(tmp_path, monkeypatch, plain(port, retries=3))

    [outcome] = deliver_approved(load_config(), Store.of(load_config()))

    assert outcome.status == "delivered"
    assert recorder.rcpt_attempts == 3 and len(recorder.messages) == 1
    [delivered] = [d for _, action, d in trail(draft_id) if action == "draft.deliver"]
    assert delivered["attempts"] == 3
    assert verified().ok


def test_a_refused_recipient_fails_and_the_next_draft_still_goes_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Recorder, int]
) -> None:
    recorder, port = server
    refused, sent = project(tmp_path, monkeypatch, plain(port), n=2)
    recorder.refuse.add(address(0))

    outcomes = {o.draft_id: o for o in deliver_approved(load_config(), Store.of(load_config()))}

    assert recorder.rcpt_attempts == 2  # a 5xx is never retried
    assert outcomes[refused].status == "failed" and "550 5.1.1" in outcomes[refused].detail
    assert address(0) not in outcomes[refused].detail  # the server's words, not the address
    assert draft_row(refused)["status"] == "failed"
    assert "550 5.1.1" in draft_row(refused)["reason"]
    assert outcomes[sent].status == "delivered"
    assert [r for r, _, _ in recorder.messages] == [[address(1)]]
    # once the mailbox exists, a human may send the failed draft again: once
    recorder.refuse.clear()
    assert drafts.resend(Store.of(load_config()), refused, by="maria") == "failed"
    [again] = deliver_approved(load_config(), Store.of(load_config()))
    assert again.status == "delivered" and len(recorder.messages) == 2
    with pytest.raises(drafts.DraftError, match="only a draft left sending"):
        drafts.resend(Store.of(load_config()), refused, by="maria")
    assert verified().ok


def test_the_answer_to_the_message_itself_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Recorder, int]
) -> None:
    """A server that takes the message and then refuses it (found by a real server whose
    mailbox could not be written: smtplib returns that answer instead of raising)."""
    recorder, port = server
    refused, later = project(tmp_path, monkeypatch, plain(port), n=2)
    recorder.data_answers = ["554 5.6.0 message refused", "452 4.3.1 insufficient storage"]

    outcomes = {o.draft_id: o for o in deliver_approved(load_config(), Store.of(load_config()))}

    assert outcomes[refused].status == "failed" and "554 5.6.0" in outcomes[refused].detail
    assert draft_row(refused)["status"] == "failed"
    assert outcomes[later].status == "delivered"  # its 452 was temporary: retried, taken
    assert len(recorder.messages) == 3  # refused, refused for now, taken
    assert verified().ok


def test_a_server_down_leaves_drafts_approved_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens there
    first, second = project(tmp_path, monkeypatch, plain(port, retries=1), n=2)

    outcomes = deliver_approved(load_config(), Store.of(load_config()))

    assert [o.status for o in outcomes] == ["approved", "approved"]
    assert f"127.0.0.1:{port} could not be reached" in outcomes[0].detail
    assert "2 attempts" in outcomes[0].detail and "tries again" in outcomes[0].detail
    assert outcomes[1].detail.startswith("not tried")
    assert draft_row(first)["status"] == draft_row(second)["status"] == "approved"
    assert [a for _, a, _ in trail(first)][-2:] == ["draft.sending", "draft.deliver_deferred"]
    assert verified().ok
    with smtp_server(port) as (recorder, _):  # the server is back: both go out, once
        outcomes = deliver_approved(load_config(), Store.of(load_config()))
    assert [o.status for o in outcomes] == ["delivered", "delivered"]
    assert len(recorder.messages) == 2


def test_no_answer_after_data_is_unknown_until_a_human_resends_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with smtp_server(authenticator=authenticator, auth_require_tls=False) as (recorder, port):
        settings = plain(port, timeout_seconds=1, user=USER, password="${SMTP_PASSWORD}")
        [draft_id] = project(tmp_path, monkeypatch, settings)
        recorder.hang.set()

        code, out = hub(capsys, monkeypatch, "deliver")
        assert code == 1, out
        assert f"draft {draft_id} {UNKNOWN}" in out
        assert f"--resend {draft_id} --by NAME" in out and "Traceback" not in out
        assert draft_row(draft_id)["status"] == "sending" and len(recorder.messages) == 1

        code, out = hub(capsys, monkeypatch, "deliver")  # a later run sends nothing
        assert code == 1 and f"draft {draft_id} {UNKNOWN}" in out, out
        assert len(recorder.messages) == 1 and draft_row(draft_id)["status"] == "sending"

        recorder.hang.clear()  # checked: the server does not have it
        code, again = hub(capsys, monkeypatch, "deliver", "--resend", draft_id, "--by", "maria")
        assert code == 0, again
        assert f"draft {draft_id} delivered" in again
        assert len(recorder.messages) == 2 and draft_row(draft_id)["status"] == "delivered"
        first, second = (m for _, m, _ in recorder.messages)
        assert first["Message-ID"] == second["Message-ID"]  # recognisably the same message

    [(actor, details)] = [(a, d) for a, act, d in trail(draft_id) if act == "draft.resend"]
    assert actor == "human:maria" and details["was"] == "sending"
    assert verified().ok
    dagster = "".join(
        p.read_bytes().decode("utf-8", "replace")
        for p in (tmp_path / ".dagster").rglob("*")
        if p.is_file()
    )
    for text in (out, again, json.dumps(trail()), dagster):
        assert PASSWORD not in text


def test_a_refused_login_is_reported_without_the_password(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with smtp_server(authenticator=authenticator, auth_require_tls=False) as (recorder, port):
        monkeypatch.setenv("WRONG_PASSWORD", "Wr0ng-Pa55word-Tail")
        settings = plain(port, user=USER, password="${WRONG_PASSWORD}")
        [draft_id] = project(tmp_path, monkeypatch, settings)

        code, out = hub(capsys, monkeypatch, "deliver")

    assert code == 1, out
    assert f"draft {draft_id} still approved" in out and "535 5.7.8 bad password ***" in out
    assert "Wr0ng-Pa55word" not in out and not recorder.messages
    assert draft_row(draft_id)["status"] == "approved"
    assert "Wr0ng-Pa55word" not in json.dumps(trail()) + str(draft_row(draft_id)["reason"])
    assert verified().ok


def test_a_crash_while_sending_never_resends_on_its_own(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    server: tuple[Recorder, int],
) -> None:
    recorder, port = server
    [draft_id] = project(tmp_path, monkeypatch, plain(port, timeout_seconds=30))
    recorder.hang.set()
    deliver = (
        "from hub.config import load_config; from hub.delivery import deliver_approved; "
        "from hub.store import Store; c = load_config(); deliver_approved(c, Store.of(c))"
    )
    child = subprocess.Popen([sys.executable, "-c", deliver], env={**os.environ}, cwd=tmp_path)
    deadline = time.monotonic() + 15
    while not recorder.messages and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.kill()  # SIGKILL: no chance to record anything
    child.wait()
    assert len(recorder.messages) == 1
    recorder.hang.clear()

    assert draft_row(draft_id)["status"] == "sending"
    [outcome] = deliver_approved(load_config(), Store.of(load_config()))
    assert outcome.status == "sending" and "this delivery sent nothing" in outcome.detail
    assert len(recorder.messages) == 1
    assert verified().ok
    # the sensor asks for no run for it: only approved drafts start one
    hub_resource = HubResource(config_path=os.environ["HUB_CONFIG"])
    context = dg.build_sensor_context(resources={"hub": hub_resource})
    assert approved_drafts_sensor.evaluate_tick(context).run_requests == []
    # a human found it on the server: delivered on their word, nothing sent
    code, out = hub(capsys, monkeypatch, "deliver", "--arrived", draft_id, "--by", "maria")
    assert code == 0, out
    assert draft_row(draft_id)["status"] == "delivered" and len(recorder.messages) == 1
    assert trail(draft_id)[-1][:2] == ("human:maria", "draft.deliver")
    assert verified().ok


def test_the_smtp_password_comes_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(
        "delivery:\n  smtp: {host: mail.example.com, user: u, password: Literal-Pa55}\n"
    )
    with pytest.raises(ConfigError, match=r"write it as `\$\{SMTP_PASSWORD\}`") as refused:
        load_config(config)
    assert "Literal-Pa55" not in str(refused.value)
    config.write_text("delivery:\n  smtp: {host: mail.example.com, user: u}\n")
    with pytest.raises(ConfigError, match="give both `user` and `password`"):
        load_config(config)
    config.write_text("delivery:\n  smtp: {host: mail.example.com}\n")
    settings = load_config(config).delivery.smtp
    assert (settings.port, settings.starttls, settings.timeout_seconds) == (587, True, 30.0)
