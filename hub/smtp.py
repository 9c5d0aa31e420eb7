"""Sending one message to an SMTP server, and saying truthfully what became of it.

There are three outcomes, because once the message is on its way nobody can be sure:
- `sent`: the server answered 250 to the message; it has it (its reply, often with a queue
  id, is kept for the audit trail);
- `refused`: nothing was sent. Either a 5xx reply (to RCPT or DATA: this recipient or message
  is refused for good, `permanent`; to the greeting, STARTTLS, the login or MAIL FROM: the
  server or our settings), or a temporary error (a 4xx reply, no connection) that outlasted
  the retries;
- `unknown`: the connection broke or timed out after the DATA command was sent: the server
  may have the message. The caller must never send it again on its own.

Temporary errors before DATA began are retried with a backoff that doubles (tenacity); a
5xx reply never is, nor anything after DATA began (a 4xx reply to the message is a clear
"not taken" and is retried). Every text this module returns is scrubbed of secrets (the
password) and names the recipient as `<recipient>`, whatever the server wrote.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, replace
from email.utils import parseaddr
from typing import Literal

import tenacity

from hub.config import SMTPConfig
from hub.secrets import scrub

FIRST_WAIT_SECONDS = 1.0
"Wait before the first retry; each further one waits twice as long (at most MAX_WAIT)."
MAX_WAIT_SECONDS = 30.0
ABOUT_THE_MESSAGE = ("RCPT TO", "DATA")
"Steps whose 5xx reply refuses this recipient or message, not the server or our settings."
FIXES = {
    "STARTTLS": "Fix: check delivery.smtp.starttls and the server's certificate (a private CA: "
    "point SSL_CERT_FILE at it)",
    "login": "Fix: check delivery.smtp.user and the password in its environment variable",
    "MAIL FROM": "Fix: check delivery.sender (the server must accept it as the sender)",
}
"What to look at when the server refuses our settings rather than the message."


@dataclass(frozen=True)
class SendResult:
    """What became of one message: what a transport answers (the outbox answers the same)."""

    outcome: Literal["sent", "refused", "unknown"]
    detail: str
    "`sent`: the server's reply (or the file written); otherwise why, in words."
    step: str = ""
    "The step of the conversation it ended at: connect, EHLO, STARTTLS, login, MAIL FROM, ..."
    permanent: bool = False
    "`refused` for good: sending the same message again would be refused again."
    attempts: int = 1

    @property
    def about_the_server(self) -> bool:
        """Refused for a reason every other message would meet too (server down, login)."""
        return (
            self.outcome == "refused" and not self.permanent and self.step not in ABOUT_THE_MESSAGE
        )


class _Temporary(Exception):
    """A 4xx reply or no connection before DATA began: worth another attempt."""

    def __init__(self, why: str, step: str) -> None:
        super().__init__(why)
        self.step = step


def send(settings: SMTPConfig, sender: str, recipient: str, message: bytes) -> SendResult:
    """Send `message` from `sender` to the one `recipient`, retrying temporary errors."""
    attempts = 0
    envelope_sender = parseaddr(sender)[1] or sender
    message = re.sub(rb"\r?\n", b"\r\n", message)  # SMTP ends lines with CRLF, never a bare LF

    def attempt() -> SendResult:
        nonlocal attempts
        attempts += 1
        return _attempt(settings, envelope_sender, recipient, message)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.retries + 1),
        wait=tenacity.wait_exponential(multiplier=FIRST_WAIT_SECONDS, max=MAX_WAIT_SECONDS),
        retry=tenacity.retry_if_exception_type(_Temporary),
        reraise=True,
    )
    try:
        result = retrying(attempt)
    except _Temporary as exc:
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        return SendResult("refused", f"{exc} ({tries})", exc.step, attempts=attempts)
    return replace(result, attempts=attempts)


def _attempt(settings: SMTPConfig, sender: str, recipient: str, message: bytes) -> SendResult:
    """One conversation with the server; raises `_Temporary` when another is worth it."""

    def said(text: object) -> str:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return scrub(" ".join(str(text).split())).replace(recipient, "<recipient>")

    step, server = "connect", settings.server
    smtp: smtplib.SMTP | None = None
    try:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        step = "EHLO"
        smtp.ehlo_or_helo_if_needed()
        if settings.starttls:
            step = "STARTTLS"
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo_or_helo_if_needed()
        if settings.user:
            step = "login"
            smtp.login(settings.user, settings.password or "")
        step = "MAIL FROM"
        eight_bit = not message.isascii() and smtp.has_extn("8bitmime")
        code, reply = smtp.mail(sender, ["BODY=8BITMIME"] if eight_bit else [])
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        step = "RCPT TO"
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            raise smtplib.SMTPResponseException(code, reply)
        step = "DATA"  # from here on the server may end up with the message
        code, reply = smtp.data(message)
        if code != 250:  # smtplib returns the answer to the message itself, even a refusal
            raise smtplib.SMTPResponseException(code, reply)
    except smtplib.SMTPResponseException as exc:  # the server answered, and said no
        _close(smtp)
        answer = f"{exc.smtp_code} {said(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:
            raise _Temporary(f"{server} answered {answer} to {step}", step) from None
        permanent = step in ABOUT_THE_MESSAGE
        whose = "refused the message" if permanent else "refused us"
        why = f"{server} {whose}: {answer} (to {step})"
        fix = "" if permanent else FIXES.get(step, "")
        return SendResult("refused", f"{why}. {fix}" if fix else why, step, permanent)
    except (OSError, smtplib.SMTPException) as exc:  # no answer: refused, reset, timed out
        _close(smtp)
        what = f"{type(exc).__name__}: {said(exc)}" if str(exc) else type(exc).__name__
        if step == "DATA":
            why = f"the connection to {server} ended without an answer to the message ({what})"
            return SendResult("unknown", why, step)
        if isinstance(exc, (ssl.SSLError, smtplib.SMTPNotSupportedError)):
            why = f"{server} failed at {step} ({what})"
            fix = FIXES.get(step, FIXES["STARTTLS"])
            return SendResult("refused", f"{why}. {fix}", step)  # a setting: no retry
        raise _Temporary(f"{server} could not be reached at {step} ({what})", step) from None
    _close(smtp, quit_first=True)
    return SendResult("sent", f"{code} {said(reply)}", step)


def _close(smtp: smtplib.SMTP | None, *, quit_first: bool = False) -> None:
    """Say goodbye when the message went through; either way drop the connection. Nothing
    said here changes the outcome."""
    if smtp is None:
        return
    try:
        if quit_first:
            smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        smtp.close()
